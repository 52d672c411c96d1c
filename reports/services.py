"""The reports' facts job: one set-based pass that brings ``ConversationFact`` up to date.

Which conversations changed is found by comparing each conversation with its facts (its last
message, holder, channel, department, and its tickets' latest change): one scan. Those are
then recomputed in batches, writing a row only when a fact differs, so a second run over the
same data changes nothing and a run cut short is finished by the next one. The webhook path is
untouched: it writes nothing here.

Two ways to the same rows, one per database. On PostgreSQL the scan is one query and each batch
one INSERT … SELECT … ON CONFLICT DO UPDATE (LATERAL joins, arrays: ``facts_in_sql``). On any
other database (the embedded SQLite defaults, small by nature) the scan reads the conversations,
their facts and tickets in three queries and compares them here, and each batch reads its
messages, tickets and resolutions in a fixed number of queries, computes the facts here and
writes the changed ones with one bulk upsert. What a fact means is the model's docstring; what
counts as an answer is ``HUMAN_REPLY``; tests/reports/test_paths_agree.py runs both ways on the
same conversations. The SLA figures (``_sla_facts_refresh``) are computed in Python on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Min, Q, QuerySet
from django.utils import timezone

from helpdesk.models import Organization
from messenger.models import Conversation, Direction, Message, MessageSource, MessageStatus
from reports.models import ConversationFact, FactsWatermark
from sla import clocks
from sla.models import SlaClock, SlaTarget
from sla.selectors import PolicyBook, policy_book
from tickets.models import Ticket, TicketEvent, TicketState

BATCH_SIZE = 5_000
# Elsewhere than on PostgreSQL a batch is named in IN lists, and SQLite builds older than 3.32
# take 999 parameters a statement.
BATCH_SIZE_IN_PYTHON = 500

# A reply counts as an answer when a human wrote it (in the helpdesk or in Facebook's own
# inbox) and it was not refused; the product's automatic replies answer nobody.
HUMAN_SOURCES = (MessageSource.AGENT.value, MessageSource.EXTERNAL.value)
NOT_SENT = (MessageStatus.FAILED.value, MessageStatus.QUEUED.value, MessageStatus.SENDING.value)
HUMAN_REPLY = Q(direction=Direction.OUTBOUND, source__in=HUMAN_SOURCES) & ~Q(status__in=NOT_SENT)

_CONVERSATION = Conversation._meta.db_table
_MESSAGE = Message._meta.db_table
_TICKET = Ticket._meta.db_table
_TICKET_EVENT = TicketEvent._meta.db_table
_FACT = ConversationFact._meta.db_table

_CHANGED_SQL = f"""
WITH ticket_changes AS (
    -- The first ticket's resolution due time too: the tickets' SLA sweep sets it without
    -- touching updated_at.
    SELECT conversation_id, max(updated_at) AS updated_at,
        (array_agg(sla_due_at ORDER BY created_at, id))[1] AS sla_due_at
    FROM {_TICKET} {{ticket_scope}} GROUP BY conversation_id
)
SELECT c.id FROM {_CONVERSATION} c
LEFT JOIN {_FACT} f ON f.conversation_id = c.id
LEFT JOIN ticket_changes t ON t.conversation_id = c.id
WHERE c.last_inbound_at IS NOT NULL {{conversation_scope}} AND (
    f.conversation_id IS NULL
    OR f.source_last_message_at IS DISTINCT FROM c.last_message_at
    OR f.assignee_id IS DISTINCT FROM c.assignee_id
    OR f.channel_id <> c.channel_id
    OR f.department_id <> c.department_id
    OR f.source_tickets_updated_at IS DISTINCT FROM t.updated_at
    OR f.resolution_due_at IS DISTINCT FROM t.sla_due_at
)
ORDER BY c.id
"""  # noqa: S608 (table names from the models, figures from REPORTS)

_FACT_COLUMNS = (
    "organization_id",
    "channel_id",
    "department_id",
    "assignee_id",
    "received_at",
    "first_response_at",
    "first_responder_id",
    "unanswered_since",
    "resolved_at",
    "source_last_message_at",
    "source_tickets_updated_at",
)

_UPSERT_SQL = f"""
INSERT INTO {_FACT} (conversation_id, {", ".join(_FACT_COLUMNS)}, refreshed_at)
SELECT
    c.id, c.organization_id, c.channel_id, c.department_id, c.assignee_id,
    first_in.sent_at, first_reply.sent_at, first_reply.author_id,
    CASE WHEN last_reply.found IS NULL THEN c.last_inbound_at END,
    resolution.resolved_at, c.last_message_at, ticket_change.updated_at, %(now)s
