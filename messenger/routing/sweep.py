"""The minute's job of automatic assignment (``messenger.routing.sweep``), three steps, each
safe to run twice:

(a) conversations automatic assignment should hold but that are neither assigned nor queued
    (their routing task was lost) are routed;
(b) an agent offline for longer than the organization's grace (unless it turned the rule off)
    loses their open conversations of channels with assignment on: back to the queue, a
    `requeued` system line each, then routed to others (once per offline spell: requeued_at);
(c) while the queue is not empty, online agents with room are given from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import DateTimeField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from availability.models import Availability, Status
from availability.selectors import offline_past_grace
from availability.services import availability_requeued_mark
from channels.models import Channel
from messenger.conversation_changes import ASSIGNMENT, conversation_rows_told
from messenger.models import Conversation, ConversationEvent, ConversationState
from messenger.routing import rules
from messenger.routing.drain import organization_backlog_drain
from messenger.routing.route import conversations_route, routable_filter
from messenger.services.conversations.events import member_name

BATCH_SIZE = 500


@dataclass
class SweepReport:
    routed: int = 0
    requeued: int = 0
    drained: int = 0


def routing_sweep(*, now: datetime | None = None) -> SweepReport:
    now = now or timezone.now()
    report = SweepReport()
    # The channels first (few): their conversations are then read through the channel index.
    assigning = list(
        Channel.objects.filter(
            assignment_mode__in=rules.ASSIGNING_MODES, is_enabled=True, deleted_at__isnull=True
        ).values_list("pk", flat=True)
    )
    lost = list(
        Conversation.objects.filter(routable_filter(), channel_id__in=assigning, queued_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:BATCH_SIZE]
    )
    report.routed = len(conversations_route(conversation_ids=lost).assigned)
    requeued = offline_agents_requeue(now=now)
    report.requeued = len(requeued)
    conversations_route(conversation_ids=requeued)
    organization_ids = (
        Conversation.objects.filter(routable_filter(), channel_id__in=assigning, queued_at__isnull=False)
        .order_by()
        .values_list("organization_id", flat=True)
        .distinct()
    )
    for organization_id in list(organization_ids):
        report.drained += organization_backlog_drain(organization_id=organization_id)
    return report


def offline_agents_requeue(*, now: datetime) -> list[int]:
    """Step (b): the conversations sent back to the queue. Who is due is availability's rule
    (offline past their organization's grace, not yet requeued in this spell, requeueing on)."""
    requeued: list[int] = []
    for availability_id in list(offline_past_grace(at=now).values_list("pk", flat=True)[:BATCH_SIZE]):
        requeued += _agent_requeue(availability_id=availability_id, now=now)
    return requeued


@transaction.atomic
def _agent_requeue(*, availability_id: int, now: datetime) -> list[int]:
    availability = (
        Availability.objects.select_for_update(of=("self",))
        .filter(pk=availability_id, status=Status.OFFLINE)
        .filter(requeued_at__isnull=True)
        .select_related("membership__user")
        .first()
    )
    if availability is None:  # came back, or requeued by another run
        return []
    user = availability.membership.user
    held = list(
        Conversation.objects.select_for_update(of=("self",))
        .filter(
            organization_id=availability.organization_id,
            assignee_id=user.pk,
            state=ConversationState.OPEN,
            channel__assignment_mode__in=rules.ASSIGNING_MODES,
            channel__deleted_at__isnull=True,
        )
        .order_by("pk")
        .values_list("pk", "channel_id")
    )
    if held:
        conversation_rows_told(
            ((availability.organization_id, channel_id, pk, None) for pk, channel_id in held), what=ASSIGNMENT
        )
        held_ids = [pk for pk, _channel_id in held]
        Conversation.objects.filter(pk__in=held_ids).update(
            assignee=None, queued_at=Coalesce("waiting_since", Value(now, output_field=DateTimeField())), updated_at=now
        )
        name = member_name(user)
        ConversationEvent.objects.bulk_create(
            [
                ConversationEvent(
                    organization_id=availability.organization_id,
                    conversation_id=conversation_id,
                    kind=ConversationEvent.Kind.REQUEUED,
                    data={"previous": name, "previous_user_id": user.pk, "reason": rules.REQUEUED_OFFLINE},
                )
                for conversation_id in held_ids
            ],
            batch_size=BATCH_SIZE,
        )
    availability_requeued_mark(availability_ids=[availability.pk], at=now)
    return [pk for pk, _channel_id in held]
