"""The pages: heartbeat, the header's switch, admins setting a member offline, capacity and
Settings → Availability."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from availability import selectors, services
from availability.models import Availability, AvailabilityChange, AvailabilitySettings, ChangeReason, Status
from tests import factories
from tests.conftest import Tenant


def status_of(membership: Any) -> str:
    return selectors.availability_of(membership=membership).status


# --- Heartbeat -------------------------------------------------------------------------------


def test_a_heartbeat_records_the_tab_and_the_input(tenant_a: Tenant, web_client_for: Any) -> None:
    client = web_client_for(tenant_a.agent)

    response = client.post("/o/alpha/availability/heartbeat/", {"input": "1"})

    assert response.status_code == 200
    assert response.json() == {"status": "offline", "label": "Offline"}
    availability = Availability.objects.get(membership=tenant_a.agent)
    assert availability.last_seen_at is not None
    assert availability.last_activity_at == availability.last_seen_at


def test_a_heartbeat_with_input_brings_an_idle_agent_back_online(tenant_a: Tenant, web_client_for: Any) -> None:
    services.availability_set(membership=tenant_a.agent, status=Status.AWAY, reason=ChangeReason.IDLE)

    response = web_client_for(tenant_a.agent).post("/o/alpha/availability/heartbeat/", {"input": "1"})

    assert response.json()["status"] == "online"


def test_a_heartbeat_without_input_does_not_count_as_activity(tenant_a: Tenant, web_client_for: Any) -> None:
    web_client_for(tenant_a.agent).post("/o/alpha/availability/heartbeat/", {"input": "0"})

    assert Availability.objects.get(membership=tenant_a.agent).last_activity_at is None


def test_a_heartbeat_must_be_a_post(tenant_a: Tenant, web_client_for: Any) -> None:
    assert web_client_for(tenant_a.agent).get("/o/alpha/availability/heartbeat/").status_code == 405


def test_a_heartbeat_needs_the_csrf_token(tenant_a: Tenant) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant_a.agent.user)

    assert client.post("/o/alpha/availability/heartbeat/", {"input": "1"}).status_code == 403


@pytest.mark.parametrize(
    "url", ["/o/alpha/availability/heartbeat/", "/o/alpha/availability/status/", "/o/alpha/settings/availability/"]
)
def test_a_member_of_another_organization_gets_404(
    tenant_a: Tenant, tenant_b: Tenant, web_client_for: Any, url: str
) -> None:
    client = web_client_for(tenant_b.admin)

    assert client.post(url, {"status": "online", "input": "1"}).status_code == 404
    assert not Availability.objects.exists()


# --- The header ------------------------------------------------------------------------------


def test_the_header_shows_the_status_and_the_menu_to_change_it(tenant_a: Tenant, web_client_for: Any) -> None:
    services.availability_set(membership=tenant_a.agent, status=Status.AWAY, reason=ChangeReason.CHOSEN)

    page = web_client_for(tenant_a.agent).get("/o/alpha/preferences/")
    html = page.content.decode()

    assert 'aria-label="Your status: Away. Change it"' in html
    assert 'data-availability-status="away"' in html
    assert html.count('action="/o/alpha/availability/status/"') == 3
    assert "Signing in does not change your status" in html
    assert 'src="/static/availability/presence.js"' in html
    assert 'data-heartbeat-url="/o/alpha/availability/heartbeat/"' in html


def test_pages_outside_an_organization_have_no_status_menu(tenant_a: Tenant, web_client_for: Any) -> None:
    html = web_client_for(tenant_a.agent).get("/organizations/").content.decode()

    assert "presence.js" not in html
    assert "availability-menu" not in html


def test_the_switch_sets_the_members_own_status_and_goes_back(tenant_a: Tenant, web_client_for: Any) -> None:
    response = web_client_for(tenant_a.agent).post(
        "/o/alpha/availability/status/", {"status": "online", "next": "/o/alpha/preferences/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/o/alpha/preferences/"
    assert status_of(tenant_a.agent) == Status.ONLINE
    change = AvailabilityChange.objects.get(membership=tenant_a.agent)
    assert (change.reason, change.changed_by) == (ChangeReason.CHOSEN, tenant_a.agent.user)


def test_the_switch_does_not_go_back_to_another_site(tenant_a: Tenant, web_client_for: Any) -> None:
    response = web_client_for(tenant_a.agent).post(
        "/o/alpha/availability/status/", {"status": "away", "next": "https://evil.example/"}
    )

    assert response["Location"] == "/o/alpha/"


def test_the_switch_refuses_an_unknown_status(tenant_a: Tenant, web_client_for: Any) -> None:
    client = web_client_for(tenant_a.agent)

    response = client.post("/o/alpha/availability/status/", {"status": "busy"}, follow=True)

    assert "The status must be online, away or offline." in response.content.decode()
    assert not AvailabilityChange.objects.exists()


# --- Members: everyone's status, set offline -----------------------------------------------------


def test_admins_see_everyones_status_on_the_members_page(tenant_a: Tenant, web_client_for: Any) -> None:
    services.availability_set(membership=tenant_a.agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN)

    html = web_client_for(tenant_a.admin).get("/o/alpha/settings/members/").content.decode()

    assert "Availability" in html
    assert f'action="/o/alpha/settings/members/{tenant_a.agent.pk}/set-offline/"' in html
    assert f'action="/o/alpha/settings/members/{tenant_a.admin.pk}/set-offline/"' not in html  # offline already
    assert 'data-confirm="Set alpha-agent offline?"' in html


def test_the_members_page_reads_all_statuses_in_one_query(
    tenant_a: Tenant, web_client_for: Any, django_assert_max_num_queries: Any
) -> None:
    client = web_client_for(tenant_a.admin)
    client.get("/o/alpha/settings/members/")
    with django_assert_max_num_queries(40) as few:
        client.get("/o/alpha/settings/members/")
    for _ in range(5):
        member = factories.make_member(tenant_a.organization)
        services.availability_set(membership=member, status=Status.ONLINE, reason=ChangeReason.CHOSEN)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/o/alpha/settings/members/")


def test_an_admin_sets_a_member_offline(tenant_a: Tenant, web_client_for: Any) -> None:
    services.availability_set(membership=tenant_a.agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN)

    response = web_client_for(tenant_a.admin).post(f"/o/alpha/settings/members/{tenant_a.agent.pk}/set-offline/")

    assert response.status_code == 302
    assert status_of(tenant_a.agent) == Status.OFFLINE
    change = AvailabilityChange.objects.get(membership=tenant_a.agent, ended_at__isnull=True)
    assert (change.reason, change.changed_by) == (ChangeReason.ADMIN, tenant_a.admin.user)


def test_an_agent_cannot_set_someone_else_offline(tenant_a: Tenant, web_client_for: Any) -> None:
    services.availability_set(membership=tenant_a.admin, status=Status.ONLINE, reason=ChangeReason.CHOSEN)

    response = web_client_for(tenant_a.agent).post(f"/o/alpha/settings/members/{tenant_a.admin.pk}/set-offline/")

    assert response.status_code == 403
    assert status_of(tenant_a.admin) == Status.ONLINE


def test_an_admin_cannot_set_another_organizations_member_offline(
    tenant_a: Tenant, tenant_b: Tenant, web_client_for: Any
) -> None:
    services.availability_set(membership=tenant_b.agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN)
    client = web_client_for(tenant_a.admin)

    assert client.post(f"/o/alpha/settings/members/{tenant_b.agent.pk}/set-offline/").status_code == 404
    assert client.post(f"/o/bravo/settings/members/{tenant_b.agent.pk}/set-offline/").status_code == 404
    assert status_of(tenant_b.agent) == Status.ONLINE


# --- Capacity on the member edit page --------------------------------------------------------------


def test_the_member_edit_page_has_the_capacity_form(tenant_a: Tenant, web_client_for: Any) -> None:
    html = web_client_for(tenant_a.admin).get(f"/o/alpha/settings/members/{tenant_a.agent.pk}/").content.decode()

    assert f'action="/o/alpha/settings/members/{tenant_a.agent.pk}/capacity/"' in html
    assert "The organization's default is 5." in html


def test_an_admin_sets_and_clears_a_members_capacity(tenant_a: Tenant, web_client_for: Any) -> None:
    client = web_client_for(tenant_a.admin)
    url = f"/o/alpha/settings/members/{tenant_a.agent.pk}/capacity/"

    assert client.post(url, {"capacity": "3"}).status_code == 302
    assert selectors.capacity_of(membership=tenant_a.agent) == 3
    assert client.post(url, {"capacity": ""}).status_code == 302
    assert Availability.objects.get(membership=tenant_a.agent).capacity is None


@pytest.mark.parametrize("value,error", [("0", "At least 1 conversation."), ("101", "At most 100 conversations.")])
def test_a_capacity_out_of_range_is_a_form_error(tenant_a: Tenant, web_client_for: Any, value: str, error: str) -> None:
    response = web_client_for(tenant_a.admin).post(
        f"/o/alpha/settings/members/{tenant_a.agent.pk}/capacity/", {"capacity": value}
    )

    assert response.status_code == 400
    assert error in response.content.decode()
    assert selectors.capacity_of(membership=tenant_a.agent) == 5


def test_an_agent_cannot_set_a_capacity(tenant_a: Tenant, web_client_for: Any) -> None:
    response = web_client_for(tenant_a.agent).post(
        f"/o/alpha/settings/members/{tenant_a.agent.pk}/capacity/", {"capacity": "50"}
    )

    assert response.status_code == 403


def test_an_admin_cannot_set_another_organizations_members_capacity(
    tenant_a: Tenant, tenant_b: Tenant, web_client_for: Any
) -> None:
    response = web_client_for(tenant_a.admin).post(
        f"/o/alpha/settings/members/{tenant_b.agent.pk}/capacity/", {"capacity": "50"}
    )

    assert response.status_code == 404
    assert not Availability.objects.exists()


# --- Settings → Availability -----------------------------------------------------------------------


def test_the_settings_page_shows_the_defaults_and_saves(tenant_a: Tenant, web_client_for: Any) -> None:
    client = web_client_for(tenant_a.admin)

    page = client.get("/o/alpha/settings/availability/")
    assert page.status_code == 200
    assert 'aria-current="page" href="/o/alpha/settings/availability/"' in page.content.decode()

    response = client.post(
        "/o/alpha/settings/availability/",
        {"default_capacity": "7", "idle_minutes": "30", "offline_grace_minutes": "0"},
    )

    assert response.status_code == 302
    rules = AvailabilitySettings.objects.get(organization=tenant_a.organization)
    assert (rules.default_capacity, rules.idle_minutes, rules.requeue_when_offline, rules.offline_grace_minutes) == (
        7,
        30,
        False,
        0,
    )


@pytest.mark.parametrize(
    "field,value,error",
    [
        ("default_capacity", "0", "At least 1 conversation."),
        ("default_capacity", "101", "At most 100 conversations."),
        ("idle_minutes", "0", "At least 1 minute."),
        ("idle_minutes", "241", "At most 240 minutes."),
        ("offline_grace_minutes", "-1", "At least 0 minutes."),
        ("offline_grace_minutes", "1441", "At most 24 hours (1440 minutes)."),
        ("default_capacity", "many", "Enter a whole number."),
    ],
)
def test_settings_out_of_range_are_form_errors(
    tenant_a: Tenant, web_client_for: Any, field: str, value: str, error: str
) -> None:
    data = {"default_capacity": "5", "idle_minutes": "15", "requeue_when_offline": "on", "offline_grace_minutes": "10"}
    data[field] = value

    response = web_client_for(tenant_a.admin).post("/o/alpha/settings/availability/", data)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not AvailabilitySettings.objects.exclude(default_capacity=5, idle_minutes=15).exists()


def test_agents_cannot_open_the_availability_settings(tenant_a: Tenant, web_client_for: Any) -> None:
    assert web_client_for(tenant_a.agent).get("/o/alpha/settings/availability/").status_code == 403