FROM {_CONVERSATION} c
CROSS JOIN LATERAL (
    SELECT m.sent_at FROM {_MESSAGE} m
    WHERE m.conversation_id = c.id AND m.direction = %(inbound)s ORDER BY m.sent_at LIMIT 1
) first_in
LEFT JOIN LATERAL (
    SELECT m.sent_at, m.author_id FROM {_MESSAGE} m
    WHERE m.conversation_id = c.id AND m.direction = %(outbound)s AND m.source = ANY(%(human)s)
      AND NOT (m.status = ANY(%(not_sent)s)) AND m.sent_at >= first_in.sent_at
    ORDER BY m.sent_at LIMIT 1
) first_reply ON true
LEFT JOIN LATERAL (
    SELECT true AS found FROM {_MESSAGE} m
    WHERE m.conversation_id = c.id AND m.direction = %(outbound)s AND m.source = ANY(%(human)s)
      AND NOT (m.status = ANY(%(not_sent)s)) AND m.sent_at >= c.last_inbound_at
    LIMIT 1
) last_reply ON true
LEFT JOIN LATERAL (
    SELECT max(t.updated_at) AS updated_at FROM {_TICKET} t WHERE t.conversation_id = c.id
) ticket_change ON true
LEFT JOIN LATERAL (
    SELECT min(e.created_at) AS resolved_at FROM {_TICKET} t JOIN {_TICKET_EVENT} e ON e.ticket_id = t.id
    WHERE t.conversation_id = c.id AND e.kind = %(state_changed)s AND e.data ->> 'to' = %(resolved)s
) resolution ON true
WHERE c.id = ANY(%(ids)s)
ON CONFLICT (conversation_id) DO UPDATE SET
    {", ".join(f"{column} = EXCLUDED.{column}" for column in _FACT_COLUMNS)},
    refreshed_at = EXCLUDED.refreshed_at
WHERE ({", ".join(f"{_FACT}.{column}" for column in _FACT_COLUMNS)})
    IS DISTINCT FROM ({", ".join(f"EXCLUDED.{column}" for column in _FACT_COLUMNS)})
