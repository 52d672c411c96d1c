"""Writes of availability: the member's status and its history, their heartbeat, capacities
and the organization's rules; the sweep that sets idle members away and tab-less ones offline.

Every status change goes through `_status_apply` on rows locked for it: the member's row
holds the status, and its lock makes two concurrent changes take turns, so that one member
never has two open spells. Layers above learn of changes through `availability.signals`,
sent after commit.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from availability.models import (
    CAPACITY_MAX,
    CAPACITY_MIN,
    IDLE_MINUTES_DEFAULT,
    IDLE_MINUTES_MAX,
    IDLE_MINUTES_MIN,
    OFFLINE_GRACE_MINUTES_MAX,
    Availability,
    AvailabilityChange,
    AvailabilitySettings,
    ChangeReason,
    Status,
)
from availability.signals import capacity_changed, status_changed
from helpdesk.exceptions import InvalidCapacity, InvalidInput, InvalidStatus
from helpdesk.models import Membership, Organization

logger = logging.getLogger(__name__)

# A tab heartbeats every minute (availability/static/availability/presence.js): three missed
# beats mean no tab is open any more.
NO_TAB_SECONDS = 3 * 60
SWEEP_BATCH_SIZE = 500


def _send_robust(signal: Any, **kwargs: Any) -> None:
    for receiver, answer in signal.send_robust(sender=Availability, **kwargs):
        if isinstance(answer, Exception):
            logger.error("availability signal receiver %r failed", receiver, exc_info=answer)


def availability_get_or_create(*, membership: Membership) -> Availability:
    """The member's availability row, created offline on first use."""
    found = Availability.objects.filter(membership=membership).first()
    if found is not None:
        return found
    availability, _created = Availability.objects.get_or_create(
        membership=membership,
        defaults={
            "organization_id": membership.organization_id,
            "status": Status.OFFLINE,
            "status_since": timezone.now(),
        },
    )
    return availability


def _status_apply(
    rows: Iterable[Availability], *, status: str, reason: str, acting_user: Any, at: datetime
) -> list[Availability]:
    """Move these locked rows to `status`: the open spells end at `at`, new ones start.

    Rows already in `status` are left alone. Must run inside the transaction that locked them.
    """
    changed = [row for row in rows if row.status != status]
    if not changed:
        return []
    old_statuses = {row.pk: row.status for row in changed}
    membership_ids = [row.membership_id for row in changed]
    AvailabilityChange.objects.filter(membership_id__in=membership_ids, ended_at__isnull=True).update(ended_at=at)
    AvailabilityChange.objects.bulk_create(
        AvailabilityChange(
            organization_id=row.organization_id,
            membership_id=row.membership_id,
            status=status,
            reason=reason,
            changed_by=acting_user if getattr(acting_user, "pk", None) else None,
            started_at=at,
        )
        for row in changed
    )
    # requeued_at marks the offline spell whose conversations went back to the queue: a new
    # spell starts unmarked.
    Availability.objects.filter(pk__in=[row.pk for row in changed]).update(
        status=status, status_since=at, requeued_at=None
    )
    for row in changed:
        old_status = old_statuses[row.pk]
        row.status, row.status_since, row.requeued_at = status, at, None
        transaction.on_commit(
            functools.partial(
                _send_robust,
                status_changed,
                organization=row.organization,
                membership=row.membership,
                old_status=old_status,
                new_status=status,
                reason=reason,
            )
        )
    return changed


def availability_set(
    *,
    membership: Membership,
    status: str,
    reason: str,
    acting_user: Any = None,
    at: datetime | None = None,
) -> Availability:
    """Set the member's status (InvalidStatus for anything but online, away, offline).

    Setting the status they already have changes nothing and sends nothing."""
    if status not in Status.values:
        raise InvalidStatus(details={"status": status if isinstance(status, str) else None})
    if reason not in ChangeReason.values:
        raise InvalidInput(details={"reason": reason})
    at = at or timezone.now()
    availability_get_or_create(membership=membership)
    with transaction.atomic():
        availability = (
            Availability.objects.select_for_update(of=("self",))
            .select_related("organization", "membership")
            .get(membership=membership)
        )
        _status_apply([availability], status=status, reason=reason, acting_user=acting_user, at=at)
    return availability


