"""Writes of the tickets app: chat → ticket conversion (by hand and by the idle sweep), and
ticket changes (state machine, priority, assignee, subject), each recorded as a ticket event.

Conversion is set-based: for a batch of conversations it reads their uncovered messages in
one query and writes the tickets and their `converted` events in a few multi-row INSERTs;
the new tickets move the conversations' high-water marks. Callers hold the conversations'
row locks. A conversation with an active ticket is never converted: its new messages belong
to that ticket (tickets.models).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Count, Exists, F, Max, Min, Model, OuterRef, Q, QuerySet, Subquery, TextField, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from channels import selectors as channel_selectors
from channels import visibility
from channels.models import TICKET_DELAY_DEFAULT_MINUTES
from helpdesk import signals
from helpdesk.exceptions import InvalidInput, InvalidTransition, NotFound, NothingToConvert, TicketAlreadyOpen
from helpdesk.models import Membership, Organization
from helpdesk.names import name_parts
from helpdesk.signals import FINISHED_TICKET_RESOLVED, conversation_finished_send
from labels import links as label_links
from labels.models import Label
from live.publish import ticket_publish
from messenger.conversation_changes import STATE, conversation_rows_told
from messenger.models import Conversation, ConversationEvent, Direction, Message
from messenger.selectors import conversations as conversation_selectors
from messenger.selectors import visibility as visibility_selectors
from messenger.services.sending import replies
from tickets import selectors, transcript
from tickets.changes import (
    TICKET_ASSIGNMENT,
    TICKET_CREATED,
    TICKET_DETAILS,
    TICKET_LABELS,
    TICKET_REPLY,
    TICKET_STATE,
    TicketRef,
    tickets_told,
)
from tickets.models import (
    ACTIVE_STATES,
    SUBJECT_MAX_LENGTH,
    TICKET_TRANSITIONS,
    Ticket,
    TicketEvent,
    TicketLabel,
    TicketOrigin,
    TicketPriority,
    TicketState,
)

logger = logging.getLogger(__name__)

SWEEP_BATCH_SIZE = 1000
# A worker of the sweep takes this many batches' worth of conversation ids at a time.
SWEEP_RANGE_BATCHES = 10
# The sweep looks back this far for idle chats. Older uncovered messages (history from before
# tickets existed, or a sweep stopped for a month) are left alone rather than turned into a
# flood of stale tickets; it also keeps the every-minute query from growing with all history.
SWEEP_LOOKBACK = timedelta(days=30)

_UNSET: Any = object()


# --- Conversion ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Chat:
    conversation: Mapping[str, Any]
    time_zone_and_language: tuple[str, str]
    messages: list[dict[str, Any]]  # visible messages, by id, the first from the customer
    follow_up_of_id: int | None  # the conversation's previous ticket


def _mark_of_message_conversation() -> Coalesce:
    """The high-water mark of a message's conversation: the last message of its latest ticket
    (0 when never converted). A correlated subquery, one index probe per row, where a join
    invites the planner to merge-join the whole tickets table on every batch."""
    return Coalesce(
        Subquery(
            Ticket.objects.filter(conversation_id=OuterRef("conversation_id"))
            .order_by("-last_message_id")
            .values("last_message_id")[:1]
        ),
        Value(0),
    )


# What a conversion needs to know of each conversation, read by the query that locks it.
_CONVERSATION_FIELDS = (
    "id",
    "organization_id",
    "department_id",
    "channel_id",
    "contact_id",
    "assignee_id",
)


def _locked(conversations: QuerySet[Conversation]) -> list[dict[str, Any]]:
    return list(conversations.select_for_update(of=("self",)).values(*_CONVERSATION_FIELDS))


def _active_filter() -> Q:
    return Q(state__in=sorted(ACTIVE_STATES))


def _tickets_of(conversation_ids: Iterable[int]) -> dict[int, tuple[int, int | None]]:
    """Per conversation that has tickets: its latest ticket's id and its active ticket's id
    (None when every ticket is resolved or closed). One query."""
    rows = (
        Ticket.objects.filter(conversation_id__in=list(conversation_ids))
        .values("conversation_id")
        .annotate(latest=Max("id"), active=Max("id", filter=_active_filter()))
        .values_list("conversation_id", "latest", "active")
    )
    return {conversation_id: (latest, active) for conversation_id, latest, active in rows}


def _part(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The part of the uncovered messages a ticket covers: the visible ones from the first
    customer message on (an agent's words before it open no ticket)."""
    visible = [m for m in messages if not m["is_hidden"]]
    start = next((i for i, m in enumerate(visible) if m["direction"] == Direction.INBOUND), None)
    return [] if start is None else visible[start:]


