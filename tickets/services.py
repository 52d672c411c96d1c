"""Writes of the tickets app: chat → ticket conversion (by hand and by the idle sweep), and
ticket changes (state machine, priority, assignee).

Conversion is set-based: for a batch of conversations it reads their uncovered messages in
one query, bulk-creates the tickets and their `converted` events, and moves the high-water
marks forward in one statement. Callers hold the conversations' row locks.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.models import TICKET_DELAY_DEFAULT_MINUTES, DepartmentSettings
from helpdesk.exceptions import Conflict, InvalidInput, InvalidTransition, NotFound, NothingToConvert
from helpdesk.models import Membership, Organization
from messenger.models import Conversation, ConversationEvent, Message
from tickets import selectors, transcript
from tickets.models import (
    TICKET_TRANSITIONS,
    ConversationCoverage,
    Ticket,
    TicketOrigin,
    TicketPriority,
    TicketState,
)

logger = logging.getLogger(__name__)

SWEEP_BATCH_SIZE = 1000
# The sweep looks back this far for idle chats. Older uncovered messages (history from before
# tickets existed, or a sweep stopped for a month) are left alone rather than turned into a
# flood of stale tickets; it also keeps the every-minute query from growing with all history.
SWEEP_LOOKBACK = timedelta(days=30)

_UNSET: Any = object()


# --- Conversion ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Chat:
    conversation: Mapping[str, Any]
    messages: list[dict[str, Any]]  # visible messages, by id


def _mark_subquery(conversation_ref: str) -> Coalesce:
    return Coalesce(
        Subquery(
            ConversationCoverage.objects.filter(conversation_id=OuterRef(conversation_ref)).values("last_message_id")[
                :1
            ]
        ),
        Value(0),
    )


def _split_into_chats(messages: list[dict[str, Any]], idle_after: timedelta | None) -> list[list[dict[str, Any]]]:
    """Uncovered messages (by id) cut wherever nothing was said for `idle_after`: after a sweep
    outage, each chat still becomes its own ticket. None keeps them together (by hand)."""
    if idle_after is None or not messages:
        return [messages] if messages else []
    chats: list[list[dict[str, Any]]] = [[messages[0]]]
    latest = messages[0]["sent_at"]
    for message in messages[1:]:
        if message["sent_at"] - latest >= idle_after:
            chats.append([])
        chats[-1].append(message)
        latest = max(latest, message["sent_at"])
    return chats


def _convert(
    *,
    conversation_ids: Sequence[int],
    now: datetime,
    origin: str,
    created_by: Any = None,
    idle_after: Mapping[int, timedelta] | None = None,
    deadline: Mapping[int, datetime] | None = None,
) -> list[Ticket]:
    """Turn the uncovered messages of these (already locked) conversations into tickets.

    With `idle_after`/`deadline` (the sweep, per department id) the messages are cut into
    chats at idle gaps and a chat still talking past its deadline is left for later.
    Hidden messages (blocked customers) never appear in a ticket and a chat made only of
    them makes none, but the mark moves past them with their chat.
    """
    if not conversation_ids:
        return []
    conversations = {
        row["id"]: row
        for row in Conversation.objects.filter(pk__in=conversation_ids).values(
            "id",
            "organization_id",
            "department_id",
            "channel_id",
            "contact_id",
            "assignee_id",
            "organization__time_zone",
            "organization__language",
        )
    }
    rows = (
        Message.objects.filter(conversation_id__in=conversation_ids)
        .annotate(ticket_mark=_mark_subquery("conversation_id"))
        .filter(id__gt=F("ticket_mark"))
        .order_by("conversation_id", "id")
        .values(*transcript.MESSAGE_FIELDS, "ticket_mark")
    )
    by_conversation: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_conversation[row["conversation_id"]].append(row)

    chats: list[_Chat] = []
    marks: dict[int, tuple[int, int]] = {}  # conversation id → (mark read, new mark)
    for conversation_id, messages in by_conversation.items():
        conversation = conversations[conversation_id]
        department_id = conversation["department_id"]
        runs = _split_into_chats(messages, idle_after[department_id] if idle_after is not None else None)
        if deadline is not None:
            # A chat whose last word is not yet past the deadline is still going on.
            while runs and max(m["sent_at"] for m in runs[-1]) > deadline[department_id]:
                runs.pop()
        if not runs:
            continue
        converted = [chat for chat in runs if any(not m["is_hidden"] for m in chat)]
        if not converted:
            continue
        for run in converted:
            chats.append(_Chat(conversation, [m for m in run if not m["is_hidden"]]))
        marks[conversation_id] = (messages[0]["ticket_mark"], runs[-1][-1]["id"])

    if not chats:
        return []
    tickets = [_ticket_for(chat, now=now, origin=origin, created_by=created_by) for chat in chats]
    Ticket.objects.bulk_create(tickets)
    ConversationEvent.objects.bulk_create(
        [
            ConversationEvent(
                organization_id=ticket.organization_id,
                conversation_id=ticket.conversation_id,
                kind=ConversationEvent.Kind.CONVERTED,
                actor=created_by,
                data={"ticket_id": ticket.pk, "origin": origin, "subject": ticket.subject},
            )
            for ticket in tickets
        ]
    )
    _advance_marks(
        [(conversations[cid]["organization_id"], cid, old, new) for cid, (old, new) in marks.items()], now=now
    )
    return tickets


def _ticket_for(chat: _Chat, *, now: datetime, origin: str, created_by: Any) -> Ticket:
    conversation = chat.conversation
    labels = transcript.speaker_labels(conversation["organization__language"])
    return Ticket(
        organization_id=conversation["organization_id"],
        department_id=conversation["department_id"],
        channel_id=conversation["channel_id"],
        conversation_id=conversation["id"],
        contact_id=conversation["contact_id"],
        assignee_id=conversation["assignee_id"],
        subject=transcript.subject_from(chat.messages, fallback=labels["chat"]),
        description=transcript.transcript(
            chat.messages,
            time_zone=conversation["organization__time_zone"],
            language=conversation["organization__language"],
        ),
        state=TicketState.OPEN,
        priority=TicketPriority.NORMAL,
        origin=origin,
        created_by=created_by,
        first_message_id=chat.messages[0]["id"],
        last_message_id=chat.messages[-1]["id"],
        message_count=len(chat.messages),
        created_at=now,
        updated_at=now,
    )


def _advance_marks(marks: list[tuple[int, int, int, int]], *, now: datetime) -> None:
    """Compare-and-set of the high-water marks, in one statement per 500 conversations.

    A mark only moves forward: a row whose mark is already at or past the new value is left
    alone, the count comes up short and the whole batch rolls back (with the row locks this
    cannot happen; the statement makes it impossible rather than unlikely).
    """
    table = connection.ops.quote_name(ConversationCoverage._meta.db_table)
    for start in range(0, len(marks), 500):
        chunk = marks[start : start + 500]
        values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
        params: list[Any] = []
        for organization_id, conversation_id, _old, new in chunk:
            params += [organization_id, conversation_id, new, now]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (organization_id, conversation_id, last_message_id, updated_at) "  # noqa: S608 (table name from the model)
                f"VALUES {values} "
                "ON CONFLICT (conversation_id) DO UPDATE "
                "SET last_message_id = EXCLUDED.last_message_id, updated_at = EXCLUDED.updated_at "
                f"WHERE {table}.last_message_id < EXCLUDED.last_message_id",
                params,
            )
            if cursor.rowcount != len(chunk):
                raise Conflict(_("Another conversion moved these conversations on; try again."))


def _can_see_department(membership: Membership, department_id: int) -> bool:
    return membership.is_admin or membership.departments.filter(pk=department_id).exists()


@transaction.atomic
def ticket_create_from_conversation(
    *, organization: Organization, acting_user: Any, membership: Membership, conversation_id: int | str
) -> Ticket:
    """By hand: every message of the conversation not yet in a ticket becomes one ticket.

    Agents of the conversation's department and admins may do it (others get 404); nothing
    left to convert is `nothing_to_convert` (409).
    """
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .filter(organization=organization, pk=selectors.as_id(conversation_id))
        .only("id", "department_id")
        .first()
    )
    if conversation is None or not _can_see_department(membership, conversation.department_id):
        raise NotFound
    tickets = _convert(
        conversation_ids=[conversation.pk], now=timezone.now(), origin=TicketOrigin.MANUAL, created_by=acting_user
    )
    if not tickets:
        raise NothingToConvert
    return tickets[0]


def _idle_deadlines(now: datetime) -> tuple[Q, dict[int, timedelta], dict[int, datetime]]:
    """The idle condition as of `now`, from the current settings (a deadline is never stored,
    so a changed delay applies to chats that are already idle)."""
    custom = dict(
        DepartmentSettings.objects.exclude(ticket_delay_minutes=TICKET_DELAY_DEFAULT_MINUTES).values_list(
            "department_id", "ticket_delay_minutes"
        )
    )
    default = timedelta(minutes=TICKET_DELAY_DEFAULT_MINUTES)
    condition = Q(last_message_at__lte=now - default)
    if custom:
        condition &= ~Q(department_id__in=list(custom))
    by_delay: dict[int, list[int]] = defaultdict(list)
    for department_id, minutes in custom.items():
        by_delay[minutes].append(department_id)
    for minutes, department_ids in by_delay.items():
        condition |= Q(department_id__in=department_ids, last_message_at__lte=now - timedelta(minutes=minutes))
    idle_after: dict[int, timedelta] = defaultdict(lambda: default)
    idle_after.update({department_id: timedelta(minutes=minutes) for department_id, minutes in custom.items()})
    deadline: dict[int, datetime] = defaultdict(lambda: now - default)
    deadline.update({department_id: now - delay for department_id, delay in idle_after.items()})
    return condition & Q(last_message_at__gte=now - SWEEP_LOOKBACK), idle_after, deadline


def ticket_sweep_idle_conversations(*, now: datetime | None = None, batch_size: int = SWEEP_BATCH_SIZE) -> int:
    """Every chat idle for its department's delay becomes a ticket. Returns how many were made.

    Each batch is its own transaction that locks its conversations with SKIP LOCKED: several
    workers share the work, a second run finds nothing left, and a batch lost to a crash is
    simply found again by the next run.
    """
    now = now or timezone.now()
    condition, idle_after, deadline = _idle_deadlines(now)
    uncovered = Exists(
        Message.objects.filter(conversation_id=OuterRef("pk"), is_hidden=False, id__gt=OuterRef("ticket_mark"))
    )
    created = 0
    after_id = 0
    while True:
        with transaction.atomic():
            conversation_ids = list(
                Conversation.objects.filter(condition, pk__gt=after_id)
                .annotate(ticket_mark=_mark_subquery("pk"))
                .filter(uncovered)
                .order_by("pk")
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("pk", flat=True)[:batch_size]
            )
            if not conversation_ids:
                break
            tickets = _convert(
                conversation_ids=conversation_ids,
                now=now,
                origin=TicketOrigin.IDLE,
                idle_after=idle_after,
                deadline=deadline,
            )
        created += len(tickets)
        after_id = conversation_ids[-1]
        if len(conversation_ids) < batch_size:
            break
    if created:
        logger.info("tickets: %d idle chats became tickets", created)
    return created


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
    holders = selectors.ticket_assignee_choices(organization=organization, department_id=ticket.department_id)
    if not holders.filter(user_id=user_id).exists():
        raise InvalidInput(
            _("The assignee must be an active member who can see this ticket."),
            details={"assignee": [_("Not a member of this ticket's department.")]},
        )


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
) -> Ticket:
    """Change state (through the state machine), priority and/or assignee (None unassigns)."""
    ticket = selectors.ticket_list(organization=organization, membership=membership).select_for_update(of=("self",))
    ticket = ticket.filter(pk=selectors.as_id(ticket_id)).first()
    if ticket is None:
        raise NotFound
    fields: list[str] = []
    if state is not _UNSET:
        _check_transition(ticket, state)
        if state != ticket.state:
            ticket.state = state
            fields.append("state")
    if priority is not _UNSET:
        if priority not in TicketPriority.values:
            raise InvalidInput(_("Unknown priority."), details={"priority": [_("Choose low, normal, high or urgent.")]})
        if priority != ticket.priority:
            ticket.priority = priority
            fields.append("priority")
    if assignee_id is not _UNSET and assignee_id != ticket.assignee_id:
        if assignee_id is not None:
            _check_assignee(organization=organization, ticket=ticket, user_id=assignee_id)
        ticket.assignee_id = assignee_id
        fields.append("assignee")
    if fields:
        ticket.updated_at = timezone.now()
        ticket.save(update_fields=[*fields, "updated_at"])
    return ticket
