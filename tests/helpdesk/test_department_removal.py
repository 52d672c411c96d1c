"""Taking an agent out of a department (settings page or API): their associations with its
channels go, the conversations and tickets they held there are unassigned (each
conversation with a system line saying why), and they can no longer read or answer them.
What they hold in their other departments stays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from channels.models import AgentChannel, Channel
from helpdesk.models import Department, Membership, Role
from helpdesk.services import member_update
from messenger.models import Conversation, ConversationEvent, ConversationState
from messenger.views.transcript import describe_event
from tests import factories
from tests.conftest import Tenant, api_client_for
from tickets.models import Ticket
from tickets.services import ticket_create_from_conversation

pytestmark = pytest.mark.django_db


@dataclass
class Desk:
    tenant: Tenant
    sales: Department
    support_channel: Channel
    sales_channel: Channel
    open_conversation: Conversation
    closed_conversation: Conversation
    sales_conversation: Conversation
    ticket: Ticket
    sales_ticket: Ticket

    @property
    def agent(self) -> Membership:
        return self.tenant.agent


def _converted(tenant: Tenant, conversation: Conversation, assignee: Any) -> Ticket:
    factories.make_message(conversation, text="Where is my order?")
    ticket = ticket_create_from_conversation(
        organization=tenant.organization,
        acting_user=tenant.admin.user,
        membership=tenant.admin,
        conversation_id=conversation.pk,
    )
    Ticket.objects.filter(pk=ticket.pk).update(assignee=assignee)
    return ticket


@pytest.fixture
def desk(tenant_a: Tenant) -> Desk:
    """The agent works in Support and Sales, answers one channel of each and holds
    conversations and tickets in both."""
    organization, agent = tenant_a.organization, tenant_a.agent
    agent.user.first_name, agent.user.last_name = "Aiko", "Tanaka"
    agent.user.save()
    sales = factories.make_department(organization, "Sales")
    agent.departments.add(sales)
    support_channel = factories.make_channel(organization, tenant_a.department, name="Support chat")
    sales_channel = factories.make_channel(organization, sales, name="Sales chat")
    factories.associate(agent, support_channel)
    factories.associate(agent, sales_channel)
    support_page, sales_page = factories.make_page(support_channel), factories.make_page(sales_channel)
    open_conversation = factories.make_conversation(support_page, assignee=agent.user)
    closed_conversation = factories.make_conversation(support_page, state=ConversationState.CLOSED, assignee=agent.user)
    sales_conversation = factories.make_conversation(sales_page, assignee=agent.user)
    ticket = _converted(tenant_a, open_conversation, agent.user)
    sales_ticket = _converted(tenant_a, sales_conversation, agent.user)
    factories.make_message(open_conversation, text="Are you there?")
    return Desk(
        tenant_a,
        sales,
        support_channel,
        sales_channel,
        open_conversation,
        closed_conversation,
        sales_conversation,
        ticket,
        sales_ticket,
    )


def _assert_let_go_of_support(desk: Desk) -> None:
    agent, admin = desk.agent, desk.tenant.admin
    assert list(AgentChannel.objects.filter(membership=agent).values_list("channel_id", flat=True)) == [
        desk.sales_channel.pk
    ]
    for conversation in (desk.open_conversation, desk.closed_conversation):
        conversation.refresh_from_db()
        assert conversation.assignee_id is None
        [event] = ConversationEvent.objects.filter(conversation=conversation, kind="unassigned")
        assert event.actor_id == admin.user_id
        assert describe_event(event) == (
            f"{admin.user.username} removed Aiko Tanaka from the department Support: the conversation was unassigned."
        )
    desk.ticket.refresh_from_db()
    assert desk.ticket.assignee_id is None
    # Sales is untouched.
    desk.sales_conversation.refresh_from_db()
    desk.sales_ticket.refresh_from_db()
    assert desk.sales_conversation.assignee_id == agent.user_id
    assert desk.sales_ticket.assignee_id == agent.user_id
    assert not ConversationEvent.objects.filter(conversation=desk.sales_conversation, kind="unassigned").exists()

    api = api_client_for(agent)
    conversation_id = desk.open_conversation.pk
    assert api.get(f"/api/v1/conversations/{conversation_id}/").status_code == 404
    assert api.get(f"/api/v1/conversations/{conversation_id}/messages/").status_code == 404
    assert api.post(f"/api/v1/conversations/{conversation_id}/messages/", {"text": "hi"}).status_code == 404
    assert api.get(f"/api/v1/tickets/{desk.ticket.pk}/").status_code == 404
    assert [row["id"] for row in api.get("/api/v1/conversations/").json()["results"]] == [desk.sales_conversation.pk]
    web = Client()
    web.force_login(agent.user)
    assert web.get(f"/o/alpha/inbox/{conversation_id}/").status_code == 404
    assert web.post(f"/o/alpha/inbox/{conversation_id}/send/", {"text": "hi"}).status_code == 404
    assert api.get(f"/api/v1/conversations/{desk.sales_conversation.pk}/").status_code == 200


def test_an_admin_taking_an_agent_out_of_a_department_through_the_api_lets_go_of_its_work(desk: Desk) -> None:
    response = api_client_for(desk.tenant.admin).patch(
        f"/api/v1/members/{desk.agent.pk}/", {"department_ids": [desk.sales.pk]}, format="json"
    )
    assert response.status_code == 200, response.content
    _assert_let_go_of_support(desk)


def test_an_admin_taking_an_agent_out_of_a_department_in_the_settings_page_lets_go_of_its_work(
    desk: Desk, client: Any
) -> None:
    client.force_login(desk.tenant.admin.user)
    response = client.post(
        f"/o/alpha/settings/members/{desk.agent.pk}/",
        {"role": Role.AGENT, "is_active": "on", "departments": [desk.sales.pk]},
    )
    assert response.status_code == 302
    _assert_let_go_of_support(desk)


def test_the_system_line_is_shown_in_the_transcript(desk: Desk, client: Any) -> None:
    member_update(
        organization=desk.tenant.organization,
        acting_user=desk.tenant.admin.user,
        membership=desk.agent,
        department_ids=[desk.sales.pk],
    )
    client.force_login(desk.tenant.admin.user)
    page = client.get(f"/o/alpha/inbox/{desk.open_conversation.pk}/").content.decode()
    assert "removed Aiko Tanaka from the department Support" in page


def test_keeping_the_departments_changes_nothing(desk: Desk) -> None:
    member_update(
        organization=desk.tenant.organization,
        acting_user=desk.tenant.admin.user,
        membership=desk.agent,
        department_ids=[desk.tenant.department.pk, desk.sales.pk],
    )
    assert AgentChannel.objects.filter(membership=desk.agent).count() == 2
    assert Conversation.objects.filter(assignee=desk.agent.user).count() == 3
    assert Ticket.objects.filter(assignee=desk.agent.user).count() == 2
    assert not ConversationEvent.objects.filter(kind="unassigned").exists()


def test_an_admin_out_of_a_department_keeps_what_they_hold_there(desk: Desk) -> None:
    admin = desk.tenant.admin
    other_admin = factories.make_member(desk.tenant.organization, role=Role.ADMIN, username="boss")
    Conversation.objects.filter(pk=desk.open_conversation.pk).update(assignee=admin.user)
    Ticket.objects.filter(pk=desk.ticket.pk).update(assignee=admin.user)
    member_update(
        organization=desk.tenant.organization, acting_user=other_admin.user, membership=admin, department_ids=[]
    )
    desk.open_conversation.refresh_from_db()
    desk.ticket.refresh_from_db()
    assert desk.open_conversation.assignee_id == admin.user_id
    assert desk.ticket.assignee_id == admin.user_id
    assert not ConversationEvent.objects.filter(kind="unassigned").exists()