def activity_record(*, membership: Membership, input_seen: bool, at: datetime | None = None) -> Availability:
    """A tab's heartbeat: the member has a tab open, and (`input_seen`) used it since the last beat.

    One SELECT and one UPDATE when the status stays; an agent the product had set away for
    idleness comes back online when input is seen."""
    at = at or timezone.now()
    availability = availability_get_or_create(membership=membership)
    seen: dict[str, datetime] = {"last_seen_at": at}
    if input_seen:
        seen["last_activity_at"] = at
    Availability.objects.filter(pk=availability.pk).update(**seen)
    for field, value in seen.items():
        setattr(availability, field, value)
    if input_seen and availability.status == Status.AWAY:
        with transaction.atomic():
            locked = (
                Availability.objects.select_for_update(of=("self",))
                .select_related("organization", "membership")
                .get(pk=availability.pk)
            )
            open_reason = (
                AvailabilityChange.objects.filter(membership_id=locked.membership_id, ended_at__isnull=True)
                .values_list("reason", flat=True)
                .first()
            )
            if locked.status == Status.AWAY and open_reason == ChangeReason.IDLE:
                _status_apply([locked], status=Status.ONLINE, reason=ChangeReason.ACTIVE, acting_user=None, at=at)
        return locked
    return availability


def tab_seen(*, membership_id: int, at: datetime | None = None) -> None:
    """An open live stream (live.streams) is an open tab: the member's last sign of one, in
    one UPDATE. A member without an availability row is offline already: nothing to keep."""
    Availability.objects.filter(membership_id=membership_id).update(last_seen_at=at or timezone.now())


def availability_settings_get(*, organization: Organization) -> AvailabilitySettings:
    """The organization's availability rules (created with the defaults on first use)."""
    found = AvailabilitySettings.objects.filter(organization=organization).first()
    if found is not None:
        return found
    availability_settings, _created = AvailabilitySettings.objects.get_or_create(organization=organization)
    return availability_settings