"""  # noqa: S608 (table names from the models, figures from REPORTS)


def facts_in_sql() -> bool:
    """PostgreSQL finds and writes the facts in SQL; the other databases (SQLite) in Python."""
    return connection.vendor == "postgresql"


def changed_conversation_ids(*, organization: Organization | None = None) -> list[int]:
    """The conversations whose facts are missing or out of date (one query on PostgreSQL,
    three elsewhere)."""
    if not facts_in_sql():
        return _changed_conversation_ids_in_python(organization=organization)
    params: list[int] = []
    ticket_scope = conversation_scope = ""
    if organization is not None:
        ticket_scope, conversation_scope = "WHERE organization_id = %s", "AND c.organization_id = %s"
        params = [organization.pk, organization.pk]
    with connection.cursor() as cursor:
        cursor.execute(_CHANGED_SQL.format(ticket_scope=ticket_scope, conversation_scope=conversation_scope), params)
        return [row[0] for row in cursor.fetchall()]


def facts_refresh(
    *, organization: Organization | None = None, now: datetime | None = None, batch_size: int | None = None
) -> int:
    """Brings the facts of every changed conversation (of one organization, or all) up to
    date; answers how many rows were written. Safe to run twice, and at once with itself
    (the upsert settles a race; the later writer's facts are as fresh)."""
    now = now or timezone.now()
    in_sql = facts_in_sql()
    batch_size = batch_size or (BATCH_SIZE if in_sql else BATCH_SIZE_IN_PYTHON)
    ids = changed_conversation_ids(organization=organization)
    written = 0
    params: dict[str, Any] = {
        "now": now,
        "inbound": Direction.INBOUND.value,
        "outbound": Direction.OUTBOUND.value,
        "human": list(HUMAN_SOURCES),
        "not_sent": list(NOT_SENT),
        "state_changed": TicketEvent.Kind.STATE_CHANGED.value,
        "resolved": TicketState.RESOLVED.value,
    }
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        with transaction.atomic():
            if in_sql:
                with connection.cursor() as cursor:
                    cursor.execute(_UPSERT_SQL, {**params, "ids": batch})
                    written += cursor.rowcount
            else:
                written += _facts_upsert_in_python(batch, now=now)
            _sla_facts_refresh(batch, in_sql=in_sql)
    if organization is None:
        FactsWatermark.objects.update_or_create(pk=1, defaults={"refreshed_at": now})
    return written


# --- The same facts elsewhere than on PostgreSQL -------------------------------------------


def _ticket_changes(tickets: QuerySet[Ticket]) -> dict[int, tuple[datetime, datetime | None]]:
    """Per conversation, its tickets' latest change and its first ticket's resolution due time
    (what the scan compares, as _CHANGED_SQL's ticket_changes)."""
    changes: dict[int, tuple[datetime, datetime | None]] = {}
    for conversation_id, updated_at, due_at in tickets.order_by("conversation_id", "created_at", "pk").values_list(
        "conversation_id", "updated_at", "sla_due_at"
    ):
        latest, first_due = changes.get(conversation_id, (updated_at, due_at))
        changes[conversation_id] = (max(latest, updated_at), first_due)
    return changes


def _changed_conversation_ids_in_python(*, organization: Organization | None) -> list[int]:
    conversations = Conversation.objects.filter(last_inbound_at__isnull=False)
    facts = ConversationFact.objects.all()
    tickets = Ticket.objects.all()
    if organization is not None:
        conversations = conversations.filter(organization=organization)
        facts = facts.filter(organization=organization)
        tickets = tickets.filter(organization=organization)
    kept = {
        row[0]: row[1:]
        for row in facts.values_list(
            "conversation_id",
            "source_last_message_at",
            "assignee_id",
            "channel_id",
            "department_id",
            "source_tickets_updated_at",
            "resolution_due_at",
        )
    }
    changes = _ticket_changes(tickets)
    return sorted(
        conversation_id
        for conversation_id, *source in conversations.values_list(
            "pk", "last_message_at", "assignee_id", "channel_id", "department_id"
        )
        if kept.get(conversation_id) != (*source, *changes.get(conversation_id, (None, None)))
    )


def _facts_upsert_in_python(ids: list[int], *, now: datetime) -> int:
    """The batch's facts as _UPSERT_SQL computes them, from five reads (the conversations, their
    customers' messages and human replies in order, their tickets, the tickets' first
    resolutions, the facts kept), and one upsert of the rows that differ; answers how many."""
    messages: dict[int, list[tuple[str, datetime, int | None]]] = {}
    for conversation_id, direction, sent_at, author_id in (
        Message.objects.filter(conversation_id__in=ids)
        .filter(Q(direction=Direction.INBOUND) | HUMAN_REPLY)
        .order_by("conversation_id", "sent_at", "pk")
        .values_list("conversation_id", "direction", "sent_at", "author_id")
    ):
        messages.setdefault(conversation_id, []).append((direction, sent_at, author_id))
    changes = _ticket_changes(Ticket.objects.filter(conversation_id__in=ids))
    resolutions = dict(
        TicketEvent.objects.filter(
            ticket__conversation_id__in=ids, kind=TicketEvent.Kind.STATE_CHANGED, data__to=TicketState.RESOLVED.value
        )
        .values_list("ticket__conversation_id")
        .annotate(resolved_at=Min("created_at"))
        .order_by()
    )
    kept = {row[0]: row[1:] for row in ConversationFact.objects.filter(pk__in=ids).values_list("pk", *_FACT_COLUMNS)}
    rows = []
    for (
        conversation_id,
        organization_id,
        channel_id,
        department_id,
        assignee_id,
        last_inbound_at,
        last_message_at,
    ) in Conversation.objects.filter(pk__in=ids).values_list(
        "pk", "organization_id", "channel_id", "department_id", "assignee_id", "last_inbound_at", "last_message_at"
    ):
        written = messages.get(conversation_id, [])
        received_at = next((at for direction, at, _ in written if direction == Direction.INBOUND), None)
        if received_at is None:
            continue  # a conversation the customer never wrote in has no facts
        replies = [(at, author_id) for direction, at, author_id in written if direction == Direction.OUTBOUND]
        first_response_at, first_responder_id = next(
            ((at, by) for at, by in replies if at >= received_at), (None, None)
        )
        answered_last = last_inbound_at is not None and any(at >= last_inbound_at for at, _ in replies)
        values = (
            organization_id,
            channel_id,
            department_id,
            assignee_id,
            received_at,
            first_response_at,
            first_responder_id,
            None if answered_last else last_inbound_at,
            resolutions.get(conversation_id),
            last_message_at,
            changes.get(conversation_id, (None, None))[0],
        )
        if kept.get(conversation_id) != values:
            rows.append(
                ConversationFact(
                    conversation_id=conversation_id,
                    **dict(zip(_FACT_COLUMNS, values, strict=True)),
                    refreshed_at=now,
                    next_response_met=0,
                    next_response_breached=0,
                )
            )
    ConversationFact.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["conversation"],
        update_fields=[ConversationFact._meta.get_field(column).name for column in (*_FACT_COLUMNS, "refreshed_at")],
    )
    return len(rows)


