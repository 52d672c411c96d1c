"""Routing: each open, unassigned conversation of a live channel whose assignment is on (and
whose customer is not blocked) goes to the best candidate with room by the channel's rule, or
else waits in the queue (``queued_at``), oldest first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Case, Exists, OuterRef, Q, Value, When
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from availability.models import Availability, Status
from channels.models import AgentChannel, Channel
from helpdesk import signals
from helpdesk.models import Organization
from messenger.conversation_changes import ASSIGNMENT, conversation_rows_told, conversations_signalled
from messenger.models import Contact, Conversation, ConversationEvent, ConversationState
from messenger.routing import rules
from messenger.routing.candidates import channel_candidates, default_capacity, open_loads
from messenger.routing.triggers import drain_request_clear, route_on_commit
from messenger.services.conversations.events import member_name

# Routers of one channel take turns (PostgreSQL advisory lock, key (this, channel id), held
# until commit): racing for the same best agent, they would otherwise rank again and again, and
# the rotation would drift. Taken after the conversation's lock and before any agent's.
CHANNEL_TURN_LOCK = 15_001


def routable_filter() -> Q:
    """Conversations automatic assignment may give out: open, unassigned, in a live channel
    whose assignment is on, of a customer who is not blocked (an anti-join against the few
    blocked customers, so that draining a long queue reads no other contact)."""
    blocked = Contact.objects.filter(pk=OuterRef("contact_id"), is_blocked=True)
    return Q(
        ~Exists(blocked),
        state=ConversationState.OPEN,
        assignee__isnull=True,
        channel__is_enabled=True,
        channel__deleted_at__isnull=True,
        channel__assignment_mode__in=rules.ASSIGNING_MODES,
    )


# Conversation ids per routing task queued at once.
ROUTE_TASK_SIZE = 200


def channel_conversations_route_on_commit(*, organization: Organization, channel: Channel) -> int:
    """The channel's assignment was turned on (or changed): its open unassigned conversations
    are routed once this commits, the longest waiting first. Returns how many."""
    ids = list(
        Conversation.objects.filter(routable_filter(), organization=organization, channel=channel)
        .order_by("queued_at", "waiting_since", "pk")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(ids), ROUTE_TASK_SIZE):
        route_on_commit(ids[start : start + ROUTE_TASK_SIZE])
    return len(ids)


@dataclass
class RouteReport:
    assigned: list[int] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)


def conversations_route(*, conversation_ids: Iterable[int]) -> RouteReport:
    """Route these conversations: each routable one joins its channel's queue (if it is not
    in it), then each channel's queue is drained to its online agents with room by the
    channel's rule, oldest first. Those not routable are left alone. Safe to run twice and
    concurrently."""
    ids = list(dict.fromkeys(conversation_ids))
    routable = list(
        Conversation.objects.filter(routable_filter(), pk__in=ids).values_list("pk", "organization_id", "channel_id")
    )
    if not routable:
        return RouteReport()
    Conversation.objects.filter(pk__in=[pk for pk, _o, _c in routable], queued_at__isnull=True).update(
        queued_at=Coalesce("waiting_since", Now()), updated_at=timezone.now()
    )
    assigned: set[int] = set()
    for organization_id, channel_id in sorted({(o, c) for _pk, o, c in routable}):
        assigned.update(channel_queue_drain(organization_id=organization_id, channel_id=channel_id))
    return RouteReport(
        assigned=[pk for pk, _o, _c in routable if pk in assigned],
        queued=[pk for pk, _o, _c in routable if pk not in assigned],
    )


def channel_queue_drain_requested(*, channel_id: int) -> list[int]:
    """The drain task's entry: the request is cleared first (a conversation joining after this
    queues another drain), then the channel's queue drained."""
    drain_request_clear(channel_id)
    organization_id = Channel.objects.filter(pk=channel_id).values_list("organization_id", flat=True).first()
    return (
        [] if organization_id is None else channel_queue_drain(organization_id=organization_id, channel_id=channel_id)
    )


