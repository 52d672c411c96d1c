"""The status, its history, the heartbeat, capacities and the signals sent after commit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import close_old_connections, connection

from availability import selectors, services, signals
from availability.models import Availability, AvailabilityChange, AvailabilitySettings, ChangeReason, Status
from helpdesk.exceptions import InvalidCapacity, InvalidInput, InvalidStatus
from helpdesk.models import Membership
from tests import factories
from tests.conftest import Tenant
from tests.factories import PASSWORD

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


class Received:
    """The calls one signal got while connected."""

    def __init__(self, signal: Any) -> None:
        self.signal = signal
        self.calls: list[dict[str, Any]] = []

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        self.calls.append({"sender": sender, **kwargs})

    def __enter__(self) -> Received:
        self.signal.connect(self, weak=False)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.signal.disconnect(self)


def spells(membership: Any) -> list[tuple[str, str, datetime, datetime | None]]:
    return list(
        AvailabilityChange.objects.filter(membership=membership)
        .order_by("started_at", "pk")
        .values_list("status", "reason", "started_at", "ended_at")
    )


def test_a_member_without_a_record_is_offline_and_reading_it_writes_nothing(tenant_a: Tenant) -> None:
    availability = selectors.availability_of(membership=tenant_a.agent)

    assert availability.status == Status.OFFLINE
    assert availability.pk is None
    assert not Availability.objects.exists()


def test_get_or_create_creates_the_row_offline_once(tenant_a: Tenant) -> None:
    first = services.availability_get_or_create(membership=tenant_a.agent)
    second = services.availability_get_or_create(membership=tenant_a.agent)

    assert first.pk == second.pk
    assert first.status == Status.OFFLINE
    assert first.organization_id == tenant_a.organization.pk


def test_setting_a_status_closes_the_open_spell_and_opens_a_new_one(tenant_a: Tenant) -> None:
    agent = tenant_a.agent
    services.availability_set(membership=agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN, at=T0)
    later = T0 + timedelta(minutes=30)
    availability = services.availability_set(
        membership=agent, status=Status.AWAY, reason=ChangeReason.CHOSEN, acting_user=agent.user, at=later
    )

    assert (availability.status, availability.status_since) == (Status.AWAY, later)
    assert spells(agent) == [
        (Status.ONLINE, ChangeReason.CHOSEN, T0, later),
        (Status.AWAY, ChangeReason.CHOSEN, later, None),
    ]
    assert AvailabilityChange.objects.get(ended_at__isnull=True).changed_by == agent.user


def test_setting_the_status_a_member_already_has_records_nothing(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    services.availability_set(membership=tenant_a.agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN, at=T0)

    with Received(signals.status_changed) as received, django_capture_on_commit_callbacks(execute=True):
        services.availability_set(
            membership=tenant_a.agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN, at=T0 + timedelta(hours=1)
        )

    assert len(spells(tenant_a.agent)) == 1
    assert received.calls == []


@pytest.mark.parametrize("status", ["busy", "", "ONLINE", None, 3])
def test_an_unknown_status_is_refused_with_invalid_status(tenant_a: Tenant, status: Any) -> None:
    with pytest.raises(InvalidStatus) as refused:
        services.availability_set(membership=tenant_a.agent, status=status, reason=ChangeReason.CHOSEN)

    assert refused.value.code == "invalid_status"
    assert refused.value.status == 400
    assert not AvailabilityChange.objects.exists()


def test_an_unknown_reason_is_refused(tenant_a: Tenant) -> None:
    with pytest.raises(InvalidInput):
        services.availability_set(membership=tenant_a.agent, status=Status.ONLINE, reason="whim")


def test_a_new_status_clears_the_mark_that_conversations_were_requeued(tenant_a: Tenant) -> None:
    services.availability_set(membership=tenant_a.agent, status=Status.OFFLINE, reason=ChangeReason.CHOSEN, at=T0)
    Availability.objects.filter(membership=tenant_a.agent).update(requeued_at=T0)

    services.availability_set(membership=tenant_a.agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN, at=T0)

    assert Availability.objects.get(membership=tenant_a.agent).requeued_at is None


def test_status_changed_is_sent_after_commit_with_the_old_and_new_status(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    with Received(signals.status_changed) as received:
        with django_capture_on_commit_callbacks() as callbacks:
            services.availability_set(membership=tenant_a.agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN)
            assert received.calls == []  # not before the commit
        for callback in callbacks:
            callback()

    assert received.calls == [
        {
            "sender": Availability,
            "signal": signals.status_changed,
            "organization": tenant_a.organization,
            "membership": tenant_a.agent,
            "old_status": Status.OFFLINE,
            "new_status": Status.ONLINE,
            "reason": ChangeReason.CHOSEN,
        }
    ]


def test_a_failing_receiver_neither_fails_nor_undoes_the_change(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("engine down")

    signals.status_changed.connect(broken, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.availability_set(membership=tenant_a.agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN)
    finally:
        signals.status_changed.disconnect(broken)

    assert Availability.objects.get(membership=tenant_a.agent).status == Status.ONLINE


# --- The heartbeat ---------------------------------------------------------------------------


def test_a_heartbeat_without_input_updates_only_last_seen(tenant_a: Tenant) -> None:
    services.activity_record(membership=tenant_a.agent, input_seen=False, at=T0)

    availability = Availability.objects.get(membership=tenant_a.agent)
    assert (availability.last_seen_at, availability.last_activity_at) == (T0, None)


def test_a_heartbeat_with_input_updates_last_activity_too(tenant_a: Tenant) -> None:
    services.activity_record(membership=tenant_a.agent, input_seen=True, at=T0)

    availability = Availability.objects.get(membership=tenant_a.agent)
    assert (availability.last_seen_at, availability.last_activity_at) == (T0, T0)


def test_a_heartbeat_that_changes_no_status_costs_one_select_and_one_update(
    tenant_a: Tenant, django_assert_num_queries: Any
) -> None:
    services.availability_set(membership=tenant_a.agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN, at=T0)

    with django_assert_num_queries(2) as captured:
        services.activity_record(membership=tenant_a.agent, input_seen=True, at=T0 + timedelta(minutes=1))

    assert [q["sql"].split()[0] for q in captured.captured_queries] == ["SELECT", "UPDATE"]


def test_input_brings_an_agent_set_away_for_idleness_back_online(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    agent = tenant_a.agent
    services.availability_set(membership=agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN, at=T0)
    services.availability_set(membership=agent, status=Status.AWAY, reason=ChangeReason.IDLE, at=T0)
    back = T0 + timedelta(minutes=20)

    with Received(signals.status_changed) as received, django_capture_on_commit_callbacks(execute=True):
        availability = services.activity_record(membership=agent, input_seen=True, at=back)

    assert (availability.status, availability.status_since) == (Status.ONLINE, back)
    assert spells(agent)[-1] == (Status.ONLINE, ChangeReason.ACTIVE, back, None)
    assert [(c["old_status"], c["new_status"]) for c in received.calls] == [(Status.AWAY, Status.ONLINE)]


def test_input_leaves_an_agent_who_chose_away_away(tenant_a: Tenant) -> None:
    services.availability_set(membership=tenant_a.agent, status=Status.AWAY, reason=ChangeReason.CHOSEN, at=T0)

    availability = services.activity_record(membership=tenant_a.agent, input_seen=True, at=T0)

    assert availability.status == Status.AWAY


def test_a_heartbeat_without_input_leaves_an_idle_agent_away(tenant_a: Tenant) -> None:
    services.availability_set(membership=tenant_a.agent, status=Status.AWAY, reason=ChangeReason.IDLE, at=T0)

    availability = services.activity_record(membership=tenant_a.agent, input_seen=False, at=T0)

    assert availability.status == Status.AWAY


def test_input_does_not_bring_an_offline_agent_online(tenant_a: Tenant) -> None:
    services.availability_set(membership=tenant_a.agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN, at=T0)
    services.availability_set(membership=tenant_a.agent, status=Status.OFFLINE, reason=ChangeReason.NO_TAB, at=T0)

    availability = services.activity_record(membership=tenant_a.agent, input_seen=True, at=T0)

    assert availability.status == Status.OFFLINE


# --- Capacity and the organization's rules ------------------------------------------------------


def test_capacity_is_the_members_own_else_the_organizations_default(tenant_a: Tenant) -> None:
    assert selectors.capacity_of(membership=tenant_a.agent) == 5

    services.availability_settings_update(
        organization=tenant_a.organization,
        default_capacity=8,
        idle_minutes=15,
        requeue_when_offline=True,
        offline_grace_minutes=10,
    )
    assert selectors.capacity_of(membership=tenant_a.agent) == 8

    services.availability_capacity_set(membership=tenant_a.agent, capacity=2)
    assert selectors.capacity_of(membership=tenant_a.agent) == 2
    assert selectors.capacities_of(
        organization=tenant_a.organization, membership_ids=[tenant_a.agent.pk, tenant_a.admin.pk]
    ) == {tenant_a.agent.pk: 2, tenant_a.admin.pk: 8}

    services.availability_capacity_set(membership=tenant_a.agent, capacity=None)
    assert selectors.capacity_of(membership=tenant_a.agent) == 8


@pytest.mark.parametrize("capacity", [0, 101, -1, True, "5", 2.5])
def test_a_capacity_outside_1_to_100_is_refused(tenant_a: Tenant, capacity: Any) -> None:
    with pytest.raises(InvalidCapacity) as refused:
        services.availability_capacity_set(membership=tenant_a.agent, capacity=capacity)

    assert refused.value.code == "invalid_capacity"


@pytest.mark.parametrize(
    "field,value",
    [
        ("default_capacity", 0),
        ("default_capacity", 101),
        ("idle_minutes", 0),
        ("idle_minutes", 241),
        ("offline_grace_minutes", -1),
        ("offline_grace_minutes", 1441),
    ],
)
def test_organization_rules_out_of_range_are_refused(tenant_a: Tenant, field: str, value: int) -> None:
    rules = {"default_capacity": 5, "idle_minutes": 15, "requeue_when_offline": True, "offline_grace_minutes": 10}
    rules[field] = value

    with pytest.raises(InvalidInput):
        services.availability_settings_update(organization=tenant_a.organization, **rules)  # type: ignore[arg-type]


def test_settings_are_created_with_the_defaults(tenant_a: Tenant) -> None:
    rules = services.availability_settings_get(organization=tenant_a.organization)

    assert (rules.default_capacity, rules.idle_minutes, rules.requeue_when_offline, rules.offline_grace_minutes) == (
        5,
        15,
        True,
        10,
    )
    assert AvailabilitySettings.objects.count() == 1


def test_capacity_changed_is_sent_after_commit_for_a_member_and_for_the_default(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    with Received(signals.capacity_changed) as received:
        with django_capture_on_commit_callbacks(execute=True):
            services.availability_capacity_set(membership=tenant_a.agent, capacity=3)
        with django_capture_on_commit_callbacks(execute=True):
            services.availability_capacity_set(membership=tenant_a.agent, capacity=3)  # unchanged: silent
        with django_capture_on_commit_callbacks(execute=True):
            services.availability_settings_update(
                organization=tenant_a.organization,
                default_capacity=7,
                idle_minutes=15,
                requeue_when_offline=True,
                offline_grace_minutes=10,
            )
        with django_capture_on_commit_callbacks(execute=True):
            services.availability_settings_update(  # the idle time only: capacity unchanged
                organization=tenant_a.organization,
                default_capacity=7,
                idle_minutes=20,
                requeue_when_offline=True,
                offline_grace_minutes=10,
            )

    assert [(c["organization"], c["membership"]) for c in received.calls] == [
        (tenant_a.organization, tenant_a.agent),
        (tenant_a.organization, None),
    ]


# --- Logging out -----------------------------------------------------------------------------


def test_logging_out_sets_the_user_offline_in_each_organization(
    tenant_a: Tenant, tenant_b: Tenant, client: Any
) -> None:
    user = tenant_a.agent.user
    other = Membership.objects.create(organization=tenant_b.organization, user=user)
    for membership in (tenant_a.agent, other):
        services.availability_set(membership=membership, status=Status.ONLINE, reason=ChangeReason.CHOSEN)
    services.availability_set(membership=tenant_b.agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN)
    client.force_login(user)

    client.post("/accounts/logout/")

    assert selectors.availability_of(membership=tenant_a.agent).status == Status.OFFLINE
    assert selectors.availability_of(membership=other).status == Status.OFFLINE
    assert spells(tenant_a.agent)[-1][:2] == (Status.OFFLINE, ChangeReason.LOGOUT)
    assert selectors.availability_of(membership=tenant_b.agent).status == Status.ONLINE


def test_logging_in_leaves_the_status_as_it_was(tenant_a: Tenant, client: Any) -> None:
    response = client.post("/accounts/login/", {"username": tenant_a.agent.user.username, "password": PASSWORD})

    assert response.status_code == 302
    assert selectors.availability_of(membership=tenant_a.agent).status == Status.OFFLINE
    assert not AvailabilityChange.objects.exists()


# --- Concurrency -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_postgresql_concurrent_changes_never_leave_two_open_spells() -> None:
    organization = factories.make_org("race")
    member = factories.make_member(organization)
    services.availability_get_or_create(membership=member)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def change(status: str) -> None:
        try:
            barrier.wait()
            for _ in range(5):
                services.availability_set(membership=member, status=status, reason=ChangeReason.CHOSEN)
        except BaseException as error:
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=change, args=([Status.ONLINE, Status.AWAY][n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert AvailabilityChange.objects.filter(membership=member, ended_at__isnull=True).count() == 1
    open_spell = AvailabilityChange.objects.get(membership=member, ended_at__isnull=True)
    assert Availability.objects.get(membership=member).status == open_spell.status
    get_user_model().objects.all().delete()
