"""Who may take a channel's conversation now, and an agent's load and capacity.

A candidate is who manual assignment would accept (``messenger.selectors.visibility
.member_list_assignable``, which asks channels.visibility) AND is associated with the channel
(an admin sees every channel but is assigned automatically only where associated as an
agent), whose status is online, with room: fewer open conversations assigned to them (in the
whole organization) than their capacity (their own, else the organization's default).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from availability.models import CAPACITY_DEFAULT, Availability, AvailabilitySettings, Status
from channels import visibility
from channels.models import AgentChannel, Channel
from helpdesk.models import Membership, Organization
from messenger.models import Conversation, ConversationState
from messenger.routing.rules import ASSIGNING_MODES, Candidate
from messenger.selectors import visibility as visibility_selectors


def default_capacity(*, organization_id: int) -> int:
    """The organization's capacity for agents without their own (5 when it set none)."""
    value = (
        AvailabilitySettings.objects.filter(organization_id=organization_id)
        .values_list("default_capacity", flat=True)
        .first()
    )
    return value or CAPACITY_DEFAULT


def open_load_filter(*, organization_id: int, user_id: Any) -> Q:
    """An agent's load: their open conversations (the partial conversation_open_assignee_idx)."""
    return Q(organization_id=organization_id, assignee_id=user_id, state=ConversationState.OPEN)


def open_load(*, organization_id: int, user_id: int) -> int:
    return Conversation.objects.filter(open_load_filter(organization_id=organization_id, user_id=user_id)).count()


def open_loads(*, organization_id: int, user_ids: list[int]) -> dict[int, int]:
    """Several agents' loads in one query (absent: none)."""
    rows = (
        Conversation.objects.filter(
            organization_id=organization_id, assignee_id__in=user_ids, state=ConversationState.OPEN
        )
        .order_by()
        .values_list("assignee_id")
        .annotate(n=Count("pk"))
    )
    return dict(rows)


def capacity_of(*, organization_id: int, membership_id: int) -> int:
    own = Availability.objects.filter(membership_id=membership_id).values_list("capacity", flat=True).first()
    return own or default_capacity(organization_id=organization_id)


def channel_candidates(*, organization: Organization, channel: Channel) -> list[Candidate]:
    """The channel's candidates with room, unranked (one query)."""
    links = AgentChannel.objects.filter(organization=organization, channel=channel)
    load = (
        Conversation.objects.filter(
            organization=organization, assignee_id=OuterRef("user_id"), state=ConversationState.OPEN
        )
        .order_by()
        .values("assignee_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = (
        visibility_selectors.member_list_assignable(organization=organization, channel_id=channel.pk)
        .filter(pk__in=links.values("membership_id"), availability__status=Status.ONLINE)
        .annotate(
            open_load=Coalesce(Subquery(load, output_field=IntegerField()), Value(0)),
            room_capacity=Coalesce("availability__capacity", Value(default_capacity(organization_id=organization.pk))),
            channel_last_assigned_at=Subquery(
                links.filter(membership_id=OuterRef("pk")).values("last_assigned_at")[:1]
            ),
        )
        .filter(open_load__lt=F("room_capacity"))
        .order_by()
        .values_list("pk", "user_id", "open_load", "room_capacity", "channel_last_assigned_at")
    )
    return [Candidate(*row) for row in rows]


def assignable_channel_ids(*, organization: Organization, membership: Membership) -> QuerySet[Any, Any]:
    """The live channels with assignment on whose conversations this member may be given
    automatically (a subquery of channel ids): associated with them, and seeing them."""
    links = AgentChannel.objects.filter(
        organization=organization,
        membership=membership,
        channel__assignment_mode__in=ASSIGNING_MODES,
        channel__is_enabled=True,
        channel__deleted_at__isnull=True,
    )
    visible = visibility.visible_channel_ids(organization=organization, membership=membership)
    if visible is not None:
        links = links.filter(channel_id__in=visible)
    return links.values_list("channel_id", flat=True)