def _convert(
    *,
    conversations: Sequence[Mapping[str, Any]],
    now: datetime,
    origin: str,
    created_by: Any = None,
    deadline: Mapping[int, datetime] | None = None,
) -> list[int]:
    """Turn the uncovered messages of these conversations (rows of `_CONVERSATION_FIELDS`,
    locked by the caller) into tickets, one a conversation; returns the new tickets' ids.

    A conversation with an active ticket is left alone (its messages belong to that ticket).
    With `deadline` (the sweep, per department id) a chat still talking past its deadline is
    left for later. Hidden messages (blocked customers) never appear in a ticket and a chat
    made only of them, or only of agents' words, makes none (they are left above the mark,
    where they are never looked at again unless a customer message follows them).
    """
    if not conversations:
        return []
    by_id = {row["id"]: row for row in conversations}
    # Read apart rather than joined into the locking query, which also scans the (many)
    # conversations that turn out to have nothing to convert.
    organizations = {
        pk: (time_zone, language)
        for pk, time_zone, language in Organization.objects.filter(
            pk__in={row["organization_id"] for row in conversations}
        ).values_list("pk", "time_zone", "language")
    }
    # Tuples zipped into dicts, and attachments left as JSON text until a transcript needs
    # them: Django's per-row dict and JSON handling costs more than the query.
    fields = [f for f in transcript.MESSAGE_FIELDS if f != "attachments"]
    rows = (
        Message.objects.filter(conversation_id__in=list(by_id))
        .alias(ticket_mark=_mark_of_message_conversation())
        .filter(id__gt=F("ticket_mark"))
        .annotate(attachments_json=Cast("attachments", TextField()))
        .order_by("conversation_id", "id")
        .values_list(*fields, "attachments_json")
    )
    names = (*fields, "attachments")
    by_conversation: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        message = dict(zip(names, row, strict=True))
        by_conversation[message["conversation_id"]].append(message)

    tickets = _tickets_of(by_conversation)
    chats: list[_Chat] = []
    for conversation_id, messages in by_conversation.items():
        conversation = by_id[conversation_id]
        latest, active = tickets.get(conversation_id, (None, None))
        if active is not None:
            continue
        # A chat whose last word is not yet past the deadline is still going on.
        if deadline is not None and max(m["sent_at"] for m in messages) > deadline[conversation["department_id"]]:
            continue
        part = _part(messages)
        if part:
            chats.append(_Chat(conversation, organizations[conversation["organization_id"]], part, latest))
    if not chats:
        return []

    adapted_now = connection.ops.adapt_datetimefield_value(now)
    created_by_id = created_by.pk if created_by is not None else None
    ticket_rows = [_ticket_row(chat, now=adapted_now, origin=origin, created_by_id=created_by_id) for chat in chats]
    returned = _insert(Ticket, _TICKET_COLUMNS, ticket_rows, returning=("id", "conversation_id", "first_message_id"))
    # Matched on the (conversation, first message) key rather than on the order of RETURNING.
    ticket_ids = {(conversation_id, first): ticket_id for ticket_id, conversation_id, first in returned}
    new_ids = [ticket_ids[row[_CONVERSATION], row[_FIRST_MESSAGE]] for row in ticket_rows]
    _write_converted_events(new_ids)
    made = [
        TicketRef(ticket_id, row[_ORGANIZATION], row[_CHANNEL], row[_DEPARTMENT], row[_CONVERSATION])
        for ticket_id, row in zip(new_ids, ticket_rows, strict=True)
    ]
    tickets_told(made, what=TICKET_CREATED)
    _signalled(signals.TICKET_CREATED, ((ref.organization_id, ref.pk, ref.conversation_id) for ref in made))
    # The conversation's transcript has its `converted` line.
    conversation_rows_told(
        ((row[_ORGANIZATION], row[_CHANNEL], row[_CONVERSATION], row[_ASSIGNEE]) for row in ticket_rows), what=STATE
    )
    return new_ids


