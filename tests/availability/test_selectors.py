"""Reads: who is online, and the time in each status per day (for the reports)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from availability import selectors, services
from availability.models import Availability, AvailabilitySettings, ChangeReason, Status
from tests import factories
from tests.conftest import Tenant


def test_members_online_are_the_active_online_members_of_the_organization(tenant_a: Tenant, tenant_b: Tenant) -> None:
    away = factories.make_member(tenant_a.organization)
    gone = factories.make_member(tenant_a.organization)
    for member in (tenant_a.agent, tenant_a.admin, gone, tenant_b.agent):
        services.availability_set(membership=member, status=Status.ONLINE, reason=ChangeReason.CHOSEN)
    services.availability_set(membership=away, status=Status.AWAY, reason=ChangeReason.CHOSEN)
    gone.is_active = False
    gone.save(update_fields=["is_active"])

    everyone = selectors.members_online(organization=tenant_a.organization)
    among = selectors.members_online(organization=tenant_a.organization, membership_ids=[tenant_a.agent.pk, away.pk])

    assert sorted(m.pk for m in everyone) == sorted([tenant_a.agent.pk, tenant_a.admin.pk])
    assert [m.pk for m in among] == [tenant_a.agent.pk]


def test_status_durations_split_a_spell_across_midnight_in_tokyo(tenant_a: Tenant) -> None:
    organization = tenant_a.organization
    organization.time_zone = "Asia/Tokyo"
    organization.save(update_fields=["time_zone"])
    agent = tenant_a.agent
    # 22:00 to 02:30 Tokyo time (UTC+9) on the night of 6 to 7 December, then away until 03:00.
    online_at = datetime(2026, 12, 6, 13, 0, tzinfo=UTC)
    away_at = datetime(2026, 12, 6, 17, 30, tzinfo=UTC)
    offline_at = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
    services.availability_set(membership=agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN, at=online_at)
    services.availability_set(membership=agent, status=Status.AWAY, reason=ChangeReason.IDLE, at=away_at)
    services.availability_set(membership=agent, status=Status.OFFLINE, reason=ChangeReason.LOGOUT, at=offline_at)

    durations = selectors.status_durations(
        organization=organization,
        membership=agent,
        start=date(2026, 12, 6),
        end=date(2026, 12, 7),
        now=datetime(2026, 12, 7, 15, 0, tzinfo=UTC),  # midnight of the 8th in Tokyo
    )

    assert durations == {
        date(2026, 12, 6): {Status.ONLINE: timedelta(hours=2), Status.AWAY: timedelta(0), Status.OFFLINE: timedelta(0)},
        date(2026, 12, 7): {
            Status.ONLINE: timedelta(hours=2, minutes=30),
            Status.AWAY: timedelta(minutes=30),
            Status.OFFLINE: timedelta(hours=21),
        },
    }


def test_an_open_spell_counts_up_to_now_and_days_outside_are_left_out(tenant_a: Tenant) -> None:
    agent = tenant_a.agent
    services.availability_set(
        membership=agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN, at=datetime(2026, 12, 1, 23, tzinfo=UTC)
    )

    durations = selectors.status_durations(
        organization=tenant_a.organization,
        membership=agent,
        start=date(2026, 12, 2),
        end=date(2026, 12, 3),
        now=datetime(2026, 12, 3, 6, tzinfo=UTC),
    )

    assert durations[date(2026, 12, 2)][Status.ONLINE] == timedelta(hours=24)
    assert durations[date(2026, 12, 3)][Status.ONLINE] == timedelta(hours=6)
    assert set(durations) == {date(2026, 12, 2), date(2026, 12, 3)}


def test_status_durations_of_another_organizations_member_are_empty(tenant_a: Tenant, tenant_b: Tenant) -> None:
    services.availability_set(membership=tenant_b.agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN)

    durations = selectors.status_durations(
        organization=tenant_a.organization, membership=tenant_b.agent, start=date(2026, 1, 1), end=date(2030, 1, 1)
    )

    assert all(total == timedelta(0) for day in durations.values() for total in day.values())


def test_offline_past_grace_follows_each_organizations_rules_and_marks_once(tenant_a: Tenant, tenant_b: Tenant) -> None:
    t0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    third = factories.make_org("charlie")
    charlie = factories.make_member(third)
    AvailabilitySettings.objects.create(organization=tenant_b.organization, offline_grace_minutes=30)
    AvailabilitySettings.objects.create(organization=third, requeue_when_offline=False)
    for member in (tenant_a.agent, tenant_b.agent, charlie):
        services.availability_set(membership=member, status=Status.ONLINE, reason=ChangeReason.CHOSEN, at=t0)
        services.availability_set(membership=member, status=Status.OFFLINE, reason=ChangeReason.NO_TAB, at=t0)

    assert list(selectors.offline_past_grace(at=t0 + timedelta(minutes=9))) == []
    due = selectors.offline_past_grace(at=t0 + timedelta(minutes=10))
    assert [a.membership_id for a in due] == [tenant_a.agent.pk]
    later = [a.membership_id for a in selectors.offline_past_grace(at=t0 + timedelta(minutes=30))]
    assert sorted(later) == sorted([tenant_a.agent.pk, tenant_b.agent.pk])

    ids = list(Availability.objects.filter(membership=tenant_a.agent).values_list("pk", flat=True))
    assert services.availability_requeued_mark(availability_ids=ids, at=t0) == 1
    assert services.availability_requeued_mark(availability_ids=ids, at=t0) == 0
    assert [a.membership_id for a in selectors.offline_past_grace(at=t0 + timedelta(hours=1))] == [tenant_b.agent.pk]

    # Going online and offline again starts a new spell, due again after the grace.
    services.availability_set(membership=tenant_a.agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN, at=t0)
    services.availability_set(membership=tenant_a.agent, status=Status.OFFLINE, reason=ChangeReason.CHOSEN, at=t0)
    assert tenant_a.agent.pk in [a.membership_id for a in selectors.offline_past_grace(at=t0 + timedelta(hours=1))]