_SLA_FIELDS = (
    "first_response_seconds",
    "resolution_seconds",
    "first_response_due_at",
    "resolution_due_at",
    "next_response_met",
    "next_response_breached",
    "next_response_due_at",
)


_SLA_TYPES = ("float8", "float8", "timestamptz", "timestamptz", "int", "int", "timestamptz")
_SLA_UPDATE_SQL = f"""
UPDATE {_FACT} f SET {", ".join(f"{name} = v.{name}" for name in _SLA_FIELDS)}
FROM unnest(%s::bigint[], {", ".join(f"%s::{kind}[]" for kind in _SLA_TYPES)})
    AS v(conversation_id, {", ".join(_SLA_FIELDS)})
WHERE f.conversation_id = v.conversation_id
"""  # noqa: S608 (table and column names from the model)


@dataclass
class _NextResponses:
    met: int = 0
    breached: int = 0
    running_due_at: datetime | None = None


def _next_responses(
    fact: ConversationFact, messages: list[tuple[str, datetime]], *, book: PolicyBook
) -> _NextResponses:
    """Each wait after the first human reply (from the customer's oldest message nobody
    answered yet to the next human reply) against the next response target from its start."""
    found = _NextResponses()
    answered = False
    wait_start: datetime | None = None

    def due(start: datetime) -> datetime | None:
        return book.times(
            department_id=fact.department_id, channel_id=fact.channel_id, target=SlaTarget.NEXT_RESPONSE, start=start
        ).due_at

    for direction, at in messages:
        if direction == Direction.INBOUND:
            if answered and wait_start is None:
                wait_start = at
        elif at >= fact.received_at:
            if answered and wait_start is not None:
                due_at = due(wait_start)
                if due_at is not None:
                    if at <= due_at:
                        found.met += 1
                    else:
                        found.breached += 1
                wait_start = None
            answered = True
    if wait_start is not None:
        found.running_due_at = due(wait_start)
    return found