_TICKET_COLUMNS = (
    "organization_id",
    "department_id",
    "channel_id",
    "conversation_id",
    "contact_id",
    "assignee_id",
    "subject",
    "description",
    "state",
    "priority",
    "origin",
    "created_by_id",
    "first_message_id",
    "last_message_id",
    "message_count",
    "follow_up_of_id",
    "created_at",
    "updated_at",
)
_CONVERSATION = _TICKET_COLUMNS.index("conversation_id")
_ORGANIZATION = _TICKET_COLUMNS.index("organization_id")
_CHANNEL = _TICKET_COLUMNS.index("channel_id")
_DEPARTMENT = _TICKET_COLUMNS.index("department_id")
_ASSIGNEE = _TICKET_COLUMNS.index("assignee_id")
_FIRST_MESSAGE = _TICKET_COLUMNS.index("first_message_id")


def _ticket_row(chat: _Chat, *, now: Any, origin: str, created_by_id: int | None) -> tuple[Any, ...]:
    conversation = chat.conversation
    time_zone, language = chat.time_zone_and_language
    return (
        conversation["organization_id"],
        conversation["department_id"],
        conversation["channel_id"],
        conversation["id"],
        conversation["contact_id"],
        conversation["assignee_id"],
        transcript.subject_from(chat.messages, fallback=transcript.speaker_labels(language)["chat"]),
        transcript.transcript(chat.messages, time_zone=time_zone, language=language),
        TicketState.OPEN.value,
        TicketPriority.NORMAL.value,
        origin,
        created_by_id,
        chat.messages[0]["id"],
        chat.messages[-1]["id"],
        len(chat.messages),
        chat.follow_up_of_id,
        now,
        now,
    )


def _signalled(type: str, tickets: Iterable[tuple[int, int, int | None]]) -> None:
    """Tell the apps above (outgoing webhooks) of these tickets: (organization id, ticket id, conversation id)."""
    by_organization: dict[int, list[tuple[int, int | None]]] = {}
    for organization_id, ticket_id, conversation_id in tickets:
        by_organization.setdefault(organization_id, []).append((ticket_id, conversation_id))
    for organization_id, subjects in by_organization.items():
        signals.domain_events_send(
            organization_id=organization_id, type=type, resource=signals.TICKET, subjects=subjects
        )


def _write_converted_events(ticket_ids: Sequence[int]) -> None:
    """A `converted` line in each ticket's conversation (the inbox shows it), written from the
    new ticket rows by the database itself."""
    quote = connection.ops.quote_name
    build_object = "jsonb_build_object" if connection.vendor == "postgresql" else "json_object"
    with connection.cursor() as cursor:
        for start in range(0, len(ticket_ids), 500):
            params: list[Any] = [ConversationEvent.Kind.CONVERTED.value]
            ids = ", ".join(_sql_value(ticket_id, params) for ticket_id in ticket_ids[start : start + 500])
            cursor.execute(
                f"INSERT INTO {quote(ConversationEvent._meta.db_table)} "  # noqa: S608 (names from the models)
                "(organization_id, conversation_id, kind, actor_id, data, created_at) "
                f"SELECT organization_id, conversation_id, %s, created_by_id, "
                f"{build_object}('ticket_id', id, 'origin', origin, 'subject', subject), created_at "
                f"FROM {quote(Ticket._meta.db_table)} WHERE id IN ({ids}) ORDER BY id",
                params,
            )


