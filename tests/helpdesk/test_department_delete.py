"""Deleting a department: refused while a live channel belongs to it (409
`department_in_use` in the API, an error on the department's row in the settings page);
with only deleted channels left it goes, and what was filed under it stays readable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from channels import services as channel_services
from channels.models import Channel
from helpdesk.models import Department
from messenger.models import Conversation
from tests import factories
from tests.conftest import Tenant, api_client_for
from tickets.models import Ticket
from tickets.services import ticket_create_from_conversation

pytestmark = pytest.mark.django_db


@dataclass
class History:
    sales: Department
    channel: Channel
    conversation: Conversation
    ticket: Ticket


@pytest.fixture
def history(tenant_a: Tenant) -> History:
    """A Sales department whose only channel was deleted, with a conversation and a ticket."""
    sales = factories.make_department(tenant_a.organization, "Sales")
    tenant_a.agent.departments.add(sales)
    channel = factories.make_channel(tenant_a.organization, sales, name="Old Sales chat")
    page = factories.make_page(channel)
    conversation = factories.make_conversation(page)
    factories.make_message(conversation, text="Where is my parcel?")
    ticket = ticket_create_from_conversation(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        membership=tenant_a.admin,
        conversation_id=conversation.pk,
    )
    channel_services.channel_delete(organization=tenant_a.organization, acting_user=None, channel=channel)
    return History(sales, channel, conversation, ticket)


def test_a_department_with_only_deleted_channels_is_deleted_and_its_history_stays_readable(
    tenant_a: Tenant, history: History
) -> None:
    api = api_client_for(tenant_a.admin)
    assert api.delete(f"/api/v1/departments/{history.sales.pk}/").status_code == 204

    assert api.get(f"/api/v1/departments/{history.sales.pk}/").status_code == 404
    listed = [row["name"] for row in api.get("/api/v1/departments/").json()["results"]]
    assert listed == ["Support"]
    # The deleted channel's conversation and the ticket made in Sales are still there.
    conversation = api.get(f"/api/v1/conversations/{history.conversation.pk}/")
    assert conversation.status_code == 200, conversation.content
    ticket = api.get(f"/api/v1/tickets/{history.ticket.pk}/")
    assert ticket.status_code == 200 and "Sales" in ticket.content.decode()
    # The agent no longer works in it; the name is free again.
    assert list(tenant_a.agent.departments.all()) == [tenant_a.department]
    assert api.post("/api/v1/departments/", {"name": "Sales"}, format="json").status_code == 201


def test_where_history_names_a_deleted_department_it_is_marked_deleted(
    tenant_a: Tenant, history: History, client: Any
) -> None:
    api = api_client_for(tenant_a.admin)
    before = api.get(f"/api/v1/tickets/{history.ticket.pk}/").json()
    assert before["department"] == {"id": history.sales.pk, "name": "Sales", "deleted": False}
    assert before["channel"]["deleted"] is True  # its channel was deleted first
    assert api.delete(f"/api/v1/departments/{history.sales.pk}/").status_code == 204

    after = api.get(f"/api/v1/tickets/{history.ticket.pk}/").json()
    assert after["department"] == {"id": history.sales.pk, "name": "Sales", "deleted": True}
    client.force_login(tenant_a.admin.user)
    org = tenant_a.organization.slug
    assert "Sales (deleted)" in client.get(f"/o/{org}/tickets/{history.ticket.pk}/").content.decode()
    assert "Sales (deleted)" in client.get(f"/o/{org}/tickets/?state=").content.decode()
    transcript = client.get(f"/o/{org}/inbox/{history.conversation.pk}/").content.decode()
    assert "Sales (deleted)" in transcript


def test_a_deleted_department_is_gone_from_every_choice_and_from_the_channel_limit(
    tenant_a: Tenant, history: History, client: Any
) -> None:
    api = api_client_for(tenant_a.admin)
    api.delete(f"/api/v1/departments/{history.sales.pk}/")
    # One department left, so one channel at most.
    factories.make_channel(tenant_a.organization, tenant_a.department, name="Live")
    refused = api.post("/api/v1/channels/", {"name": "More", "department_id": tenant_a.department.pk}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "channel_limit_reached")
    # Nothing may be filed under it any more.
    live = Channel.objects.get(name="Live")
    moved = api.patch(f"/api/v1/channels/{live.pk}/", {"department_id": history.sales.pk}, format="json")
    assert (moved.status_code, moved.json()["error"]["code"]) == (404, "not_found")
    member = api.patch(f"/api/v1/members/{tenant_a.agent.pk}/", {"department_ids": [history.sales.pk]}, format="json")
    assert member.status_code == 404
    client.force_login(tenant_a.admin.user)
    for page in ("settings/channels/messenger/new/", "settings/members/", "settings/departments/"):
        assert "Sales" not in client.get(f"/o/alpha/{page}").content.decode(), page
    again = api.delete(f"/api/v1/departments/{history.sales.pk}/")
    assert again.status_code == 404


def test_a_department_with_a_live_channel_is_refused_with_a_stable_code_naming_it(
    tenant_a: Tenant, history: History
) -> None:
    factories.make_channel(tenant_a.organization, history.sales, name="New Sales chat")
    response = api_client_for(tenant_a.admin).delete(f"/api/v1/departments/{history.sales.pk}/")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "department_in_use"
    assert "“New Sales chat”" in error["message"] and "Move them to another department" in error["message"]
    assert "Old Sales chat" not in error["message"]
    assert error["details"] == {"channels": ["New Sales chat"]}
    assert Department.objects.get(pk=history.sales.pk).deleted_at is None


def test_a_disabled_channel_still_holds_its_department(tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Paused", is_enabled=False)
    response = api_client_for(tenant_a.admin).delete(f"/api/v1/departments/{tenant_a.department.pk}/")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "department_in_use")
    assert channel.department.deleted_at is None


def test_the_settings_page_deletes_a_department_with_only_deleted_channels(
    tenant_a: Tenant, history: History, client: Any
) -> None:
    client.force_login(tenant_a.admin.user)
    response = client.post(f"/o/alpha/settings/departments/{history.sales.pk}/", {"action": "delete"}, follow=True)
    assert response.redirect_chain[-1][0] == "/o/alpha/settings/departments/"
    assert "Department deleted." in response.content.decode()
    assert Department.objects.get(pk=history.sales.pk).deleted_at is not None


def test_the_settings_page_shows_the_refusal_on_the_departments_row(tenant_a: Tenant, client: Any) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")
    client.force_login(tenant_a.admin.user)
    response = client.post(f"/o/alpha/settings/departments/{tenant_a.department.pk}/", {"action": "delete"})
    assert response.status_code == 409
    body = response.content.decode()
    assert f'id="dept-{tenant_a.department.pk}-error"' in body
    assert "This department still has channels (“Support chat”)." in body
    channel.refresh_from_db()
    assert channel.department.deleted_at is None


def test_another_organizations_department_cannot_be_deleted(tenant_a: Tenant, tenant_b: Tenant, client: Any) -> None:
    assert api_client_for(tenant_a.admin).delete(f"/api/v1/departments/{tenant_b.department.pk}/").status_code == 404
    client.force_login(tenant_a.admin.user)
    assert (
        client.post(f"/o/alpha/settings/departments/{tenant_b.department.pk}/", {"action": "delete"}).status_code == 404
    )
    assert Department.objects.get(pk=tenant_b.department.pk).deleted_at is None
