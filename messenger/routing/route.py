"""Routing: each open, unassigned conversation of a live channel whose assignment is on (and
whose customer is not blocked) goes to the best candidate with room by the channel's rule, or
else waits in the queue (``queued_at``), oldest first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from availability.models import Availability, Status
from channels.models import AgentChannel, Channel
from helpdesk.models import Organization
from messenger.models import Contact, Conversation, ConversationEvent, ConversationState
from messenger.routing import rules
from messenger.routing.candidates import channel_candidates, default_capacity, open_load
from messenger.routing.triggers import route_on_commit
from messenger.services.conversations.events import member_name

# Ranking is read before the agent's lock; when the chosen agent was given a conversation in
# between (a drain), the ranking is read again, at most this many times.
RANK_ATTEMPTS = 5
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
    """Route each conversation in its own transaction, in the order given; those not routable
    are left alone. Safe to run twice and concurrently."""
    report = RouteReport()
    for conversation_id in dict.fromkeys(conversation_ids):
        with transaction.atomic():
            outcome = _route_one(conversation_id)
        if outcome == "assigned":
            report.assigned.append(conversation_id)
        elif outcome == "queued":
            report.queued.append(conversation_id)
    return report


def _route_one(conversation_id: int) -> str:
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .filter(routable_filter(), pk=conversation_id)
        .select_related("channel", "organization")
        .first()
    )
    if conversation is None:
        return ""
    _take_channel_turn(conversation.channel_id)
    assignee = _assign_to_best(conversation)
    if assignee is not None:
        return "assigned"
    if conversation.queued_at is None:
        Conversation.objects.filter(pk=conversation.pk, queued_at__isnull=True).update(
            queued_at=Coalesce("waiting_since", Now()), updated_at=timezone.now()
        )
    return "queued"


def _take_channel_turn(channel_id: int) -> None:
    """Wait for this channel's other routers (SQLite has one writer at a time anyway)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        # The two-int4 form; ids beyond int4 fold (two channels sharing a key only wait more).
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CHANNEL_TURN_LOCK, channel_id % 2**31])


def _assign_to_best(conversation: Conversation) -> Any:
    """The candidate it was given to (their user), or None when nobody online has room.
    Called with the conversation locked."""
    organization, channel = conversation.organization, conversation.channel
    for attempt in range(RANK_ATTEMPTS):
        candidates = channel_candidates(organization=organization, channel=channel)
        ranking = rules.ranked(candidates, mode=channel.assignment_mode)
        if not ranking:
            return None
        for candidate in ranking:
            savepoint = transaction.savepoint()
            outcome = _try_candidate(conversation, candidate, channel=channel, check_stale=attempt < RANK_ATTEMPTS - 1)
            if outcome == "taken":
                transaction.savepoint_commit(savepoint)
                return candidate.user_id
            # Rolling back to the savepoint also releases the agent's row lock.
            transaction.savepoint_rollback(savepoint)
            if outcome == "stale":
                break
        else:
            return None
    return None


def _try_candidate(
    conversation: Conversation, candidate: rules.Candidate, *, channel: Channel, check_stale: bool
) -> str:
    """Lock the agent and give them the conversation if they still have room: "taken",
    "full" (offline now, or no room), or "stale" (given another conversation meanwhile: rank again)."""
    locked = (
        Availability.objects.select_for_update()
        .filter(membership_id=candidate.membership_id, status=Status.ONLINE)
        .values_list("capacity", flat=True)
    )
    rows = list(locked)
    if not rows:
        return "full"
    capacity = rows[0] or default_capacity(organization_id=conversation.organization_id)
    load = open_load(organization_id=conversation.organization_id, user_id=candidate.user_id)
    if load >= capacity:
        return "full"
    if check_stale:
        last = (
            AgentChannel.objects.filter(membership_id=candidate.membership_id, channel=channel)
            .values_list("last_assigned_at", flat=True)
            .first()
        )
        if last != candidate.last_assigned_at or load != candidate.load:
            return "stale"
    assignment_write(
        organization=conversation.organization,
        conversation_ids=[conversation.pk],
        membership_id=candidate.membership_id,
        user=get_user_model().objects.get(pk=candidate.user_id),
        channel_ids=[channel.pk],
        by=rules.by_code(channel.assignment_mode),
    )
    return "taken"


def assignment_write(
    *,
    organization: Organization,
    conversation_ids: list[int],
    membership_id: int,
    user: Any,
    channel_ids: Iterable[int],
    by: str,
) -> int:
    """Give these claimed conversations (locked by the caller, unassigned) to the agent, whose
    Availability row the caller holds locked: one UPDATE, one INSERT of system lines, one
    UPDATE of the agent's rotation. Returns how many were assigned."""
    if not conversation_ids:
        return 0
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
    return len(conversation_ids)
