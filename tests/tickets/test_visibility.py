"""An agent who works in the department but is not associated with the channel sees none of
its conversations or tickets: converting one through the API or the inbox's button is 404
and makes no ticket, the department's tickets stay out of their lists and pages, and the
inbox search finds nothing of the channel."""

from __future__ import annotations

import pytest
from django.test import Client

from helpdesk.models import Membership, Role
from tests import factories
from tests.conftest import api_client_for
from tests.tickets.conftest import T0, Desk, make_ticket
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

SECRET = "my card number is 4111"


@pytest.fixture
def outsider(desk: Desk) -> Membership:
    """Works in Support, the channel's department, and answers another Support channel."""
    tenant = desk.tenant
    member = factories.make_member(
        tenant.organization, role=Role.AGENT, username="outsider", departments=[tenant.department]
    )
    factories.associate(member, factories.make_channel(tenant.organization, tenant.department, name="Instagram"))
    return member


def test_converting_through_the_api_is_404_and_makes_no_ticket(desk: Desk, outsider: Membership) -> None:
    desk.say(SECRET, T0)
    response = api_client_for(outsider).post(f"/api/v1/conversations/{desk.conversation.pk}/convert/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert SECRET not in response.content.decode()
    assert not Ticket.objects.exists()
    # The associated agent of the same department may.
    assert (
        api_client_for(desk.tenant.agent).post(f"/api/v1/conversations/{desk.conversation.pk}/convert/").status_code
        == 201
    )


def test_converting_with_the_inbox_button_is_404_and_makes_no_ticket(desk: Desk, outsider: Membership) -> None:
    desk.say(SECRET, T0)
    client = Client()
    client.force_login(outsider.user)
    response = client.post(f"/o/alpha/tickets/convert/{desk.conversation.pk}/")
    assert response.status_code == 404
    assert not Ticket.objects.exists()


def test_the_departments_tickets_stay_out_of_the_api(desk: Desk, outsider: Membership) -> None:
    ticket = make_ticket(desk, SECRET)
    api = api_client_for(outsider)
    assert api.get("/api/v1/tickets/").json()["results"] == []
    assert api.get(f"/api/v1/tickets/{ticket.pk}/").status_code == 404
    assert api.get(f"/api/v1/tickets/?department={desk.tenant.department.pk}").json()["results"] == []
    assert api.patch(f"/api/v1/tickets/{ticket.pk}/", {"state": "resolved"}, format="json").status_code == 404
    ticket.refresh_from_db()
    assert ticket.state == "open"
    assert [row["id"] for row in api_client_for(desk.tenant.agent).get("/api/v1/tickets/").json()["results"]] == [
        ticket.pk
    ]


def test_the_departments_tickets_stay_out_of_the_pages(desk: Desk, outsider: Membership) -> None:
    ticket = make_ticket(desk, SECRET)
    client = Client()
    client.force_login(outsider.user)
    listing = client.get("/o/alpha/tickets/")
    assert listing.status_code == 200
    assert SECRET not in listing.content.decode()
    # Nor is the channel offered as a filter.
    assert "Facebook" not in listing.content.decode()
    assert client.get(f"/o/alpha/tickets/{ticket.pk}/").status_code == 404
    assert client.get(f"/o/alpha/tickets/contact/{ticket.contact_id}/").status_code == 404


def test_the_inbox_search_finds_nothing_of_the_channel(desk: Desk, outsider: Membership) -> None:
    """Nor for an agent still associated with the channel who no longer works in its department."""
    desk.say(SECRET, T0)
    organization = desk.tenant.organization
    departed = factories.make_member(organization, departments=[factories.make_department(organization, "Sales")])
    factories.associate(departed, desk.channel)
    for member in (outsider, departed):
        api = api_client_for(member)
        for query in ("4111", "Hanako"):
            assert api.get("/api/v1/conversations/", {"q": query}).json()["results"] == [], member
    found = api_client_for(desk.tenant.agent).get("/api/v1/conversations/", {"q": "4111"}).json()["results"]
    assert [row["id"] for row in found] == [desk.conversation.pk]


def test_a_ticket_is_given_only_to_someone_who_sees_it(desk: Desk, outsider: Membership) -> None:
    ticket = make_ticket(desk)
    api = api_client_for(desk.tenant.admin)
    refused = api.patch(f"/api/v1/tickets/{ticket.pk}/", {"assignee": outsider.user_id}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["details"] == {"assignee": ["Not an agent of this ticket's channel and department."]}
    given = api.patch(f"/api/v1/tickets/{ticket.pk}/", {"assignee": desk.tenant.agent.user_id}, format="json")
    assert given.status_code == 200
    assert given.json()["assignee"]["id"] == desk.tenant.agent.user_id
