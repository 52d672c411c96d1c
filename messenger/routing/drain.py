"""Draining the queue: an agent who comes online, closes a conversation or gains capacity is
given the oldest queued conversations (by ``queued_at``) of the channels with assignment on
that they may take, up to their room. Set-based: one batch is a handful of statements, the
agent's row lock held throughout."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from availability.models import Availability, Status
from helpdesk.models import Membership
from messenger.models import Conversation
from messenger.routing import rules
from messenger.routing.candidates import assignable_channel_ids, default_capacity, open_load
from messenger.routing.route import assignment_write, routable_filter
from messenger.routing.triggers import drain_on_commit


@transaction.atomic
def agent_backlog_drain(*, membership: Membership) -> int:
    """Assign the agent up to their room of the oldest queued conversations they may take
    (their Availability row locked, the conversations claimed with SKIP LOCKED: concurrent
    drains share the queue, never a conversation). Returns how many they were given."""
    if not membership.is_active:
        return 0
    locked = list(
        Availability.objects.select_for_update()
        .filter(membership_id=membership.pk, organization_id=membership.organization_id, status=Status.ONLINE)
        .values_list("capacity", flat=True)
    )
    if not locked:
        return 0
    organization = membership.organization
    capacity = locked[0] or default_capacity(organization_id=organization.pk)
    room = capacity - open_load(organization_id=organization.pk, user_id=membership.user_id)
    if room <= 0:
        return 0
    channel_ids = list(assignable_channel_ids(organization=organization, membership=membership))
    if not channel_ids:
        return 0
    claimed = list(
        Conversation.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(routable_filter(), organization=organization, queued_at__isnull=False, channel_id__in=channel_ids)
        .order_by("queued_at", "id")
        .values_list("pk", "channel_id")[:room]
    )
    if not claimed:
        return 0
    return assignment_write(
        organization=organization,
        claimed=claimed,
        membership_id=membership.pk,
        user=membership.user,
        by=rules.BY_QUEUE,
    )


def agent_backlog_drain_by_id(*, membership_id: int) -> int:
    """The drain task's entry: the member by id (gone: nothing to do)."""
    membership = Membership.objects.select_related("organization", "user").filter(pk=membership_id).first()
    return 0 if membership is None else agent_backlog_drain(membership=membership)


def organization_backlog_drain(*, organization_id: int) -> int:
    """Drain to every online agent of the organization, oldest online first, while the queue lasts."""
    queue = Conversation.objects.filter(routable_filter(), organization_id=organization_id, queued_at__isnull=False)
    if not queue.exists():
        return 0
    members = (
        Membership.objects.filter(organization_id=organization_id, is_active=True, availability__status=Status.ONLINE)
        .select_related("organization", "user")
        .order_by("availability__status_since", "pk")
    )
    drained = 0
    for membership in members:
        drained += agent_backlog_drain(membership=membership)
    return drained


def room_freed(*, organization_id: int, user_id: int | None) -> None:
    """An agent's open conversation was closed or taken from them: if they are online, the
    queue drains to them once this transaction commits."""
    rooms_freed(organization_id=organization_id, user_ids=[user_id])


def rooms_freed(*, organization_id: int, user_ids: Iterable[int | None]) -> None:
    """``room_freed`` for several agents at once (a bulk action): one query, one drain queued
    per agent who is online."""
    wanted = sorted({user_id for user_id in user_ids if user_id is not None})
    if not wanted:
        return
    membership_ids = (
        Membership.objects.filter(
            organization_id=organization_id, user_id__in=wanted, is_active=True, availability__status=Status.ONLINE
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for membership_id in membership_ids:
        drain_on_commit(membership_id)
