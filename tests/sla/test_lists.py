"""The SLA state in the inbox (rows, conversation page, the at-risk and breached filters) and
in the tickets (list, page, filters, API), with the list's query count unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from messenger.models import Conversation, ConversationSla
from tests.conftest import api_client_for
from tests.sla.conftest import Desk
from tickets.models import Ticket

INBOX = "/o/alpha/inbox/"
TICKETS = "/o/alpha/tickets/"
# The pages' queries (session, user, membership, the channels, the rows, their assignees,
# labels, counts, filters…) whatever the number of rows: the SLA state is read from the rows.
QUERIES_INBOX = 9
QUERIES_TICKETS = 11


def _timed(row: Conversation | Ticket, *, due_in: timedelta, warn_before: timedelta = timedelta(minutes=10)) -> None:
    """The times the sweep would have kept: due ``due_in`` from now."""
    now = timezone.now()
    if isinstance(row, Conversation):
        ConversationSla.objects.update_or_create(
            conversation=row,
            defaults={"started_at": row.waiting_since, "due_at": now + due_in, "warn_at": now + due_in - warn_before},
        )
        return
    Ticket.objects.filter(pk=row.pk).update(
        sla_started_at=row.created_at, sla_due_at=now + due_in, sla_warn_at=now + due_in - warn_before
    )


@pytest.fixture
def three(desk: Desk) -> dict[str, Conversation]:
    since = timezone.now() - timedelta(minutes=30)
    conversations = {name: desk.waiting(since, name=name, last_message_at=since) for name in ("Calm", "Risky", "Late")}
    _timed(conversations["Calm"], due_in=timedelta(hours=2))
    _timed(conversations["Risky"], due_in=timedelta(minutes=5))
    _timed(conversations["Late"], due_in=-timedelta(minutes=90))
    return conversations


def _names(html: str) -> list[str]:
    return [name for name in ("Calm", "Risky", "Late") if f">{name}<" in html]


def test_inbox_rows_show_the_sla_state_with_the_time_left(desk: Desk, three: Any, web_client_for: Any) -> None:
    html = web_client_for(desk.tenant.agent).get(INBOX).content.decode()
    assert "hd-sla-on_track" in html and "1 h left" in html
    assert "hd-sla-at_risk" in html and "4 min left" in html
    assert "hd-sla-breached" in html and "1 h overdue" in html
    assert "First response: Breached, 1 h overdue, due" in html
    assert "Breached · 1 h overdue" in html


def test_the_inbox_filters_at_risk_and_breached_conversations(desk: Desk, three: Any, web_client_for: Any) -> None:
    client = web_client_for(desk.tenant.agent)
    assert _names(client.get(INBOX, {"sla": "at_risk"}).content.decode()) == ["Risky"]
    assert _names(client.get(INBOX, {"sla": "breached"}).content.decode()) == ["Late"]
    assert _names(client.get(INBOX, {"sla": "junk"}).content.decode()) == ["Calm", "Risky", "Late"]


def test_an_answered_wait_leaves_the_breached_filter_at_once(desk: Desk, three: Any, web_client_for: Any) -> None:
    # The agent answered: the kept times belong to the finished wait until the job clears them.
    Conversation.objects.filter(pk=three["Late"].pk).update(waiting_since=None)
    html = web_client_for(desk.tenant.agent).get(INBOX, {"sla": "breached"}).content.decode()
    assert _names(html) == []


def test_the_conversations_api_filters_by_sla(desk: Desk, three: Any) -> None:
    response = api_client_for(desk.tenant.agent).get("/api/v1/conversations/", {"sla": "breached"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [three["Late"].pk]


def test_the_conversation_page_shows_the_sla_state(desk: Desk, three: Any, web_client_for: Any) -> None:
    html = web_client_for(desk.tenant.agent).get(f"{INBOX}{three['Risky'].pk}/").content.decode()
    assert "hd-sla-at_risk" in html


def test_another_organization_sees_nothing_of_the_filter(
    desk: Desk, three: Any, tenant_b: Any, web_client_for: Any
) -> None:
    assert web_client_for(tenant_b.admin).get(INBOX, {"sla": "breached"}).status_code == 404
    html = web_client_for(tenant_b.admin).get("/o/bravo/inbox/", {"sla": "breached"}).content.decode()
    assert _names(html) == []


@pytest.mark.parametrize("rows", [3, 12])
def test_the_inbox_costs_the_same_queries_with_sla_times(
    desk: Desk, web_client_for: Any, rows: int, django_assert_num_queries: Any
) -> None:
    since = timezone.now() - timedelta(minutes=30)
    for n in range(rows):
        _timed(desk.waiting(since, name=f"C{n}", last_message_at=since), due_in=timedelta(minutes=n - 5))
    client = web_client_for(desk.tenant.agent)
    client.get(INBOX)
    with django_assert_num_queries(QUERIES_INBOX):
        response = client.get(INBOX)
    assert response.content.decode().count("hd-sla hd-sla-") == rows


@pytest.fixture
def tickets(desk: Desk) -> dict[str, Ticket]:
    made = {name: desk.ticket(timezone.now() - timedelta(hours=1), subject=name) for name in ("Calm", "Risky", "Late")}
    _timed(made["Calm"], due_in=timedelta(days=2))
    _timed(made["Risky"], due_in=timedelta(minutes=3))
    _timed(made["Late"], due_in=-timedelta(days=1, hours=2))
    return made


def test_the_tickets_list_and_page_show_the_resolution_sla(desk: Desk, tickets: Any, web_client_for: Any) -> None:
    client = web_client_for(desk.tenant.admin)
    html = client.get(TICKETS).content.decode()
    assert "hd-sla-on_track" in html and "1 day left" in html
    assert "hd-sla-at_risk" in html and "hd-sla-breached" in html and "1 day overdue" in html
    page = client.get(f"{TICKETS}{tickets['Late'].pk}/").content.decode()
    assert "Resolution: Breached, 1 day overdue, due" in page


def test_the_tickets_list_filters_at_risk_and_breached(desk: Desk, tickets: Any, web_client_for: Any) -> None:
    client = web_client_for(desk.tenant.admin)
    assert _names(client.get(TICKETS, {"sla": "at_risk"}).content.decode()) == ["Risky"]
    assert _names(client.get(TICKETS, {"sla": "breached"}).content.decode()) == ["Late"]


def test_the_tickets_api_filters_by_sla_and_refuses_junk(desk: Desk, tickets: Any) -> None:
    client = api_client_for(desk.tenant.admin)
    response = client.get("/api/v1/tickets/", {"sla": "breached"})
    assert [row["id"] for row in response.json()["results"]] == [tickets["Late"].pk]
    refused = client.get("/api/v1/tickets/", {"sla": "soon"})
    assert refused.status_code == 400


@pytest.mark.parametrize("rows", [2, 8])
def test_the_tickets_list_costs_the_same_queries_with_sla_times(
    desk: Desk, web_client_for: Any, rows: int, django_assert_num_queries: Any
) -> None:
    for n in range(rows):
        _timed(desk.ticket(timezone.now(), subject=f"T{n}"), due_in=timedelta(minutes=n - 3))
    client = web_client_for(desk.tenant.admin)
    client.get(TICKETS)
    with django_assert_num_queries(QUERIES_TICKETS):
        response = client.get(TICKETS)
    assert response.content.decode().count("hd-sla hd-sla-") == rows


def test_the_conversations_api_gives_each_wait_its_sla_state(desk: Desk, three: Any) -> None:
    rows = api_client_for(desk.tenant.agent).get("/api/v1/conversations/").json()["results"]
    by_id = {row["id"]: row["sla"] for row in rows}
    calm, risky, late = (by_id[three[name].pk] for name in ("Calm", "Risky", "Late"))
    assert (calm["status"], risky["status"], late["status"]) == ("on_track", "at_risk", "breached")
    assert calm["target"] == "first_response"
    assert 7000 < calm["seconds_left"] <= 7200
    assert -5400 - 60 < late["seconds_left"] <= -5400
    assert datetime.fromisoformat(late["due_at"]) < timezone.now()


def test_the_conversations_api_gives_no_sla_state_to_an_untimed_or_answered_wait(desk: Desk) -> None:
    waiting = desk.waiting(timezone.now() - timedelta(minutes=5), name="Untimed")
    answered = desk.waiting(timezone.now() - timedelta(minutes=5), name="Answered")
    _timed(answered, due_in=timedelta(hours=1))
    Conversation.objects.filter(pk=answered.pk).update(waiting_since=None)
    detail = api_client_for(desk.tenant.agent).get(f"/api/v1/conversations/{waiting.pk}/").json()
    assert detail["sla"] is None
    assert api_client_for(desk.tenant.agent).get(f"/api/v1/conversations/{answered.pk}/").json()["sla"] is None


def test_the_tickets_api_gives_each_ticket_its_resolution_sla(desk: Desk, tickets: Any) -> None:
    client = api_client_for(desk.tenant.admin)
    rows = {row["id"]: row["sla"] for row in client.get("/api/v1/tickets/").json()["results"]}
    assert rows[tickets["Risky"].pk]["status"] == "at_risk"
    assert rows[tickets["Late"].pk]["target"] == "resolution"
    assert rows[tickets["Late"].pk]["seconds_left"] < -86400
    detail = client.get(f"/api/v1/tickets/{tickets['Calm'].pk}/").json()
    assert detail["sla"]["status"] == "on_track"
