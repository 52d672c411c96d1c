"""The tickets REST API: list, retrieve, PATCH, and converting a conversation by hand."""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk.models import Role
from messenger.models import ConversationEvent
from tests import factories
from tests.conftest import Tenant, api_client_for
from tests.tickets.conftest import T0, Desk, make_ticket, minutes
from tickets.models import Ticket, TicketState

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales_agent(desk: Desk) -> Any:
    """An agent of organization A who works in another department only."""
    sales = factories.make_department(desk.tenant.organization, "Sales")
    return factories.make_member(desk.tenant.organization, role=Role.AGENT, username="sales-agent", departments=[sales])


def test_an_agent_lists_the_tickets_of_their_department(desk: Desk) -> None:
    ticket = make_ticket(desk, "Where is my order?")
    response = api_client_for(desk.tenant.agent).get("/api/v1/tickets/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == ticket.pk and row["subject"] == "Where is my order?"
    assert row["state"] == "open" and row["priority"] == "normal" and row["origin"] == "manual"
    assert row["department"] == {"id": desk.tenant.department.pk, "name": "Support", "deleted": False}
    assert row["contact"]["name"] == "Hanako Yamada"
    assert row["conversation_id"] == desk.conversation.pk


def test_an_agent_of_another_department_sees_no_ticket_and_gets_404(desk: Desk, sales_agent: Any) -> None:
    ticket = make_ticket(desk)
    client = api_client_for(sales_agent)
    assert client.get("/api/v1/tickets/").json()["results"] == []
    assert client.get(f"/api/v1/tickets/{ticket.pk}/").status_code == 404
    response = client.patch(f"/api/v1/tickets/{ticket.pk}/", {"state": "resolved"}, format="json")
    assert response.status_code == 404
    assert Ticket.objects.get().state == TicketState.OPEN


def test_an_admin_sees_every_department(desk: Desk, sales_agent: Any) -> None:
    sales_channel = factories.make_channel(desk.tenant.organization, sales_agent.departments.get(), name="Sales page")
    factories.associate(sales_agent, sales_channel)
    sales_page = factories.make_page(sales_channel)
    sales_ticket = make_ticket(desk, conversation=factories.make_conversation(sales_page))
    support_ticket = make_ticket(desk)
    ids = [row["id"] for row in api_client_for(desk.tenant.admin).get("/api/v1/tickets/").json()["results"]]
    assert ids == [support_ticket.pk, sales_ticket.pk]
    assert [r["id"] for r in api_client_for(sales_agent).get("/api/v1/tickets/").json()["results"]] == [sales_ticket.pk]


def test_another_organization_gets_404_for_a_ticket(desk: Desk, tenant_b: Tenant) -> None:
    ticket = make_ticket(desk)
    client = api_client_for(tenant_b.admin)
    assert client.get(f"/api/v1/tickets/{ticket.pk}/").status_code == 404
    assert client.get("/api/v1/tickets/").json()["results"] == []
    assert client.post(f"/api/v1/conversations/{desk.conversation.pk}/convert/").status_code == 404


def test_retrieve_gives_the_transcript_and_the_next_states(desk: Desk) -> None:
    ticket = make_ticket(desk, "Hello")
    body = api_client_for(desk.tenant.agent).get(f"/api/v1/tickets/{ticket.pk}/").json()
    assert body["description"].startswith("Customer (")
    assert body["allowed_states"] == ["pending", "resolved"]
    assert body["created_by"]["username"] == desk.tenant.admin.user.username


@pytest.mark.parametrize(
    ("path", "to"),
    [
        (["pending"], "open"),
        (["pending"], "resolved"),
        ([], "pending"),
        ([], "resolved"),
        (["resolved"], "open"),
        (["resolved"], "closed"),
        (["resolved", "closed"], "open"),
    ],
)
def test_the_state_machine_allows_these_changes(desk: Desk, path: list[str], to: str) -> None:
    ticket = make_ticket(desk)
    client = api_client_for(desk.tenant.agent)
    for state in [*path, to]:
        response = client.patch(f"/api/v1/tickets/{ticket.pk}/", {"state": state}, format="json")
        assert response.status_code == 200, response.json()
    assert response.json()["state"] == to


@pytest.mark.parametrize(
    ("path", "to"),
    [
        (["resolved", "closed"], "pending"),
        (["resolved", "closed"], "resolved"),
        (["resolved"], "pending"),
        ([], "closed"),
        (["pending"], "closed"),
    ],
)
def test_a_state_change_that_makes_no_sense_is_409_invalid_transition(desk: Desk, path: list[str], to: str) -> None:
    ticket = make_ticket(desk)
    client = api_client_for(desk.tenant.agent)
    for state in path:
        assert client.patch(f"/api/v1/tickets/{ticket.pk}/", {"state": state}, format="json").status_code == 200
    response = client.patch(f"/api/v1/tickets/{ticket.pk}/", {"state": to}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_transition"
    before = path[-1] if path else "open"
    assert error["details"]["from"] == before and error["details"]["to"] == to
    assert Ticket.objects.get().state == before


def test_an_unknown_state_is_400(desk: Desk) -> None:
    ticket = make_ticket(desk)
    response = api_client_for(desk.tenant.agent).patch(f"/api/v1/tickets/{ticket.pk}/", {"state": "x"}, format="json")
    assert response.status_code == 400 and "state" in response.json()["error"]["details"]


def test_an_agent_changes_priority_and_assignee(desk: Desk) -> None:
    ticket = make_ticket(desk)
    client = api_client_for(desk.tenant.agent)
    agent_id = desk.tenant.agent.user_id
    response = client.patch(
        f"/api/v1/tickets/{ticket.pk}/", {"priority": "urgent", "assignee": agent_id}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["priority"] == "urgent" and response.json()["assignee"]["id"] == agent_id
    response = client.patch(f"/api/v1/tickets/{ticket.pk}/", {"assignee": None}, format="json")
    assert response.json()["assignee"] is None


def test_the_assignee_must_be_able_to_see_the_ticket(desk: Desk, sales_agent: Any, tenant_b: Tenant) -> None:
    ticket = make_ticket(desk)
    client = api_client_for(desk.tenant.agent)
    for user_id in (sales_agent.user_id, tenant_b.admin.user_id, 999_999):
        response = client.patch(f"/api/v1/tickets/{ticket.pk}/", {"assignee": user_id}, format="json")
        assert response.status_code == 400
        assert "assignee" in response.json()["error"]["details"]
    assert Ticket.objects.get().assignee is None


def test_the_list_filters_by_state_assignee_channel_department_and_search(desk: Desk) -> None:
    parcel = make_ticket(desk, "Parcel lost", display_name="Taro")
    invoice = make_ticket(desk, "Invoice wrong", display_name="Jiro")
    Ticket.objects.filter(pk=invoice.pk).update(state=TicketState.PENDING, assignee=desk.tenant.agent.user)
    client = api_client_for(desk.tenant.agent)

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/tickets/?{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("state=pending") == [invoice.pk]
    assert ids(f"assignee={desk.tenant.agent.user_id}") == [invoice.pk]
    assert ids("assignee=none") == [parcel.pk]
    assert ids(f"channel={desk.channel.pk}") == [invoice.pk, parcel.pk]
    assert ids(f"department={desk.tenant.department.pk}") == [invoice.pk, parcel.pk]
    assert ids("search=parcel") == [parcel.pk]
    assert ids("search=jiro") == [invoice.pk]
    assert ids("search=Customer") == [invoice.pk, parcel.pk]  # the transcript


def test_a_malformed_filter_is_400(desk: Desk) -> None:
    response = api_client_for(desk.tenant.agent).get("/api/v1/tickets/?assignee=someone")
    assert response.status_code == 400 and "assignee" in response.json()["error"]["details"]


def test_the_list_is_cursor_paginated(desk: Desk) -> None:
    tickets = [make_ticket(desk, f"Question {n}", display_name=f"C{n}") for n in range(3)]
    client = api_client_for(desk.tenant.agent)
    first = client.get("/api/v1/tickets/?page_size=2").json()
    assert [r["id"] for r in first["results"]] == [tickets[2].pk, tickets[1].pk]
    second = client.get(first["next"]).json()
    assert [r["id"] for r in second["results"]] == [tickets[0].pk] and second["next"] is None


def test_the_list_takes_the_same_number_of_queries_for_more_tickets(desk: Desk, django_assert_num_queries: Any) -> None:
    make_ticket(desk)
    client = api_client_for(desk.tenant.agent)
    client.get("/api/v1/tickets/")  # the token's last use is written once a minute
    # the token with its membership, the page, the page's labels
    with django_assert_num_queries(3):
        assert len(client.get("/api/v1/tickets/").json()["results"]) == 1
    for n in range(5):
        make_ticket(desk, f"More {n}", display_name=f"Other {n}")
    with django_assert_num_queries(3):
        assert len(client.get("/api/v1/tickets/").json()["results"]) == 6


def test_converting_by_api_makes_a_ticket_and_a_converted_event(desk: Desk) -> None:
    desk.say("Please call me back", desk.conversation.created_at)
    response = api_client_for(desk.tenant.agent).post(f"/api/v1/conversations/{desk.conversation.pk}/convert/")
    assert response.status_code == 201
    body = response.json()
    assert body["subject"] == "Please call me back" and body["origin"] == "manual"
    assert body["created_by"]["id"] == desk.tenant.agent.user_id
    event = ConversationEvent.objects.get(conversation=desk.conversation, kind=ConversationEvent.Kind.CONVERTED)
    assert event.data["ticket_id"] == body["id"]


def test_converting_again_while_the_ticket_is_open_is_409_ticket_already_open_with_its_id(desk: Desk) -> None:
    ticket = make_ticket(desk)
    response = api_client_for(desk.tenant.agent).post(f"/api/v1/conversations/{desk.conversation.pk}/convert/")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "ticket_already_open"
    assert error["details"] == {"ticket_id": ticket.pk}
    assert error["message"] == "This conversation already has an open ticket."
    assert Ticket.objects.count() == 1


def test_converting_after_the_ticket_is_resolved_with_nothing_new_is_409_nothing_to_convert(desk: Desk) -> None:
    ticket = make_ticket(desk)
    client = api_client_for(desk.tenant.agent)
    assert client.patch(f"/api/v1/tickets/{ticket.pk}/", {"state": "resolved"}, format="json").status_code == 200
    response = client.post(f"/api/v1/conversations/{desk.conversation.pk}/convert/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "nothing_to_convert"


def test_a_follow_up_names_the_previous_ticket(desk: Desk) -> None:
    first = make_ticket(desk)
    client = api_client_for(desk.tenant.agent)
    client.patch(f"/api/v1/tickets/{first.pk}/", {"state": "resolved"}, format="json")
    desk.say("It broke again", T0 + minutes(300))
    body = client.post(f"/api/v1/conversations/{desk.conversation.pk}/convert/").json()
    assert body["follow_up_of"] == first.pk and body["subject"] == "It broke again"
    assert client.get(f"/api/v1/tickets/{first.pk}/").json()["follow_up_of"] is None


def test_an_agent_edits_the_subject_by_patch(desk: Desk) -> None:
    ticket = make_ticket(desk, "hello??")
    client = api_client_for(desk.tenant.agent)
    response = client.patch(f"/api/v1/tickets/{ticket.pk}/", {"subject": "  Refund for order 1234 "}, format="json")
    assert response.status_code == 200 and response.json()["subject"] == "Refund for order 1234"
    response = client.patch(f"/api/v1/tickets/{ticket.pk}/", {"subject": "   "}, format="json")
    assert response.status_code == 400
    assert Ticket.objects.get().subject == "Refund for order 1234"


def test_the_ticket_messages_are_its_part_of_the_conversation_in_the_shape_of_conversation_messages(
    desk: Desk,
) -> None:
    before = desk.say("An old question", T0 - minutes(600))
    earlier = make_ticket(desk)  # covers the old question and Hello
    client = api_client_for(desk.tenant.agent)
    client.patch(f"/api/v1/tickets/{earlier.pk}/", {"state": "resolved"}, format="json")
    question = desk.say("My parcel is late", T0 + minutes(300))
    answer = desk.reply("Sorry, we ship today", T0 + minutes(301))
    ticket = client.post(f"/api/v1/conversations/{desk.conversation.pk}/convert/").json()
    while_open = desk.say("Thanks!", T0 + minutes(400))
    response = client.get(f"/api/v1/tickets/{ticket['id']}/messages/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [while_open.pk, answer.pk, question.pk]
    conversation_rows = client.get(f"/api/v1/conversations/{desk.conversation.pk}/messages/").json()["results"]
    assert rows == [row for row in conversation_rows if row["id"] in {while_open.pk, answer.pk, question.pk}]
    assert before.pk in [r["id"] for r in client.get(f"/api/v1/tickets/{earlier.pk}/messages/").json()["results"]]


def test_the_ticket_messages_are_404_for_an_agent_of_another_channel_or_organization(
    desk: Desk, sales_agent: Any, tenant_b: Tenant
) -> None:
    ticket = make_ticket(desk)
    # Same department, but not an agent of this ticket's channel.
    other_channel_agent = factories.make_member(
        desk.tenant.organization, role=Role.AGENT, username="other-channel", departments=[desk.tenant.department]
    )
    factories.associate(other_channel_agent, factories.make_channel(desk.tenant.organization, desk.tenant.department))
    assert api_client_for(other_channel_agent).get(f"/api/v1/tickets/{ticket.pk}/messages/").status_code == 404
    assert api_client_for(sales_agent).get(f"/api/v1/tickets/{ticket.pk}/messages/").status_code == 404
    assert api_client_for(tenant_b.admin).get(f"/api/v1/tickets/{ticket.pk}/messages/").status_code == 404
    assert api_client_for(desk.tenant.agent).get(f"/api/v1/tickets/{ticket.pk}/messages/").status_code == 200


def test_an_agent_of_another_department_cannot_convert_by_api(desk: Desk, sales_agent: Any) -> None:
    desk.say("Hello", desk.conversation.created_at)
    response = api_client_for(sales_agent).post(f"/api/v1/conversations/{desk.conversation.pk}/convert/")
    assert response.status_code == 404
    assert not Ticket.objects.exists()


def test_put_and_delete_are_not_offered(desk: Desk) -> None:
    ticket = make_ticket(desk)
    client = api_client_for(desk.tenant.admin)
    assert client.put(f"/api/v1/tickets/{ticket.pk}/", {"state": "pending"}, format="json").status_code == 405
    assert client.delete(f"/api/v1/tickets/{ticket.pk}/").status_code == 405
