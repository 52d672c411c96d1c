"""A channel's automatic assignment (off, round robin, least loaded): its edit page, the
Agents tab, the API; turned on, its open unassigned conversations are routed."""

from __future__ import annotations

from typing import Any
from unittest import mock

from channels.models import AssignmentMode, Channel
from messenger.tasks import routing as routing_tasks
from tests import factories
from tests.conftest import Tenant, api_client_for
from tests.messenger.routing_world import agent, assignee_names, waiting


def _channel(tenant: Tenant, **fields: Any) -> Channel:
    return factories.make_channel(tenant.organization, tenant.department, name="Facebook", **fields)


def test_the_edit_page_offers_the_choice_and_saves_it(tenant_a: Tenant, web_client_for: Any) -> None:
    channel = _channel(tenant_a)
    client = web_client_for(tenant_a.admin)
    url = f"/o/alpha/settings/channels/{channel.pk}/"
    page = client.get(url).content.decode()
    assert "Automatic assignment" in page and 'value="round_robin"' in page
    assert "oldest first" in page  # the help text

    response = client.post(
        url, {"name": "Facebook", "department": tenant_a.department.pk, "assignment_mode": "least_loaded"}
    )

    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.assignment_mode == AssignmentMode.LEAST_LOADED
    refused = client.post(url, {"name": "Facebook", "department": tenant_a.department.pk, "assignment_mode": "fastest"})
    assert refused.status_code == 400
    channel.refresh_from_db()
    assert channel.assignment_mode == AssignmentMode.LEAST_LOADED


def test_saving_the_edit_page_without_the_field_keeps_the_mode(tenant_a: Tenant, web_client_for: Any) -> None:
    channel = _channel(tenant_a, assignment_mode=AssignmentMode.ROUND_ROBIN)
    web_client_for(tenant_a.admin).post(
        f"/o/alpha/settings/channels/{channel.pk}/", {"name": "Renamed", "department": tenant_a.department.pk}
    )
    channel.refresh_from_db()
    assert (channel.name, channel.assignment_mode) == ("Renamed", AssignmentMode.ROUND_ROBIN)


def test_the_agents_tab_sets_a_channels_assignment(tenant_a: Tenant, web_client_for: Any) -> None:
    channel = _channel(tenant_a)
    client = web_client_for(tenant_a.admin)
    page = client.get(f"/o/alpha/settings/agents/?department={tenant_a.department.pk}").content.decode()
    assert f"/o/alpha/settings/channels/{channel.pk}/assignment/" in page

    response = client.post(f"/o/alpha/settings/channels/{channel.pk}/assignment/", {"assignment_mode": "round_robin"})

    assert response.status_code == 302
    assert response["Location"] == f"/o/alpha/settings/agents/?department={tenant_a.department.pk}"
    channel.refresh_from_db()
    assert channel.assignment_mode == AssignmentMode.ROUND_ROBIN
    client.post(f"/o/alpha/settings/channels/{channel.pk}/assignment/", {"assignment_mode": "fastest"})
    channel.refresh_from_db()
    assert channel.assignment_mode == AssignmentMode.ROUND_ROBIN


def test_the_agents_tab_choice_is_for_admins_of_the_organization_only(
    tenant_a: Tenant, tenant_b: Tenant, web_client_for: Any
) -> None:
    channel = _channel(tenant_a)
    url = f"/o/alpha/settings/channels/{channel.pk}/assignment/"
    assert web_client_for(tenant_b.admin).post(url, {"assignment_mode": "round_robin"}).status_code == 404
    other = f"/o/bravo/settings/channels/{channel.pk}/assignment/"
    assert web_client_for(tenant_b.admin).post(other, {"assignment_mode": "round_robin"}).status_code == 404
    assert web_client_for(tenant_a.agent).post(url, {"assignment_mode": "round_robin"}).status_code in (403, 404)
    channel.refresh_from_db()
    assert channel.assignment_mode == AssignmentMode.OFF


def test_the_api_reads_and_writes_the_mode(tenant_a: Tenant, tenant_b: Tenant) -> None:
    channel = _channel(tenant_a)
    client = api_client_for(tenant_a.admin)
    assert client.get(f"/api/v1/channels/{channel.pk}/").json()["assignment_mode"] == "off"

    response = client.patch(f"/api/v1/channels/{channel.pk}/", {"assignment_mode": "least_loaded"}, format="json")

    assert (response.status_code, response.json()["assignment_mode"]) == (200, "least_loaded")
    refused = client.patch(f"/api/v1/channels/{channel.pk}/", {"assignment_mode": "fastest"}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid_assignment_mode")
    foreign = api_client_for(tenant_b.admin).patch(
        f"/api/v1/channels/{channel.pk}/", {"assignment_mode": "off"}, format="json"
    )
    assert foreign.status_code == 404
    channel.refresh_from_db()
    assert channel.assignment_mode == AssignmentMode.LEAST_LOADED


def test_turning_assignment_on_routes_the_open_unassigned_conversations(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    channel = _channel(tenant_a)
    agent(tenant_a, channel, "Aiko")
    waiting_one, closed = waiting(channel), waiting(channel, state="closed")

    with (
        mock.patch.object(
            routing_tasks.route_conversations, "delay", autospec=True, side_effect=routing_tasks.route_conversations
        ) as route,
        django_capture_on_commit_callbacks(execute=True),
    ):
        api_client_for(tenant_a.admin).patch(
            f"/api/v1/channels/{channel.pk}/", {"assignment_mode": "round_robin"}, format="json"
        )

    route.assert_called_once_with([waiting_one.pk])
    assert assignee_names([waiting_one, closed]) == ["Aiko", None]


def test_turning_assignment_off_routes_nothing(tenant_a: Tenant, django_capture_on_commit_callbacks: Any) -> None:
    channel = _channel(tenant_a, assignment_mode=AssignmentMode.ROUND_ROBIN)
    waiting(channel)
    with (
        mock.patch.object(routing_tasks.route_conversations, "delay", autospec=True) as route,
        django_capture_on_commit_callbacks(execute=True),
    ):
        api_client_for(tenant_a.admin).patch(
            f"/api/v1/channels/{channel.pk}/", {"assignment_mode": "off"}, format="json"
        )
    route.assert_not_called()