def _sql_value(value: Any, params: list[Any]) -> str:
    """Whole numbers and NULL written into the statement, the rest bound as parameters: the
    driver's per-parameter adaptation of the ids dominates the cost of a big INSERT. An int
    (never a bool or a str) prints only digits, so nothing else can reach the SQL."""
    if value is None:
        return "NULL"
    if type(value) is int:
        return str(value)
    params.append(value)
    return "%s"


def _insert(
    model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, returning: Sequence[str] = ()
) -> list[tuple[Any, ...]]:
    """A multi-row INSERT (500 rows a statement): the sweep writes thousands of rows a batch
    and Django's bulk_create spends longer building model instances than the database does
    storing them. Values must already be in database form."""
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) VALUES "  # noqa: S608 (names from the model)
    tail = f" RETURNING {', '.join(quote(c) for c in returning)}" if returning else ""
    returned: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            params: list[Any] = []
            values = ", ".join(
                "(" + ", ".join([_sql_value(v, params) for v in row]) + ")" for row in rows[start : start + 500]
            )
            cursor.execute(head + values + tail, params)
            if returning:
                returned += [tuple(r) for r in cursor.fetchall()]
    return returned


@transaction.atomic
def ticket_create_from_conversation(
    *, organization: Organization, acting_user: Any, membership: Membership, conversation_id: int | str
) -> Ticket:
    """By hand: the conversation's part not yet in a ticket (from its first customer message
    after the previous ticket) becomes one ticket.

    Whoever sees the conversation (channels.visibility) may do it; anyone else gets 404 and
    nothing is made. A conversation whose ticket is still active is `ticket_already_open`
    (409, with that ticket's id); nothing left to convert is `nothing_to_convert` (409).
    """
    visible = Conversation.objects.filter(
        visibility_selectors.visible_channel_filter(organization=organization, membership=membership)
    )
    conversations = _locked(visible.filter(pk=selectors.as_id(conversation_id)))
    if not conversations:
        raise NotFound
    _, active = _tickets_of([conversations[0]["id"]]).get(conversations[0]["id"], (None, None))
    if active is not None:
        raise TicketAlreadyOpen(ticket_id=active)
    ticket_ids = _convert(
        conversations=conversations, now=timezone.now(), origin=TicketOrigin.MANUAL, created_by=acting_user
    )
    if not ticket_ids:
        raise NothingToConvert
    return Ticket.objects.get(pk=ticket_ids[0])


def _idle_deadlines(now: datetime) -> tuple[Q, dict[int, datetime]]:
    """The idle condition as of `now`, from the current settings (a deadline is never stored,
    so a changed delay applies to chats that are already idle).

    The delays come from the channels layer in one query; the departments at the default
    delay are left out of the condition's lists (they are "every other department")."""
    custom = {
        department_id: minutes
        for department_id, minutes in channel_selectors.ticket_delays_by_department().items()
        if minutes != TICKET_DELAY_DEFAULT_MINUTES
    }
    default = timedelta(minutes=TICKET_DELAY_DEFAULT_MINUTES)
    condition = Q(last_message_at__lte=now - default)
    if custom:
        condition &= ~Q(department_id__in=list(custom))
    by_delay: dict[int, list[int]] = defaultdict(list)
    for department_id, minutes in custom.items():
        by_delay[minutes].append(department_id)
    for minutes, department_ids in by_delay.items():
        condition |= Q(department_id__in=department_ids, last_message_at__lte=now - timedelta(minutes=minutes))
    deadline: dict[int, datetime] = defaultdict(lambda: now - default)
    deadline.update({department_id: now - timedelta(minutes=minutes) for department_id, minutes in custom.items()})
    return condition & Q(last_message_at__gte=now - SWEEP_LOOKBACK), deadline


