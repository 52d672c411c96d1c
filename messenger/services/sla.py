"""The SLA of conversations, kept by a beat job each minute (the webhook writes none of it).

The response target of a conversation runs while its customer waits for an answer
(`Conversation.waiting_since` is set) and stops when an agent answers: the pause rule is
"the clock runs only while the customer waits for us". The wait's first message starts it;
the first response target applies until an agent first answered (`first_answered_at`), the
next response target afterwards. A closed conversation has no running target.

The kept times live in `ConversationSla`, one narrow row per timed wait. Three set-based
steps, each leaving the rows it wrote outside its own condition, so that a second run
changes nothing; the warning and breach steps mark their rows with one `UPDATE … RETURNING`
each, so that two runs at once tell nobody twice:

1. **Time**: a wait not yet timed (no kept times, or their `started_at` differs from
   `waiting_since`) gets the due and at-risk times of its policy (sla.selectors.PolicyBook),
   in one upsert a batch of 500; an answered or closed one loses them. A policy changed later
   applies to waits that start afterwards.
2. **Warn**: a wait past its at-risk time and not yet due tells the assignee, or the
   department's admins when nobody holds it (sla.services.sla_alerts_send), once.
3. **Breach**: a wait past its due time is marked (`breached_at`: when it fell due) and
   the same people told, unless it fell due over `BREACH_NOTICE_WINDOW` ago (a backlog timed
   late, such as the first run after a policy is added: marked, nobody flooded).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import F, Model, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from helpdesk import signals
from helpdesk.models import Notification, Organization
from messenger import notification_texts
from messenger.models import Conversation, ConversationSla, ConversationState, response_target
from sla.selectors import PolicyBook, policy_book
from sla.services import SlaAlert, sla_alerts_send

BATCH = 500
# A time step that wrote this many kept times analyzes their table before the next steps.
ANALYZE_AFTER = 10_000
BREACH_NOTICE_WINDOW = timedelta(hours=1)
# What timing a wait reads (plain values: a batch reads 500 of them).
TIMING_FIELDS = ("organization_id", "department_id", "channel_id", "state", "waiting_since", "first_answered_at")
# The tickets' kept times (on the ticket's own row: tickets are far fewer).
SLA_FIELDS = ("sla_started_at", "sla_warn_at", "sla_due_at", "sla_warned_at", "sla_breached_at")


@dataclass(frozen=True)
class SweepResult:
    timed: int
    warned: int
    breached: int


def _waiting() -> Q:
    return Q(state=ConversationState.OPEN, waiting_since__isnull=False)


# Compared with a wait's start when no times are kept (no wait starts then).
_NONE_KEPT = datetime(1970, 1, 1, tzinfo=UTC)


def _untimed_waits() -> QuerySet[Conversation]:
    """Waits whose kept times (`ConversationSla`) are missing or another wait's. The kept start
    is read by a correlated subquery of its primary key: a batch (500 conversations by id)
    probes 500 rows, where an EXISTS under OR would be planned as a hash of the whole table at
    every batch."""
    kept_start = Subquery(ConversationSla.objects.filter(pk=OuterRef("pk")).values("started_at"))
    return (
        Conversation.objects.filter(_waiting())
        .alias(kept_start=Coalesce(kept_start, Value(_NONE_KEPT)))
        .exclude(kept_start=F("waiting_since"))
    )


def _times_without_wait() -> QuerySet[ConversationSla]:
    """Kept times whose conversation no longer waits (answered or closed)."""
    return ConversationSla.objects.exclude(conversation__state=ConversationState.OPEN) | ConversationSla.objects.filter(
        conversation__waiting_since__isnull=True
    )


def _running() -> Q:
    """Open waits whose kept times are their own."""
    return _waiting() & Q(sla__started_at=F("waiting_since"))


# A batch's answer: how many rows it changed, and the id to go on after (None: the last batch).
Step = Callable[[int], tuple[int, int | None]]


def _repeat(step: Step) -> int:
    """Runs a step over its rows in batches by id (a keyset: a run reads each row once,
    whatever it wrote before)."""
    total, after = 0, 0
    while True:
        count, next_after = step(after)
        total += count
        if next_after is None:
            return total
        after = next_after


def conversations_sla_sweep(*, now: datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    # A race with a new wait is harmless: a wait without kept times is timed by the next step.
    cleared, _ = _times_without_wait().delete()
    books = _Books()
    timed = _repeat(lambda after: _time_batch(after, books=books))
    if timed >= ANALYZE_AFTER and connection.vendor == "postgresql":
        # As after any bulk load: the next steps are planned from the table's new statistics,
        # not from those of a table a hundred times smaller.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(ConversationSla._meta.db_table)}")
    return SweepResult(timed=cleared + timed, warned=_warn(now), breached=_breach(now))


class _Books(dict[int, PolicyBook]):
    """Each organization's policies and business hours, read once a run (with its walks of
    the hours, sla.clocks.Timeline, which serve every batch)."""

    def read(self, organization_ids: set[int]) -> None:
        for organization in Organization.objects.filter(pk__in=organization_ids - self.keys()):
            self[organization.pk] = policy_book(organizations=[organization])


def _time_batch(after: int, *, books: _Books) -> tuple[int, int | None]:
    # No lock: timing is idempotent (two runs at once write the same times), and a wait that
    # changes meanwhile is left with another wait's times, which the next run sees as stale.
    rows = list(_untimed_waits().filter(pk__gt=after).order_by("pk").values_list("pk", *TIMING_FIELDS)[:BATCH])
    if not rows:
        return 0, None
    books.read({row[1] for row in rows})
    timed: list[KeptTimes] = []
    for pk, organization_id, department_id, channel_id, _state, waiting_since, first_answered_at in rows:
        target = response_target(first_answered_at=first_answered_at)
        times = books[organization_id].times(
            department_id=department_id, channel_id=channel_id, target=target, start=waiting_since
        )
        timed.append((pk, waiting_since, times.warn_at, times.due_at))
    _conversation_times_write(timed)
    return len(rows), rows[-1][0] if len(rows) == BATCH else None


# A wait's kept times: the conversation's id, when the wait started, at risk from, due at.
KeptTimes = tuple[int, datetime, datetime | None, datetime | None]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(moment: datetime | None) -> str:
    """A time as whole microseconds since 1970 (exact, unlike a float), "" for None."""
    return "" if moment is None else str((moment - _EPOCH) // _MICROSECOND)


def _conversation_times_write(rows: list[KeptTimes]) -> None:
    """The waits' kept times, warned and breached cleared, in one statement (an upsert)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        ConversationSla.objects.bulk_create(
            [
                ConversationSla(conversation_id=pk, started_at=started_at, warn_at=warn_at, due_at=due_at)
                for pk, started_at, warn_at, due_at in rows
            ],
            update_conflicts=True,
            unique_fields=["conversation"],
            update_fields=["started_at", "warn_at", "due_at", "warned_at", "breached_at"],
        )
        return
    table = connection.ops.quote_name(ConversationSla._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        # Times worked out again by the next run if a crash lost them: the batch's commit need
        # not wait for its WAL to reach the disk (most of a batch's time on a slow disk).
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        _kept_times_upsert(cursor, table, rows)


def _kept_times_upsert(cursor: Any, table: str, rows: list[KeptTimes]) -> None:
    # Four lists of integers, each sent as one comma-separated text (times as microseconds
    # since 1970): a VALUES list of 2,000 parameters costs more to send and plan than to write,
    # and psycopg2 adapts a list of datetimes (or of ISO texts) item by item, slowly.
    ids = ",".join(str(pk) for pk, _started_at, _warn_at, _due_at in rows)
    started = ",".join(_micros(started_at) for _pk, started_at, _warn_at, _due_at in rows)
    warn = ",".join(_micros(warn_at) for _pk, _started_at, warn_at, _due_at in rows)
    due = ",".join(_micros(due_at) for _pk, _started_at, _warn_at, due_at in rows)
    at = "TIMESTAMPTZ 'epoch' + {} * INTERVAL '1 microsecond'"
    # The table's name is the model's and every value a parameter.
    statement = (
        f"INSERT INTO {table} (conversation_id, started_at, warn_at, due_at, warned_at, breached_at) "  # noqa: S608
        f"SELECT id, {at.format('started_at')}, {at.format('warn_at')}, {at.format('due_at')}, NULL, NULL "
        "FROM unnest(string_to_array(%s, ',')::bigint[], string_to_array(%s, ',')::bigint[], "
        "string_to_array(%s, ',', '')::bigint[], string_to_array(%s, ',', '')::bigint[]"
        ") AS kept (id, started_at, warn_at, due_at) "
        "ON CONFLICT (conversation_id) DO UPDATE SET started_at = EXCLUDED.started_at, warn_at = EXCLUDED.warn_at, "
        "due_at = EXCLUDED.due_at, warned_at = NULL, breached_at = NULL"
    )
    cursor.execute(statement, [ids, started, warn, due])


def sla_times_write(model: type[Model], rows: Sequence[Any]) -> None:
    """A batch's kept times (started, at risk, due; warned and breached cleared) in one
    statement. On PostgreSQL an UPDATE from a VALUES list: Django's bulk_update builds a CASE
    per field and row, which costs ~4 ms a row to build and plan. The values are the same
    either way (worked out by the caller); only the statement differs (tickets)."""
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(rows, SLA_FIELDS)
        return
    table = connection.ops.quote_name(model._meta.db_table)
    values = ", ".join(["(%s::bigint, %s::timestamptz, %s::timestamptz, %s::timestamptz)"] * len(rows))
    parameters: list[Any] = []
    for row in rows:
        parameters += [row.pk, row.sla_started_at, row.sla_warn_at, row.sla_due_at]
    # The table's name is the model's and every value a parameter.
    statement = (
        f"UPDATE {table} AS timed SET sla_started_at = kept.started_at, sla_warn_at = kept.warn_at, "  # noqa: S608
        "sla_due_at = kept.due_at, sla_warned_at = NULL, sla_breached_at = NULL "
        f"FROM (VALUES {values}) AS kept (id, started_at, warn_at, due_at) WHERE timed.id = kept.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, parameters)


def sla_breaches_mark(rows: QuerySet[Any], *, now: datetime) -> None:
    """Mark these rows breached when they fell due, and warned (now) unless they were: one
    UPDATE from the rows' own columns (bulk_update's CASE per row costs ~1 ms a row)."""
    rows.update(sla_breached_at=F("sla_due_at"), sla_warned_at=Coalesce(F("sla_warned_at"), Value(now)))


def _alert(row: Conversation, *, kind: str) -> SlaAlert:
    kept = row.sla
    assert kept.due_at is not None
    return SlaAlert(
        kind=kind,
        target=row.sla_target,
        department_id=row.department_id,
        assignee_id=row.assignee_id,
        params=notification_texts.sla_params(contact=row.contact, due_at=kept.due_at),
        url=reverse("messenger:conversation", kwargs={"org_slug": row.organization.slug, "conversation_id": row.pk}),
        subject_key=f"conversation:{row.pk}:{kept.started_at.isoformat()}",
    )


def _send(alerts: list[tuple[Organization, SlaAlert]]) -> None:
    by_organization: dict[int, list[SlaAlert]] = defaultdict(list)
    organizations: dict[int, Organization] = {}
    for organization, alert in alerts:
        by_organization[organization.pk].append(alert)
        organizations[organization.pk] = organization
    for organization_id, organization_alerts in by_organization.items():
        sla_alerts_send(organization=organizations[organization_id], alerts=organization_alerts)


# The kept times of running waits that reach a time, marked by one UPDATE … RETURNING: a row
# is marked by one run only (a run at once waits for the row, then finds it marked), and only
# the rows it marked are told of. PostgreSQL, and SQLite from 3.35 (whose RETURNING reads only
# the table it updates, and subqueries: the organization comes through one).
_MARK_SQL = """
UPDATE {kept} SET {assignments}
FROM {conversation} AS c
WHERE c.id = {kept}.conversation_id AND c.state = %s AND c.waiting_since = {kept}.started_at AND {condition}
RETURNING {kept}.conversation_id,
    (SELECT organization_id FROM {conversation} WHERE id = {kept}.conversation_id), {kept}.due_at
"""


def _mark(
    *, assignments: tuple[str, list[Any]], condition: tuple[str, list[Any]]
) -> list[tuple[int, int, datetime | None]]:
    """Sets ``assignments`` on the kept times of running waits that match ``condition`` (each
    SQL with its parameters); answers the rows marked: conversation, organization, due time."""
    kept = connection.ops.quote_name(ConversationSla._meta.db_table)
    statement = _MARK_SQL.format(
        kept=kept,
        conversation=connection.ops.quote_name(Conversation._meta.db_table),
        assignments=assignments[0],
        condition=condition[0].format(kept=kept),
    )
    # Times as the database keeps them (SQLite compares text).
    params = [
        connection.ops.adapt_datetimefield_value(value) if isinstance(value, datetime) else value
        for value in [*assignments[1], ConversationState.OPEN.value, *condition[1]]
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    return [(pk, organization_id, _aware(due_at)) for pk, organization_id, due_at in rows]


def _aware(moment: Any) -> datetime | None:
    """A time as a raw cursor answers it, as the ORM would read it: SQLite keeps UTC as text
    (or a naive time)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment is not None and timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return cast("datetime | None", moment)


def _alerted(ids: list[int]) -> Iterator[Conversation]:
    """These conversations with what their alerts show, by batches."""
    for start in range(0, len(ids), BATCH):
        yield from Conversation.objects.filter(pk__in=ids[start : start + BATCH]).select_related(
            "organization", "contact", "sla"
        )


@transaction.atomic
def _warn(now: datetime) -> int:
    marked = _mark(
        assignments=("warned_at = %s", [now]),
        condition=("{kept}.warned_at IS NULL AND {kept}.warn_at <= %s AND {kept}.due_at > %s", [now, now]),
    )
    alerted = _alerted([pk for pk, _organization_id, _due_at in marked])
    _send([(row.organization, _alert(row, kind=Notification.Kind.SLA_AT_RISK)) for row in alerted])
    return len(marked)


@transaction.atomic
def _breach(now: datetime) -> int:
    marked = _mark(
        # When it fell due; warned too (now) unless it was.
        assignments=("breached_at = due_at, warned_at = COALESCE(warned_at, %s)", [now]),
        condition=("{kept}.breached_at IS NULL AND {kept}.due_at <= %s", [now]),
    )
    signals.domain_events_send_each(
        type=signals.SLA_BREACHED,
        resource=signals.CONVERSATION,
        rows=((organization_id, pk, pk) for pk, organization_id, _due_at in marked),
    )
    # Told only of what fell due lately (a backlog timed late is marked, nobody flooded).
    recent = [pk for pk, _organization_id, due in marked if due is not None and due > now - BREACH_NOTICE_WINDOW]
    _send([(row.organization, _alert(row, kind=Notification.Kind.SLA_BREACHED)) for row in _alerted(recent)])
    return len(marked)
