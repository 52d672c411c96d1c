"""The minute's sweep: idle members away, members without an open tab offline (availability.status.sweep)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from availability import services, signals
from availability.models import Availability, AvailabilityChange, AvailabilitySettings, ChangeReason, Status
from availability.tasks import sweep
from helpdesk.models import Membership
from tests import factories
from tests.availability.test_services import Received
from tests.conftest import Tenant

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def online(
    membership: Membership, *, seen: datetime | None, active: datetime | None, status: str = Status.ONLINE
) -> None:
    services.availability_set(membership=membership, status=status, reason=ChangeReason.CHOSEN, at=T0)
    Availability.objects.filter(membership=membership).update(last_seen_at=seen, last_activity_at=active)


def status_of(membership: Membership) -> tuple[str, str]:
    change = AvailabilityChange.objects.get(membership=membership, ended_at__isnull=True)
    return change.status, change.reason


def test_an_online_member_without_input_for_the_idle_time_goes_away(tenant_a: Tenant) -> None:
    now = T0 + timedelta(minutes=20)
    online(tenant_a.agent, seen=now - timedelta(seconds=30), active=now - timedelta(minutes=15, seconds=1))
    online(tenant_a.admin, seen=now - timedelta(seconds=30), active=now - timedelta(minutes=14))

    result = services.availability_sweep(at=now)

    assert result == services.SweepResult(set_away=1, set_offline=0)
    assert status_of(tenant_a.agent) == (Status.AWAY, ChangeReason.IDLE)
    assert status_of(tenant_a.admin) == (Status.ONLINE, ChangeReason.CHOSEN)


def test_the_idle_time_is_the_organizations_own(tenant_a: Tenant, tenant_b: Tenant) -> None:
    AvailabilitySettings.objects.create(organization=tenant_a.organization, idle_minutes=5)
    now = T0 + timedelta(minutes=20)
    online(tenant_a.agent, seen=now, active=now - timedelta(minutes=6))
    online(tenant_b.agent, seen=now, active=now - timedelta(minutes=6))

    services.availability_sweep(at=now)

    assert status_of(tenant_a.agent)[0] == Status.AWAY
    assert status_of(tenant_b.agent)[0] == Status.ONLINE


def test_a_member_without_a_heartbeat_for_three_minutes_goes_offline_from_online_or_away(tenant_a: Tenant) -> None:
    now = T0 + timedelta(minutes=10)
    online(tenant_a.agent, seen=now - timedelta(minutes=3, seconds=1), active=now)
    online(tenant_a.admin, seen=now - timedelta(minutes=4), active=None, status=Status.AWAY)

    result = services.availability_sweep(at=now)

    assert result.set_offline == 2
    assert status_of(tenant_a.agent) == (Status.OFFLINE, ChangeReason.NO_TAB)
    assert status_of(tenant_a.admin) == (Status.OFFLINE, ChangeReason.NO_TAB)


def test_a_member_with_a_recent_heartbeat_stays(tenant_a: Tenant) -> None:
    now = T0 + timedelta(minutes=10)
    online(tenant_a.agent, seen=now - timedelta(minutes=2, seconds=59), active=now)

    assert services.availability_sweep(at=now) == services.SweepResult(0, 0)


def test_a_status_just_chosen_is_not_swept_before_the_first_heartbeat(tenant_a: Tenant) -> None:
    online(tenant_a.agent, seen=None, active=None)

    assert services.availability_sweep(at=T0 + timedelta(minutes=2)) == services.SweepResult(0, 0)
    assert services.availability_sweep(at=T0 + timedelta(minutes=4)).set_offline == 1


def test_offline_members_are_left_alone(tenant_a: Tenant) -> None:
    services.availability_get_or_create(membership=tenant_a.agent)

    assert services.availability_sweep(at=T0 + timedelta(days=1)) == services.SweepResult(0, 0)
    assert not AvailabilityChange.objects.exists()


def test_a_second_run_changes_nothing(tenant_a: Tenant, django_capture_on_commit_callbacks: Any) -> None:
    now = T0 + timedelta(minutes=30)
    online(tenant_a.agent, seen=now, active=now - timedelta(minutes=20))
    online(tenant_a.admin, seen=now - timedelta(minutes=5), active=now)

    with Received(signals.status_changed) as received, django_capture_on_commit_callbacks(execute=True):
        first = services.availability_sweep(at=now)
        second = services.availability_sweep(at=now)

    assert first == services.SweepResult(set_away=1, set_offline=1)
    assert second == services.SweepResult(0, 0)
    assert sorted((c["membership"].pk, c["new_status"]) for c in received.calls) == sorted(
        [(tenant_a.agent.pk, Status.AWAY), (tenant_a.admin.pk, Status.OFFLINE)]
    )
    assert AvailabilityChange.objects.count() == 4


def test_the_sweep_works_in_batches(tenant_a: Tenant) -> None:
    now = T0 + timedelta(minutes=30)
    members = [factories.make_member(tenant_a.organization) for _ in range(5)]
    for member in members:
        online(member, seen=now - timedelta(minutes=10), active=now)

    result = services.availability_sweep(at=now, batch_size=2)

    assert result.set_offline == 5
    assert AvailabilityChange.objects.filter(ended_at__isnull=True, status=Status.OFFLINE).count() == 5


def test_the_task_sweeps_at_the_current_time(tenant_a: Tenant) -> None:
    online(tenant_a.agent, seen=None, active=None)
    Availability.objects.filter(membership=tenant_a.agent).update(status_since=datetime(2020, 1, 1, tzinfo=UTC))

    sweep.apply()

    assert status_of(tenant_a.agent) == (Status.OFFLINE, ChangeReason.NO_TAB)


def test_the_sweep_is_scheduled_every_minute(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["availability-sweep"]

    assert entry == {"task": "availability.status.sweep", "schedule": 60.0, "options": {"expires": 55}}