def _sweep_candidates(condition: Q) -> QuerySet[Conversation]:
    """Conversations idle by `condition` that have something to convert: no active ticket (it
    takes their new messages) and their newest visible customer message lies above their mark
    (index probes per conversation, where EXISTS(message above the mark) would probe the mark
    once per message)."""
    newest_visible = Subquery(
        Message.objects.filter(conversation_id=OuterRef("pk"), is_hidden=False, direction=Direction.INBOUND)
        .order_by("-id")
        .values("id")[:1]
    )
    mark = Coalesce(
        Subquery(
            Ticket.objects.filter(conversation_id=OuterRef("pk"))
            .order_by("-last_message_id")
            .values("last_message_id")[:1]
        ),
        Value(0),
    )
    active = Ticket.objects.filter(
        _active_filter(), organization_id=OuterRef("organization_id"), conversation_id=OuterRef("pk")
    )
    candidates = Conversation.objects.filter(condition).alias(newest_visible=newest_visible, mark=mark)
    return candidates.filter(newest_visible__gt=F("mark")).exclude(Exists(active))


def _sweep_range(
    candidates: QuerySet[Conversation],
    *,
    first_id: int,
    last_id: int | None,
    now: datetime,
    batch_size: int,
    deadline: Mapping[int, datetime],
) -> int:
    """Convert the candidates with first_id <= id <= last_id (None: no upper bound), batch by
    batch, each batch its own transaction holding its conversations with SKIP LOCKED."""
    created = 0
    after_id = first_id - 1
    if last_id is not None:
        candidates = candidates.filter(pk__lte=last_id)
    while True:
        with transaction.atomic():
            conversations = list(
                candidates.filter(pk__gt=after_id)
                .order_by("pk")
                .select_for_update(skip_locked=True, of=("self",))
                .values(*_CONVERSATION_FIELDS)[:batch_size]
            )
            if not conversations:
                break
            ticket_ids = _convert(
                conversations=conversations,
                now=now,
                origin=TicketOrigin.IDLE,
                deadline=deadline,
            )
        created += len(ticket_ids)
        after_id = conversations[-1]["id"]
        if len(conversations) < batch_size:
            break
    return created


def _id_ranges(condition: Q, *, span: int) -> list[tuple[int, int]]:
    """The ids of the idle conversations cut into consecutive ranges of `span` ids."""
    bounds = Conversation.objects.filter(condition).aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return []
    return [(low, min(low + span - 1, bounds["high"])) for low in range(bounds["low"], bounds["high"] + 1, span)]


class _SweepArguments(TypedDict):
    """What `_sweep_range` takes besides the candidates and the range."""

    now: datetime
    batch_size: int
    deadline: Mapping[int, datetime]


def _sweep_in_parallel(
    candidates: QuerySet[Conversation], ranges: list[tuple[int, int]], *, workers: int, **sweep: Any
) -> int:
    """The ranges shared by `workers` threads, each with its own database connection: the
    database works on one batch while Python builds the transcripts of another."""
    pending = iter(ranges)
    lock = threading.Lock()

    def work() -> int:
        created = 0
        try:
            while True:
                with lock:
                    chunk = next(pending, None)
                if chunk is None:
                    return created
                created += _sweep_range(candidates, first_id=chunk[0], last_id=chunk[1], **sweep)
        finally:
            connections.close_all()  # this thread's own connections

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ticket-sweep") as pool:
        futures = [pool.submit(work) for _ in range(workers)]
        return sum(future.result() for future in futures)


def ticket_sweep_idle_conversations(
    *, now: datetime | None = None, batch_size: int = SWEEP_BATCH_SIZE, workers: int | None = None
) -> int:
    """Every chat idle for its department's delay becomes a ticket. Returns how many were made.

    Each batch is its own transaction that locks its conversations with SKIP LOCKED: several
    workers share the work, a second run finds nothing left, and a batch lost to a crash is
    simply found again by the next run. On PostgreSQL, outside a caller's transaction, the
    sweep itself runs `workers` threads (TICKET_SWEEP_WORKERS) over ranges of ids.
    """
    now = now or timezone.now()
    workers = workers or settings.TICKET_SWEEP_WORKERS
    condition, deadline = _idle_deadlines(now)
    candidates = _sweep_candidates(condition)
    sweep: _SweepArguments = {"now": now, "batch_size": batch_size, "deadline": deadline}
    if workers > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        ranges = _id_ranges(condition, span=batch_size * SWEEP_RANGE_BATCHES)
        created = _sweep_in_parallel(candidates, ranges, workers=workers, **sweep)
    else:
        created = _sweep_range(candidates, first_id=0, last_id=None, **sweep)
    if created:
        logger.info("tickets: %d idle chats became tickets", created)
    return created


