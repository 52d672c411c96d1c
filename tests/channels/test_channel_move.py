"""Moving a channel to another department: its conversations (and the tickets they become
from now on) follow it, agents of the old department stop answering it, tickets already
made stay where they were made. Through the service, the settings page and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from channels import services
from channels.models import AgentChannel, Channel
from helpdesk.models import Department, Membership
from messenger.models import Conversation, ConversationEvent, ConversationState
from messenger.views.transcript import describe_event
from tests import factories
from tests.conftest import Tenant, api_client_for
from tickets.models import Ticket
from tickets.services import ticket_create_from_conversation, ticket_update

pytestmark = pytest.mark.django_db


@dataclass
class Move:
    tenant: Tenant
    channel: Channel
    sales: Department
    open_conversation: Conversation
    closed_conversation: Conversation
    old_ticket: Ticket
    # Works in Support only / in Support and Sales.
    support_agent: Membership
    both_agent: Membership


@pytest.fixture
def move(tenant_a: Tenant) -> Move:
    sales = factories.make_department(tenant_a.organization, "Sales")
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Facebook")
    both_agent = factories.make_member(
        tenant_a.organization, departments=[tenant_a.department, sales], first_name="Bo", last_name="Both"
    )
    factories.associate(tenant_a.agent, channel)
    factories.associate(both_agent, channel)
    page = factories.make_page(channel)
    open_conversation = factories.make_conversation(page, assignee=tenant_a.agent.user)
    factories.make_message(open_conversation, text="An order question")
    old_ticket = ticket_create_from_conversation(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        membership=tenant_a.admin,
        conversation_id=open_conversation.pk,
    )
    closed_conversation = factories.make_conversation(page, state=ConversationState.CLOSED, assignee=both_agent.user)
    return Move(
        tenant_a, channel, sales, open_conversation, closed_conversation, old_ticket, tenant_a.agent, both_agent
    )


def _move(move: Move, department_id: int | None = None) -> Channel:
    return services.channel_update(
        organization=move.tenant.organization,
        acting_user=move.tenant.admin.user,
        channel=move.channel,
        department_id=department_id or move.sales.pk,
    )


def _assert_moved(move: Move) -> None:
    move.channel.refresh_from_db()
    assert move.channel.department_id == move.sales.pk
    for conversation in (move.open_conversation, move.closed_conversation):
        conversation.refresh_from_db()
        assert conversation.department_id == move.sales.pk
    # The ticket made under Support stays in Support.
    move.old_ticket.refresh_from_db()
    assert move.old_ticket.department_id == move.tenant.department.pk
    # Only agents of the new department keep answering the channel.
    assert set(AgentChannel.objects.filter(channel=move.channel).values_list("membership_id", flat=True)) == {
        move.both_agent.pk
    }


def test_the_channels_conversations_follow_it_and_old_tickets_stay(move: Move) -> None:
    _move(move)
    _assert_moved(move)


def test_the_next_ticket_of_a_moved_conversation_is_filed_in_the_new_department(move: Move) -> None:
    _move(move)
    # The ticket from before the move is resolved; the customer's next words begin a new one.
    ticket_update(
        organization=move.tenant.organization,
        acting_user=move.tenant.admin.user,
        membership=move.tenant.admin,
        ticket_id=move.old_ticket.pk,
        state="resolved",
    )
    factories.make_message(move.open_conversation, text="One more thing")
    ticket = ticket_create_from_conversation(
        organization=move.tenant.organization,
        acting_user=move.tenant.admin.user,
        membership=move.tenant.admin,
        conversation_id=move.open_conversation.pk,
    )
    assert ticket.department_id == move.sales.pk
    # Only agents of Sales may make it by hand now.
    factories.make_message(move.open_conversation, text="And another")
    with pytest.raises(Exception, match="Not found"):
        ticket_create_from_conversation(
            organization=move.tenant.organization,
            acting_user=move.support_agent.user,
            membership=move.support_agent,
            conversation_id=move.open_conversation.pk,
        )


def test_an_agent_who_no_longer_answers_the_channel_is_unassigned_and_told_in_the_transcript(move: Move) -> None:
    _move(move)
    move.open_conversation.refresh_from_db()
    move.closed_conversation.refresh_from_db()
    assert move.open_conversation.assignee is None
    # Bo works in Sales too: still associated, still holds the conversation.
    assert move.closed_conversation.assignee == move.both_agent.user
    [event] = ConversationEvent.objects.filter(conversation=move.open_conversation, kind="channel_moved")
    assert event.actor == move.tenant.admin.user
    line = describe_event(event)
    assert "moved the channel Facebook from the department Support to Sales." in line
    assert f"{move.support_agent.user.username} does not answer this channel any more and was unassigned." in line
    # Closed conversations move without a line in their transcript.
    assert not ConversationEvent.objects.filter(conversation=move.closed_conversation).exists()


def test_moving_is_a_fixed_number_of_queries_whatever_the_number_of_conversations(
    move: Move, django_assert_max_num_queries: Any
) -> None:
    page = move.channel.facebook_pages.get()
    for _ in range(30):
        factories.make_conversation(page, assignee=move.support_agent.user)
    with django_assert_max_num_queries(16):
        _move(move)
    assert not Conversation.objects.filter(channel=move.channel).exclude(department=move.sales).exists()
    assert not Conversation.objects.filter(channel=move.channel, assignee=move.support_agent.user).exists()


def test_saving_the_same_department_moves_nothing(move: Move) -> None:
    services.channel_update(
        organization=move.tenant.organization,
        acting_user=move.tenant.admin.user,
        channel=move.channel,
        name="Facebook",
        department_id=move.tenant.department.pk,
    )
    assert AgentChannel.objects.filter(channel=move.channel).count() == 2
    assert not ConversationEvent.objects.filter(kind="channel_moved").exists()


def test_a_failed_move_changes_nothing(move: Move, tenant_b: Tenant) -> None:
    with pytest.raises(Exception, match="Department not found"):
        _move(move, department_id=tenant_b.department.pk)
    move.channel.refresh_from_db()
    move.open_conversation.refresh_from_db()
    assert move.channel.department_id == move.tenant.department.pk
    assert move.open_conversation.department_id == move.tenant.department.pk
    assert move.open_conversation.assignee == move.support_agent.user
    assert AgentChannel.objects.filter(channel=move.channel).count() == 2


def test_the_settings_page_moves_the_channel(move: Move, client: Any) -> None:
    client.force_login(move.tenant.admin.user)
    response = client.post(
        f"/o/alpha/settings/channels/{move.channel.pk}/", {"name": "Facebook", "department": move.sales.pk}
    )
    assert response.status_code == 302
    _assert_moved(move)


def test_the_settings_page_refuses_a_department_of_another_organization(
    move: Move, client: Any, tenant_b: Tenant
) -> None:
    client.force_login(move.tenant.admin.user)
    response = client.post(
        f"/o/alpha/settings/channels/{move.channel.pk}/", {"name": "Facebook", "department": tenant_b.department.pk}
    )
    assert response.status_code == 404
    move.open_conversation.refresh_from_db()
    assert move.open_conversation.department_id == move.tenant.department.pk


def test_the_api_moves_the_channel(move: Move) -> None:
    response = api_client_for(move.tenant.admin).patch(
        f"/api/v1/channels/{move.channel.pk}/", {"department_id": move.sales.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["department_name"] == "Sales"
    _assert_moved(move)


@pytest.mark.parametrize(
    ("department_id", "status", "code"),
    [("nope", 400, "invalid"), (999_999_999, 404, "not_found"), (-1, 400, "invalid")],
)
def test_the_api_refuses_a_bad_department(move: Move, department_id: Any, status: int, code: str) -> None:
    response = api_client_for(move.tenant.admin).patch(
        f"/api/v1/channels/{move.channel.pk}/", {"department_id": department_id}, format="json"
    )
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    move.open_conversation.refresh_from_db()
    assert move.open_conversation.department_id == move.tenant.department.pk


def test_a_deleted_channel_cannot_be_moved(move: Move) -> None:
    services.channel_delete(organization=move.tenant.organization, acting_user=None, channel=move.channel)
    response = api_client_for(move.tenant.admin).patch(
        f"/api/v1/channels/{move.channel.pk}/", {"department_id": move.sales.pk}, format="json"
    )
    assert response.status_code == 404
    move.open_conversation.refresh_from_db()
    assert move.open_conversation.department_id == move.tenant.department.pk
