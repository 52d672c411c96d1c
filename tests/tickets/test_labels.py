"""Labels on tickets: added and removed from the ticket page (htmx) and the API by whoever
sees the ticket, each a line of the ticket's history; the tickets list and the API filtered by
one or all of several labels."""

from __future__ import annotations

from typing import Any

import pytest

from labels.models import Label
from tests.conftest import Tenant, api_client_for
from tests.tickets.conftest import Desk, make_ticket
from tickets.models import Ticket, TicketEvent, TicketLabel
from tickets.services import tickets_label_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def labels(desk: Desk, tenant_b: Tenant) -> dict[str, Label]:
    org = desk.tenant.organization
    return {
        "refund": Label.objects.create(organization=org, name="Refund", color="red"),
        "vip": Label.objects.create(organization=org, name="VIP", color="purple"),
        "foreign": Label.objects.create(organization=tenant_b.organization, name="Bravo's", color="green"),
    }


def _labelled(ticket: Ticket) -> list[str]:
    return sorted(TicketLabel.objects.filter(ticket=ticket).values_list("label__name", flat=True))


def _add(desk: Desk, tickets: list[Ticket], label: Label) -> None:
    tickets_label_add(organization=desk.tenant.organization, acting_user=None, tickets=tickets, label=label)


def test_an_agent_labels_a_ticket_from_its_page_and_its_history_says_so(
    desk: Desk, labels: dict[str, Label], web_client_for: Any
) -> None:
    ticket = make_ticket(desk)
    agent = desk.tenant.agent.user
    agent.first_name = "Aiko"
    agent.save()
    client = web_client_for(desk.tenant.agent)
    page = client.get(f"/o/alpha/tickets/{ticket.pk}/").content.decode()
    assert 'id="ticket-labels"' in page and f'<option value="{labels["vip"].pk}">VIP</option>' in page
    response = client.post(
        f"/o/alpha/tickets/{ticket.pk}/labels/", {"label": labels["refund"].pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert 'hd-label hd-label-red"><span class="hd-label-name">Refund</span>' in response.content.decode()
    assert _labelled(ticket) == ["Refund"]
    page = client.get(f"/o/alpha/tickets/{ticket.pk}/").content.decode()
    assert "Aiko added the label Refund." in page
    response = client.post(f"/o/alpha/tickets/{ticket.pk}/labels/{labels['refund'].pk}/remove/")
    assert response.status_code == 302
    assert _labelled(ticket) == []
    assert "Aiko removed the label Refund." in client.get(f"/o/alpha/tickets/{ticket.pk}/").content.decode()
    kinds = list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert kinds == [TicketEvent.Kind.LABEL_ADDED, TicketEvent.Kind.LABEL_REMOVED]


def test_a_label_the_ticket_has_already_changes_nothing(desk: Desk, labels: dict[str, Label]) -> None:
    ticket = make_ticket(desk)
    _add(desk, [ticket], labels["vip"])
    _add(desk, [ticket], labels["vip"])
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.LABEL_ADDED).count() == 1


def test_the_api_adds_and_removes_a_label_and_shows_them(desk: Desk, labels: dict[str, Label]) -> None:
    ticket = make_ticket(desk)
    api = api_client_for(desk.tenant.agent)
    response = api.post(f"/api/v1/tickets/{ticket.pk}/labels/", {"label": labels["vip"].pk}, format="json")
    assert response.status_code == 200
    assert response.json()["labels"] == [{"id": labels["vip"].pk, "name": "VIP", "color": "purple"}]
    assert api.get(f"/api/v1/tickets/{ticket.pk}/").json()["labels"][0]["name"] == "VIP"
    assert api.delete(f"/api/v1/tickets/{ticket.pk}/labels/{labels['vip'].pk}/").status_code == 204
    assert _labelled(ticket) == []


def test_a_label_of_another_organization_is_404(desk: Desk, labels: dict[str, Label], web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    foreign = labels["foreign"]
    client = web_client_for(desk.tenant.admin)
    assert client.post(f"/o/alpha/tickets/{ticket.pk}/labels/", {"label": foreign.pk}).status_code == 404
    assert client.post(f"/o/alpha/tickets/{ticket.pk}/labels/{foreign.pk}/remove/").status_code == 404
    api = api_client_for(desk.tenant.admin)
    assert api.post(f"/api/v1/tickets/{ticket.pk}/labels/", {"label": foreign.pk}, format="json").status_code == 404
    assert api.delete(f"/api/v1/tickets/{ticket.pk}/labels/{foreign.pk}/").status_code == 404
    assert not TicketLabel.objects.exists()


def test_a_member_of_another_organization_gets_404(
    desk: Desk, labels: dict[str, Label], tenant_b: Tenant, web_client_for: Any
) -> None:
    ticket = make_ticket(desk)
    _add(desk, [ticket], labels["refund"])
    client = web_client_for(tenant_b.admin)
    for org in ("alpha", "bravo"):
        assert client.post(f"/o/{org}/tickets/{ticket.pk}/labels/", {"label": labels["foreign"].pk}).status_code == 404
        remove = f"/o/{org}/tickets/{ticket.pk}/labels/{labels['refund'].pk}/remove/"
        assert client.post(remove).status_code == 404
    api = api_client_for(tenant_b.admin)
    body = {"label": labels["foreign"].pk}
    assert api.post(f"/api/v1/tickets/{ticket.pk}/labels/", body, format="json").status_code == 404
    assert api.delete(f"/api/v1/tickets/{ticket.pk}/labels/{labels['refund'].pk}/").status_code == 404
    assert api.get(f"/api/v1/tickets/?label={labels['refund'].pk}").json()["results"] == []
    assert _labelled(ticket) == ["Refund"]


def test_an_agent_who_does_not_see_the_ticket_can_neither_label_it_nor_find_it(
    desk: Desk, labels: dict[str, Label], web_client_for: Any
) -> None:
    from helpdesk.models import Role
    from tests import factories

    ticket = make_ticket(desk)
    _add(desk, [ticket], labels["refund"])
    tenant = desk.tenant
    outsider = factories.make_member(
        tenant.organization, role=Role.AGENT, username="outsider", departments=[tenant.department]
    )
    client = web_client_for(outsider)
    assert client.post(f"/o/alpha/tickets/{ticket.pk}/labels/", {"label": labels["vip"].pk}).status_code == 404
    assert client.post(f"/o/alpha/tickets/{ticket.pk}/labels/{labels['refund'].pk}/remove/").status_code == 404
    assert (
        "Refund"
        not in client.get(f"/o/alpha/tickets/?label={labels['refund'].pk}").content.decode().split("ticket-results")[1]
    )
    api = api_client_for(outsider)
    assert (
        api.post(f"/api/v1/tickets/{ticket.pk}/labels/", {"label": labels["vip"].pk}, format="json").status_code == 404
    )
    assert api.get(f"/api/v1/tickets/?label={labels['refund'].pk}").json()["results"] == []
    assert _labelled(ticket) == ["Refund"]


def test_the_tickets_list_and_api_filter_by_one_or_all_of_several_labels(
    desk: Desk, labels: dict[str, Label], web_client_for: Any
) -> None:
    ann = make_ticket(desk, "Ann's", display_name="Ann")
    bob = make_ticket(desk, "Bob's", display_name="Bob")
    cy = make_ticket(desk, "Cy's", display_name="Cy")
    refund, vip = labels["refund"], labels["vip"]
    _add(desk, [ann, bob], refund)
    _add(desk, [bob, cy], vip)
    api = api_client_for(desk.tenant.agent)

    def api_ids(query: str) -> list[int]:
        response = api.get(f"/api/v1/tickets/?{query}")
        assert response.status_code == 200
        return sorted(row["id"] for row in response.json()["results"])

    assert api_ids(f"label={refund.pk}") == [ann.pk, bob.pk]
    assert api_ids(f"label={refund.pk}&label={vip.pk}") == [bob.pk]
    assert api_ids(f"label={refund.pk},{vip.pk}") == [bob.pk]
    assert api_ids(f"label={labels['foreign'].pk}") == []
    junk = api.get("/api/v1/tickets/?label=abc")
    assert (junk.status_code, junk.json()["error"]["code"]) == (400, "invalid")
    rows = api.get(f"/api/v1/tickets/?label={vip.pk}").json()["results"]
    assert [label["name"] for label in next(r for r in rows if r["id"] == bob.pk)["labels"]] == ["Refund", "VIP"]

    client = web_client_for(desk.tenant.agent)
    html = client.get(f"/o/alpha/tickets/?label={refund.pk}&label={vip.pk}").content.decode()
    results = html[html.index('id="ticket-results"') :]
    assert f"/o/alpha/tickets/{bob.pk}/" in results
    assert f"/o/alpha/tickets/{ann.pk}/" not in results and f"/o/alpha/tickets/{cy.pk}/" not in results
    assert f'name="label" value="{refund.pk}" id="ticket-label-{refund.pk}" checked' in html
    assert 'hd-label hd-label-purple"><span class="hd-label-name">VIP</span>' in results


def test_the_list_pages_cost_the_same_queries_with_a_label_filter(
    desk: Desk, labels: dict[str, Label], web_client_for: Any, django_assert_num_queries: Any
) -> None:
    refund = labels["refund"]
    client = web_client_for(desk.tenant.agent)
    api = api_client_for(desk.tenant.agent)
    query = f"?label={refund.pk}"
    client.get(f"/o/alpha/tickets/{query}")
    api.get(f"/api/v1/tickets/{query}")
    for count in (1, 6):
        tickets = [make_ticket(desk, f"T{len(Ticket.objects.all())}", display_name=f"C{n}") for n in range(count)]
        _add(desk, tickets, refund)
        # session, user, membership; departments, channels, members and labels to filter
        # by; count; page; the page's labels
        with django_assert_num_queries(10):
            client.get(f"/o/alpha/tickets/{query}")
        expected = Ticket.objects.count()
        # the token with its membership, the page, the page's labels
        with django_assert_num_queries(3):
            assert len(api.get(f"/api/v1/tickets/{query}").json()["results"]) == expected