# --- A member left departments ----------------------------------------------------------------


def tickets_unassign_for_departments(
    *, organization: Organization, acting_user: Any, membership: Membership, department_ids: Iterable[int]
) -> int:
    """The member no longer works in these departments: the tickets they hold there (filed
    under one of them, or of one of their channels) that they may no longer see
    (channels.visibility) are unassigned. Named in settings.MEMBERSHIP_DEPARTMENTS_REMOVED_HOOKS."""
    departments = list(department_ids)
    held = (
        Ticket.objects.filter(organization=organization, assignee_id=membership.user_id)
        .filter(Q(department_id__in=departments) | Q(channel__department_id__in=departments))
        .exclude(visibility.visible_filter(organization=organization, membership=membership, row_department=True))
    )
    rows = [
        TicketRef(*row)
        for row in held.values_list("pk", "organization_id", "channel_id", "department_id", "conversation_id")
    ]
    if not rows:
        return 0
    tickets_told(rows, what=TICKET_ASSIGNMENT)
    return Ticket.objects.filter(pk__in=[row.pk for row in rows], assignee_id=membership.user_id).update(
        assignee=None, updated_at=timezone.now()
    )


# --- Replying from a ticket -------------------------------------------------------------------


@transaction.atomic
def ticket_reply_send(
    *,
    organization: Organization,
    acting_user: Any,
    membership: Membership,
    ticket_id: int | str,
    text: str,
    kept_files: Sequence[str] = (),
    seen_at: datetime | None = None,
) -> list[Message]:
    """A reply from a ticket is a Messenger reply to its conversation, under the same rules
    (messenger.services.sending.replies). It belongs to the ticket: an active ticket takes it like any
    new message; a resolved or closed one that is still the conversation's latest, with no
    customer message after it, takes it into its part (an agent's words open no new part).
    ``kept_files``: a canned response's files, sent as in the inbox; ``seen_at``: a colleague's
    reply after it asks first, as in the inbox."""
    ticket = selectors.ticket_get(organization=organization, membership=membership, ticket_id=ticket_id)
    conversation = conversation_selectors.conversation_get(
        organization=organization, membership=membership, conversation_id=ticket.conversation_id
    )
    queued = replies.reply_send(
        organization=organization,
        acting_user=acting_user,
        conversation=conversation,
        text=text,
        kept_files=kept_files,
        seen_at=seen_at,
    )
    if not ticket.is_active:
        locked = Ticket.objects.select_for_update(of=("self",)).get(pk=ticket.pk)
        later = Message.objects.filter(conversation_id=ticket.conversation_id, id__gt=locked.last_message_id)
        is_latest = not Ticket.objects.filter(conversation_id=ticket.conversation_id, pk__gt=ticket.pk).exists()
        if is_latest and not later.filter(direction=Direction.INBOUND, is_hidden=False).exists():
            locked.last_message_id = max(message.pk for message in queued)
            locked.message_count += len(queued)
            locked.save(update_fields=["last_message", "message_count"])
    ticket_publish(ticket, what=TICKET_REPLY)
    return queued


# --- Changes to a ticket -------------------------------------------------------------------


def _check_transition(ticket: Ticket, state: str) -> None:
    if state not in TicketState.values:
        raise InvalidInput(_("Unknown state."), details={"state": [_("Choose open, pending, resolved or closed.")]})
    if state != ticket.state and state not in TICKET_TRANSITIONS[ticket.state]:
        raise InvalidTransition(
            _("A %(from)s ticket cannot become %(to)s.")
            % {"from": TicketState(ticket.state).label, "to": TicketState(state).label},
            details={"from": ticket.state, "to": state, "allowed": ticket.allowed_states},
        )