@transaction.atomic
def channel_queue_drain(*, organization_id: int, channel_id: int) -> list[int]:
    """Give the channel's queued conversations, oldest first, to its online agents with room
    by its rule (round robin: in turn from the agent given one longest ago; least loaded: to
    the one holding fewest). A handful of statements whatever the batch: the channel's turn
    (routers of one channel take turns), the candidates' Availability rows locked in id order
    and their loads counted under the locks, the conversations claimed with SKIP LOCKED (a
    conversation another assigner holds is left to it), one UPDATE, one INSERT of system
    lines, one UPDATE of the rotation. Returns the ids assigned."""
    channel = (
        Channel.objects.select_related("organization")
        .filter(pk=channel_id, organization_id=organization_id, assignment_mode__in=rules.ASSIGNING_MODES)
        .filter(is_enabled=True, deleted_at__isnull=True)
        .first()
    )
    if channel is None:
        return []
    _take_channel_turn(channel.pk)
    organization = channel.organization
    candidates = channel_candidates(organization=organization, channel=channel)
    if not candidates:
        return []
    # Locked in id order (as any assigner locking several agents does), then counted again.
    locked = dict(
        Availability.objects.select_for_update()
        .filter(membership_id__in=[c.membership_id for c in candidates], status=Status.ONLINE)
        .order_by("pk")
        .values_list("membership_id", "capacity")
    )
    fallback = default_capacity(organization_id=organization.pk)
    loads = open_loads(organization_id=organization.pk, user_ids=[c.user_id for c in candidates])
    seats = [
        rules.Candidate(
            c.membership_id, c.user_id, loads.get(c.user_id, 0), locked[c.membership_id] or fallback, c.last_assigned_at
        )
        for c in candidates
        if c.membership_id in locked
    ]
    room = sum(max(0, seat.capacity - seat.load) for seat in seats)
    if room <= 0:
        return []
    claimed = list(
        Conversation.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(routable_filter(), organization=organization, channel=channel, queued_at__isnull=False)
        .order_by("queued_at", "id")
        .values_list("pk", flat=True)[:room]
    )
    given = rules.distribute(claimed, seats, mode=channel.assignment_mode)
    if not given:
        return []
    _assignments_write(organization=organization, channel=channel, given=given)
    return [conversation_id for conversation_id, _seat in given]


def _assignments_write(
    *, organization: Organization, channel: Channel, given: list[tuple[int, rules.Candidate]]
) -> None:
    """The claimed conversations to their agents (one UPDATE), a system line each (one INSERT),
    each agent's place in the rotation: the time of their last conversation of the batch, in
    the order given (one UPDATE)."""
    now = timezone.now()
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in={seat.user_id for _c, seat in given})}
    Conversation.objects.filter(pk__in=[c for c, _seat in given], assignee__isnull=True).update(
        assignee_id=Case(*(When(pk=c, then=Value(seat.user_id)) for c, seat in given)),
        queued_at=None,
        updated_at=now,
    )
    by = rules.by_code(channel.assignment_mode)
    names = {user_id: member_name(user) for user_id, user in users.items()}
    ConversationEvent.objects.bulk_create(
        [
            ConversationEvent(
                organization=organization,
                conversation_id=conversation_id,
                kind=ConversationEvent.Kind.ASSIGNED,
                data={"to": names[seat.user_id], "to_user_id": seat.user_id, "by": by},
            )
            for conversation_id, seat in given
        ]
    )
    conversation_rows_told(
        ((organization.pk, channel.pk, conversation_id, seat.user_id) for conversation_id, seat in given),
        what=ASSIGNMENT,
    )
    conversations_signalled(
        organization_id=organization.pk,
        type=signals.CONVERSATION_ASSIGNED,
        conversation_ids=[conversation_id for conversation_id, _seat in given],
    )
    last = {seat.membership_id: now + timedelta(microseconds=n) for n, (_c, seat) in enumerate(given)}
    AgentChannel.objects.filter(organization=organization, channel=channel, membership_id__in=list(last)).update(
        last_assigned_at=Case(*(When(membership_id=m, then=Value(at)) for m, at in last.items()))
    )


def _take_channel_turn(channel_id: int) -> None:
    """Wait for this channel's other routers (SQLite has one writer at a time anyway)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        # The two-int4 form; ids beyond int4 fold (two channels sharing a key only wait more).
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CHANNEL_TURN_LOCK, channel_id % 2**31])


def assignment_write(
    *,
    organization: Organization,
    claimed: Sequence[tuple[int, int]],
    membership_id: int,
    user: Any,
    by: str,
) -> int:
    """Give these claimed conversations ((id, channel id), locked by the caller, unassigned) to
    the agent, whose Availability row the caller holds locked: one UPDATE, one INSERT of system
    lines, one UPDATE of the agent's rotation. Returns how many were assigned."""
    if not claimed:
        return 0
    conversation_ids = [pk for pk, _channel_id in claimed]
    channel_ids = {channel_id for _pk, channel_id in claimed}
    now = timezone.now()
    Conversation.objects.filter(pk__in=conversation_ids, assignee__isnull=True).update(
        assignee_id=user.pk, queued_at=None, updated_at=now
    )
    name = member_name(user)
    ConversationEvent.objects.bulk_create(
        [
            ConversationEvent(
                organization=organization,
                conversation_id=conversation_id,
                kind=ConversationEvent.Kind.ASSIGNED,
                data={"to": name, "to_user_id": user.pk, "by": by},
            )
            for conversation_id in conversation_ids
        ]
    )
    AgentChannel.objects.filter(
        organization=organization, membership_id=membership_id, channel_id__in=list(channel_ids)
    ).update(last_assigned_at=now)
    conversation_rows_told(((organization.pk, channel_id, pk, user.pk) for pk, channel_id in claimed), what=ASSIGNMENT)
    conversations_signalled(
        organization_id=organization.pk, type=signals.CONVERSATION_ASSIGNED, conversation_ids=conversation_ids
    )
    return len(conversation_ids)