def _check_capacity(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not CAPACITY_MIN <= value <= CAPACITY_MAX:
        raise InvalidCapacity(details={"capacity": [str(InvalidCapacity.default_message)]})
    return value


def availability_capacity_set(*, membership: Membership, capacity: int | None, acting_user: Any = None) -> Availability:
    """The member's own capacity (1–100), or None for the organization's default."""
    if capacity is not None:
        capacity = _check_capacity(capacity)
    availability_get_or_create(membership=membership)
    with transaction.atomic():
        availability = (
            Availability.objects.select_for_update(of=("self",))
            .select_related("organization", "membership")
            .get(membership=membership)
        )
        if availability.capacity == capacity:
            return availability
        availability.capacity = capacity
        availability.save(update_fields=["capacity"])
        transaction.on_commit(
            lambda: _send_robust(
                capacity_changed, organization=availability.organization, membership=availability.membership
            )
        )
    return availability


def availability_settings_update(
    *,
    organization: Organization,
    acting_user: Any = None,
    default_capacity: int,
    idle_minutes: int,
    requeue_when_offline: bool,
    offline_grace_minutes: int,
) -> AvailabilitySettings:
    """The organization's rules; out-of-range numbers raise InvalidCapacity or InvalidInput."""
    default_capacity = _check_capacity(default_capacity)
    if not IDLE_MINUTES_MIN <= idle_minutes <= IDLE_MINUTES_MAX:
        raise InvalidInput(details={"idle_minutes": [f"{IDLE_MINUTES_MIN}–{IDLE_MINUTES_MAX}"]})
    if not 0 <= offline_grace_minutes <= OFFLINE_GRACE_MINUTES_MAX:
        raise InvalidInput(details={"offline_grace_minutes": [f"0–{OFFLINE_GRACE_MINUTES_MAX}"]})
    availability_settings_get(organization=organization)
    with transaction.atomic():
        rules = AvailabilitySettings.objects.select_for_update().get(organization=organization)
        old_capacity = rules.default_capacity
        rules.default_capacity = default_capacity
        rules.idle_minutes = idle_minutes
        rules.requeue_when_offline = requeue_when_offline
        rules.offline_grace_minutes = offline_grace_minutes
        rules.save(update_fields=["default_capacity", "idle_minutes", "requeue_when_offline", "offline_grace_minutes"])
        if old_capacity != default_capacity:
            transaction.on_commit(lambda: _send_robust(capacity_changed, organization=organization, membership=None))
    return rules


def availability_requeued_mark(*, availability_ids: Iterable[int], at: datetime | None = None) -> int:
    """Mark these offline spells as requeued (their conversations went back to the queue), once:
    rows no longer offline, or already marked, are left alone. The number marked."""
    return Availability.objects.filter(
        pk__in=list(availability_ids), status=Status.OFFLINE, requeued_at__isnull=True
    ).update(requeued_at=at or timezone.now())


# --- The sweep ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    set_away: int
    set_offline: int


def _sweep_batches(candidates: Q, *, status: str, reason: str, at: datetime, batch_size: int) -> int:
    """Move the rows matching `candidates` to `status`, a batch per transaction; rows another
    worker holds are skipped (the next run takes them)."""
    moved = 0
    while True:
        with transaction.atomic():
            batch = list(
                Availability.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("organization", "membership")
                .filter(candidates)
                .order_by("pk")[:batch_size]
            )
            if not batch:
                return moved
            moved += len(_status_apply(batch, status=status, reason=reason, acting_user=None, at=at))
        if len(batch) < batch_size:
            return moved


def availability_sweep(*, at: datetime | None = None, batch_size: int = SWEEP_BATCH_SIZE) -> SweepResult:
    """Online members without input for their organization's idle time → away (IDLE); online
    or away members without a tab heartbeat for NO_TAB_SECONDS → offline (NO_TAB).

    A fresh status counts as a sign of life (`status_since`), so that a member who has just
    chosen online is not swept before their first heartbeat. A second run changes nothing."""
    at = at or timezone.now()
    no_tab_before = at - timedelta(seconds=NO_TAB_SECONDS)
    no_tab = (
        Q(status__in=[Status.ONLINE, Status.AWAY])
        & Q(status_since__lt=no_tab_before)
        & (Q(last_seen_at__lt=no_tab_before) | Q(last_seen_at__isnull=True))
    )
    set_offline = _sweep_batches(
        no_tab, status=Status.OFFLINE, reason=ChangeReason.NO_TAB, at=at, batch_size=batch_size
    )

    # One query per idle time in use: the organizations with their own, and the rest on the default.
    own_idle = dict(
        AvailabilitySettings.objects.exclude(idle_minutes=IDLE_MINUTES_DEFAULT).values_list(
            "organization_id", "idle_minutes"
        )
    )
    by_minutes: dict[int, list[int]] = {}
    for organization_id, minutes in own_idle.items():
        by_minutes.setdefault(minutes, []).append(organization_id)
    set_away = 0
    scopes = [(IDLE_MINUTES_DEFAULT, ~Q(organization_id__in=list(own_idle)))]
    scopes += [(minutes, Q(organization_id__in=ids)) for minutes, ids in by_minutes.items()]
    for minutes, scope in scopes:
        idle_before = at - timedelta(minutes=minutes)
        idle = (
            scope
            & Q(status=Status.ONLINE)
            & Q(status_since__lt=idle_before)
            & (Q(last_activity_at__lt=idle_before) | Q(last_activity_at__isnull=True))
        )
        set_away += _sweep_batches(idle, status=Status.AWAY, reason=ChangeReason.IDLE, at=at, batch_size=batch_size)
    return SweepResult(set_away=set_away, set_offline=set_offline)


def availability_logged_out(*, user: Any, at: datetime | None = None) -> None:
    """Signing out sets the user offline in every organization they belong to (LOGOUT).

    Signing in changes nothing: the member chooses when to go online."""
    if user is None or not getattr(user, "pk", None):
        return
    at = at or timezone.now()
    with transaction.atomic():
        rows = list(
            Availability.objects.select_for_update(of=("self",))
            .select_related("organization", "membership")
            .filter(membership__user_id=user.pk)
            .exclude(status=Status.OFFLINE)
            .order_by("pk")
        )
        _status_apply(rows, status=Status.OFFLINE, reason=ChangeReason.LOGOUT, acting_user=user, at=at)