def _check_assignee(*, organization: Organization, ticket: Ticket, user_id: int) -> None:
    holders = selectors.ticket_assignee_choices(organization=organization, ticket=ticket)
    if not holders.filter(user_id=user_id).exists():
        raise InvalidInput(
            _("The assignee must be an active member who can see this ticket."),
            details={"assignee": [_("Not an agent of this ticket's channel and department.")]},
        )


def _user_name(user: Any) -> dict[str, str]:
    """A member's name as a ticket event keeps it (helpdesk.names.name_parts)."""
    return name_parts(user)


def _check_subject(subject: str) -> str:
    subject = transcript.single_line(subject or "")
    if not subject:
        raise InvalidInput(_("Enter a subject."), details={"subject": [_("Enter a subject.")]})
    if len(subject) > SUBJECT_MAX_LENGTH:
        refusal = _("A subject can be at most %(limit)s characters.") % {"limit": SUBJECT_MAX_LENGTH}
        raise InvalidInput(refusal, details={"subject": [refusal]})
    return subject


def _check_no_other_active(ticket: Ticket) -> None:
    other = (
        Ticket.objects.filter(
            _active_filter(), organization_id=ticket.organization_id, conversation_id=ticket.conversation_id
        )
        .exclude(pk=ticket.pk)
        .values_list("pk", flat=True)
        .first()
    )
    if other is not None:
        raise TicketAlreadyOpen(ticket_id=other)


def _close_part(ticket: Ticket) -> list[str]:
    """The ticket stops taking new messages: its part ends at the conversation's newest
    message (when no later ticket took over), so what the customer writes next begins a new
    part. Returns the fields it changed."""
    if Ticket.objects.filter(conversation_id=ticket.conversation_id, pk__gt=ticket.pk).exists():
        return []
    newest = Message.objects.filter(conversation_id=ticket.conversation_id).aggregate(newest=Max("id"))["newest"]
    ticket.last_message_id = max(newest or ticket.last_message_id, ticket.last_message_id)
    ticket.message_count = Message.objects.filter(
        conversation_id=ticket.conversation_id,
        id__gte=ticket.first_message_id,
        id__lte=ticket.last_message_id,
        is_hidden=False,
    ).aggregate(n=Count("id"))["n"]
    return ["last_message", "message_count"]