def _sla_facts_refresh(ids: list[int], *, in_sql: bool) -> int:
    """The batch's times in the clock of their SLA policy and their targets' due times: the
    policies and business hours read once for the batch (sla.selectors.policy_book), the first
    response target from the customer's first message (sla.clocks), the resolution target as
    the tickets' SLA sweep kept it on the conversation's first ticket. Writes only the rows
    whose figures differ; answers how many."""
    facts = list(ConversationFact.objects.filter(pk__in=ids).order_by("pk"))
    if not facts:
        return 0
    book = policy_book(organizations=Organization.objects.filter(pk__in={fact.organization_id for fact in facts}))
    resolution_due: dict[int, datetime | None] = {}
    for conversation_id, due_at in (
        Ticket.objects.filter(conversation_id__in=ids)
        .order_by("conversation_id", "created_at", "pk")
        .values_list("conversation_id", "sla_due_at")
    ):
        resolution_due.setdefault(conversation_id, due_at)
    # The customers' messages and the human replies sent, in order (only where a policy has a
    # next response target: the others need none of them).
    with_target = [
        fact.pk
        for fact in facts
        if (policy := book.policy(department_id=fact.department_id, channel_id=fact.channel_id)) is not None
        and policy.next_response_minutes
    ]
    messages: dict[int, list[tuple[str, datetime]]] = {}
    if with_target:
        for conversation_id, direction, sent_at in (
            Message.objects.filter(conversation_id__in=with_target)
            .filter(Q(direction=Direction.INBOUND) | HUMAN_REPLY)
            .order_by("conversation_id", "sent_at", "pk")
            .values_list("conversation_id", "direction", "sent_at")
        ):
            messages.setdefault(conversation_id, []).append((direction, sent_at))
    changed = []
    for fact in facts:
        figures = _sla_figures(fact, book=book, resolution_due_at=resolution_due.get(fact.pk))
        next_responses = _next_responses(fact, messages.get(fact.pk, []), book=book)
        figures.update(
            next_response_met=next_responses.met,
            next_response_breached=next_responses.breached,
            next_response_due_at=next_responses.running_due_at,
        )
        if any(getattr(fact, name) != value for name, value in figures.items()):
            for name, value in figures.items():
                setattr(fact, name, value)
            changed.append(fact)
    if changed and not in_sql:
        ConversationFact.objects.bulk_update(changed, _SLA_FIELDS)
    elif changed:
        # One UPDATE … FROM unnest(arrays): bulk_update's CASE per row grows with the batch squared.
        with connection.cursor() as cursor:
            cursor.execute(
                _SLA_UPDATE_SQL,
                [[fact.pk for fact in changed], *([getattr(fact, name) for fact in changed] for name in _SLA_FIELDS)],
            )
    return len(changed)


def _sla_figures(fact: ConversationFact, *, book: PolicyBook, resolution_due_at: datetime | None) -> dict[str, Any]:
    policy = book.policy(department_id=fact.department_id, channel_id=fact.channel_id)
    schedule = None
    if policy is not None and policy.clock == SlaClock.BUSINESS_HOURS:
        schedule = book.schedules.get(fact.department_id)

    def seconds(end: datetime | None) -> float | None:
        if end is None:
            return None
        return round(clocks.minutes_between(start=fact.received_at, end=end, schedule=schedule) * 60, 3)

    first_response = book.times(
        department_id=fact.department_id,
        channel_id=fact.channel_id,
        target=SlaTarget.FIRST_RESPONSE,
        start=fact.received_at,
    )
    return {
        "first_response_seconds": seconds(fact.first_response_at),
        "resolution_seconds": seconds(fact.resolved_at),
        "first_response_due_at": first_response.due_at,
        "resolution_due_at": resolution_due_at,
    }
