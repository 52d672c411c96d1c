"""Reads of availability: a member's status and capacity, who is online, time per status."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from availability.models import (
    CAPACITY_DEFAULT,
    OFFLINE_GRACE_MINUTES_DEFAULT,
    Availability,
    AvailabilityChange,
    AvailabilitySettings,
    Status,
)
from helpdesk import datetimes
from helpdesk.models import Membership, Organization


def availability_of(*, membership: Membership) -> Availability:
    """The member's availability; an unsaved offline one when nothing was recorded yet (a read
    never writes)."""
    found = Availability.objects.filter(membership=membership).first()
    if found is not None:
        return found
    return availability_of_member_unrecorded(membership)


def status_reason_of(*, membership: Membership) -> str | None:
    """Why the member is in their current status (the reason of their open spell), or None."""
    return (
        AvailabilityChange.objects.filter(
            organization_id=membership.organization_id, membership=membership, ended_at__isnull=True
        )
        .order_by("-started_at", "-id")
        .values_list("reason", flat=True)
        .first()
    )


def default_capacity_of(*, organization: Organization) -> int:
    value = (
        AvailabilitySettings.objects.filter(organization=organization)
        .values_list("default_capacity", flat=True)
        .first()
    )
    return CAPACITY_DEFAULT if value is None else value


def capacity_of(*, membership: Membership) -> int:
    """How many open conversations the member may hold at once: their own, else the organization's default."""
    own = Availability.objects.filter(membership=membership).values_list("capacity", flat=True).first()
    if own is not None:
        return own
    return default_capacity_of(organization=membership.organization)


def capacities_of(*, organization: Organization, membership_ids: Iterable[int]) -> dict[int, int]:
    """`capacity_of` for many members at once (two queries)."""
    ids = list(membership_ids)
    default = default_capacity_of(organization=organization)
    own: dict[int, int] = {
        membership_id: capacity
        for membership_id, capacity in Availability.objects.filter(
            organization=organization, membership_id__in=ids, capacity__isnull=False
        ).values_list("membership_id", "capacity")
        if capacity is not None
    }
    return {membership_id: own.get(membership_id, default) for membership_id in ids}


def members_online(*, organization: Organization, membership_ids: Iterable[int] | None = None) -> QuerySet[Membership]:
    """The organization's active members whose status is online (optionally among these ids)."""
    members = Membership.objects.filter(
        organization=organization, is_active=True, availability__status=Status.ONLINE
    ).order_by("pk")
    if membership_ids is not None:
        members = members.filter(pk__in=list(membership_ids))
    return members


def availability_list(*, organization: Organization) -> QuerySet[Membership]:
    """The organization's active members with their availability (`membership.availability`
    may be missing: never recorded, i.e. offline; see `availability_of_member`)."""
    return (
        Membership.objects.filter(organization=organization, is_active=True)
        .select_related("user", "availability")
        .order_by("user__username")
    )


def availability_of_member(membership: Membership) -> Availability:
    """The availability of a member read through `availability_list` (no query)."""
    try:
        return membership.availability
    except Availability.DoesNotExist:
        return availability_of_member_unrecorded(membership)


def availability_of_member_unrecorded(membership: Membership) -> Availability:
    """What a member whose status was never recorded is: offline since they joined (unsaved)."""
    return Availability(
        organization_id=membership.organization_id,
        membership=membership,
        status=Status.OFFLINE,
        status_since=membership.created_at,
    )


def availabilities_by_member(*, organization: Organization, membership_ids: Iterable[int]) -> dict[int, Availability]:
    return {
        availability.membership_id: availability
        for availability in Availability.objects.filter(
            organization=organization, membership_id__in=list(membership_ids)
        )
    }


def status_durations(
    *,
    organization: Organization,
    membership: Membership,
    start: date,
    end: date,
    now: datetime | None = None,
) -> dict[date, dict[str, timedelta]]:
    """Time the member spent in each status on each day from `start` to `end` (both included),
    days in the organization's time zone; a spell across midnight counts on both days, an
    open spell up to `now`. Every day and every status is in the answer (zero when none)."""
    now = now or timezone.now()
    zone = datetimes.zone(organization.time_zone)
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    result: dict[date, dict[str, timedelta]] = {day: {status: timedelta(0) for status in Status.values} for day in days}
    if not days:
        return result
    boundaries = [datetime.combine(day, time.min, tzinfo=zone) for day in [*days, end + timedelta(days=1)]]
    range_start, range_end = boundaries[0], min(boundaries[-1], now)
    spells = AvailabilityChange.objects.filter(
        organization=organization, membership=membership, started_at__lt=range_end
    ).exclude(ended_at__lte=range_start)
    for status, started_at, ended_at in spells.values_list("status", "started_at", "ended_at"):
        spell_start = max(started_at, range_start)
        spell_end = min(ended_at or now, range_end)
        for day, day_start, day_end in zip(days, boundaries, boundaries[1:], strict=False):
            overlap = min(spell_end, day_end) - max(spell_start, day_start)
            if overlap > timedelta(0):
                result[day][status] += overlap
    return result


def offline_past_grace(*, at: datetime | None = None) -> QuerySet[Availability]:
    """Members whose open conversations are due back in the queue: offline for at least their
    organization's grace period, not yet requeued in this offline spell, in an organization
    that returns them (AvailabilitySettings.requeue_when_offline). One query, across
    organizations; a caller that requeues adds `select_for_update(skip_locked=True)` and then
    calls `services.availability_requeued_mark`."""
    at = at or timezone.now()
    rules = list(
        AvailabilitySettings.objects.values_list("organization_id", "requeue_when_offline", "offline_grace_minutes")
    )
    off = [organization_id for organization_id, requeue, _minutes in rules if not requeue]
    own: dict[int, list[int]] = {}
    for organization_id, requeue, minutes in rules:
        if requeue and minutes != OFFLINE_GRACE_MINUTES_DEFAULT:
            own.setdefault(minutes, []).append(organization_id)
    with_own = [organization_id for ids in own.values() for organization_id in ids]
    due = ~Q(organization_id__in=off + with_own) & Q(
        status_since__lte=at - timedelta(minutes=OFFLINE_GRACE_MINUTES_DEFAULT)
    )
    for minutes, ids in own.items():
        due |= Q(organization_id__in=ids) & Q(status_since__lte=at - timedelta(minutes=minutes))
    return (
        Availability.objects.filter(status=Status.OFFLINE, requeued_at__isnull=True)
        .filter(due)
        .select_related("organization", "membership")
        .order_by("pk")
    )