@transaction.atomic
def ticket_update(
    *,
    organization: Organization,
    acting_user: Any,
    membership: Membership,
    ticket_id: int | str,
    state: str = _UNSET,
    priority: str = _UNSET,
    assignee_id: int | None = _UNSET,
    subject: str = _UNSET,
) -> Ticket:
    """Change state (through the state machine), priority, assignee (None unassigns) and/or
    subject; each change is recorded as a ticket event. Reopening while another ticket of the
    conversation is active is `ticket_already_open`."""
    tickets = selectors.ticket_list(organization=organization, membership=membership).select_for_update(of=("self",))
    ticket = tickets.filter(pk=selectors.as_id(ticket_id)).first()
    if ticket is None:
        raise NotFound
    fields: list[str] = []
    events: list[TicketEvent] = []

    def record(kind: str, **data: Any) -> None:
        events.append(TicketEvent(organization=organization, ticket=ticket, kind=kind, actor=acting_user, data=data))

    if state is not _UNSET:
        _check_transition(ticket, state)
        if state != ticket.state:
            if state in ACTIVE_STATES and not ticket.is_active:
                _check_no_other_active(ticket)
            elif state not in ACTIVE_STATES and ticket.is_active:
                fields += _close_part(ticket)
            record(TicketEvent.Kind.STATE_CHANGED, **{"from": ticket.state, "to": state})
            ticket.state = state
            fields.append("state")
    if priority is not _UNSET:
        if priority not in TicketPriority.values:
            raise InvalidInput(_("Unknown priority."), details={"priority": [_("Choose low, normal, high or urgent.")]})
        if priority != ticket.priority:
            record(TicketEvent.Kind.PRIORITY_CHANGED, **{"from": ticket.priority, "to": priority})
            ticket.priority = priority
            fields.append("priority")
    if assignee_id is not _UNSET and assignee_id != ticket.assignee_id:
        if assignee_id is not None:
            _check_assignee(organization=organization, ticket=ticket, user_id=assignee_id)
            assignee = selectors.ticket_assignee_choices(organization=organization).get(user_id=assignee_id).user
            record(TicketEvent.Kind.ASSIGNED, to=_user_name(assignee))
        else:
            record(TicketEvent.Kind.UNASSIGNED, previous=_user_name(ticket.assignee))
        ticket.assignee_id = assignee_id
        fields.append("assignee")
    if subject is not _UNSET:
        subject = _check_subject(subject)
        if subject != ticket.subject:
            record(TicketEvent.Kind.SUBJECT_CHANGED, **{"from": ticket.subject, "to": subject})
            ticket.subject = subject
            fields.append("subject")
    if fields:
        ticket.updated_at = timezone.now()
        ticket.save(update_fields=[*fields, "updated_at"])
        TicketEvent.objects.bulk_create(events)
        for what in dict.fromkeys(_FIELD_CHANGES[field] for field in fields if field in _FIELD_CHANGES):
            ticket_publish(ticket, what=what)
        _signalled(signals.TICKET_UPDATED, [(organization.pk, ticket.pk, ticket.conversation_id)])
        resolved = [
            e for e in events if e.kind == TicketEvent.Kind.STATE_CHANGED and e.data["to"] == TicketState.RESOLVED
        ]
        if resolved:
            # Each resolution is its own occasion (a ticket reopened and resolved again is asked again).
            conversation_finished_send(
                organization_id=organization.pk,
                acting_user_id=getattr(acting_user, "pk", None),
                occasion=FINISHED_TICKET_RESOLVED,
                occasion_ids={ticket.conversation_id: resolved[0].pk},
            )
    return ticket


# How a change of each field is told (live.publish.ticket_publish).
_FIELD_CHANGES = {
    "state": TICKET_STATE,
    "assignee": TICKET_ASSIGNMENT,
    "priority": TICKET_DETAILS,
    "subject": TICKET_DETAILS,
}


# --- Labels ----------------------------------------------------------------------------------


def _label_events(
    organization: Organization, ticket_ids: list[int], *, kind: str, acting_user: Any, label: Label
) -> None:
    TicketEvent.objects.bulk_create(
        [
            TicketEvent(
                organization=organization,
                ticket_id=ticket_id,
                kind=kind,
                actor=label_links.acting(acting_user),
                data=label_links.change_data(label),
            )
            for ticket_id in ticket_ids
        ]
    )


@transaction.atomic
def tickets_label_add(
    *, organization: Organization, acting_user: Any, tickets: Sequence[Ticket], label: Label
) -> list[int]:
    """Put ``label`` on the tickets (set-based, labels.links); those that had it already are
    left as they were. Returns the ids of the tickets that changed, each with a ticket event.
    Visibility is the caller's."""
    changed = label_links.links_add(
        TicketLabel, "ticket", organization=organization, things=tickets, label=label, acting_user=acting_user
    )
    _label_events(organization, changed, kind=TicketEvent.Kind.LABEL_ADDED, acting_user=acting_user, label=label)
    _labels_told(tickets, changed)
    return changed


@transaction.atomic
def tickets_label_remove(
    *, organization: Organization, acting_user: Any, tickets: Sequence[Ticket], label: Label
) -> list[int]:
    """Take ``label`` off the tickets. Returns the ids of those that had it."""
    changed = label_links.links_remove(TicketLabel, "ticket", organization=organization, things=tickets, label=label)
    _label_events(organization, changed, kind=TicketEvent.Kind.LABEL_REMOVED, acting_user=acting_user, label=label)
    _labels_told(tickets, changed)
    return changed


def _labels_told(tickets: Sequence[Ticket], changed: list[int]) -> None:
    ids = set(changed)
    tickets_told([ticket for ticket in tickets if ticket.pk in ids], what=TICKET_LABELS)
