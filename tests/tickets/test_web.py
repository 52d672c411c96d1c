"""The ticket pages: list, ticket, conversion by hand, and the contact panel's partial."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest

from helpdesk.models import Role
from messenger.models import ConversationEvent, Direction, Message, MessageStatus
from messenger.services.sending import reply_rules
from tests import factories
from tests.conftest import Tenant
from tests.tickets.conftest import T0, Desk, make_ticket, minutes, resolve_ticket
from tickets.models import Ticket, TicketPriority, TicketState

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales_agent(desk: Desk) -> Any:
    sales = factories.make_department(desk.tenant.organization, "Sales")
    return factories.make_member(desk.tenant.organization, role=Role.AGENT, username="sales-agent", departments=[sales])


def _detail(ticket: Ticket) -> str:
    return f"/o/alpha/tickets/{ticket.pk}/"


def _action(ticket: Ticket, action: str) -> str:
    """Each action of the ticket page posts to its own URL."""
    return f"{_detail(ticket)}{action}"


# --- List -------------------------------------------------------------------------------------


def test_the_navigation_has_a_tickets_entry(desk: Desk, web_client_for: Any) -> None:
    response = web_client_for(desk.tenant.agent).get("/o/alpha/tickets/")
    assert response.status_code == 200
    assert b'href="/o/alpha/tickets/" aria-current="page"' in response.content


def test_an_agent_sees_the_tickets_of_their_department_only(desk: Desk, sales_agent: Any, web_client_for: Any) -> None:
    make_ticket(desk, "Broken zipper")
    assert b"Broken zipper" in web_client_for(desk.tenant.agent).get("/o/alpha/tickets/").content
    assert b"Broken zipper" not in web_client_for(sales_agent).get("/o/alpha/tickets/").content


def test_the_list_filters_by_state_and_search(desk: Desk, web_client_for: Any) -> None:
    make_ticket(desk, "Broken zipper", display_name="Taro")
    pending = make_ticket(desk, "Wrong colour", display_name="Jiro")
    Ticket.objects.filter(pk=pending.pk).update(state=TicketState.PENDING)
    client = web_client_for(desk.tenant.agent)
    by_state = client.get("/o/alpha/tickets/", {"state": "pending"}).content
    assert b"Wrong colour" in by_state and b"Broken zipper" not in by_state
    by_name = client.get("/o/alpha/tickets/", {"q": "taro"}).content
    assert b"Broken zipper" in by_name and b"Wrong colour" not in by_name
    mine = client.get("/o/alpha/tickets/", {"assignee": "me"}).content
    assert b"No tickets match these filters." in mine


def test_an_unknown_filter_value_is_shown_as_an_error_and_ignored(desk: Desk, web_client_for: Any) -> None:
    make_ticket(desk, "Broken zipper")
    response = web_client_for(desk.tenant.agent).get("/o/alpha/tickets/", {"department": "999999"})
    assert response.status_code == 200
    assert b"is-invalid" in response.content and b"Broken zipper" in response.content


def test_customer_text_is_escaped(desk: Desk, web_client_for: Any) -> None:
    ticket = make_ticket(desk, "<script>alert(1)</script>", display_name="<b>Eve</b>")
    client = web_client_for(desk.tenant.agent)
    for page in (client.get("/o/alpha/tickets/"), client.get(_detail(ticket))):
        assert b"<script>alert(1)</script>" not in page.content
        assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content
        assert b"<b>Eve</b>" not in page.content


def test_the_list_page_takes_the_same_number_of_queries_for_more_tickets(
    desk: Desk, web_client_for: Any, django_assert_num_queries: Any
) -> None:
    make_ticket(desk)
    client = web_client_for(desk.tenant.agent)
    client.get("/o/alpha/tickets/")  # the first page of a session also saves the session
    # session, user, membership; departments, channels, members and labels to filter by;
    # count; page; the page's labels
    with django_assert_num_queries(10):
        client.get("/o/alpha/tickets/")
    for n in range(6):
        make_ticket(desk, f"More {n}", display_name=f"Other {n}")
    with django_assert_num_queries(10):
        response = client.get("/o/alpha/tickets/")
    assert response.content.count(b'href="/o/alpha/tickets/') >= 7


# --- A ticket -----------------------------------------------------------------------------------


def test_the_ticket_page_shows_the_transcript(desk: Desk, web_client_for: Any) -> None:
    ticket = make_ticket(desk, "Where is my order?")
    response = web_client_for(desk.tenant.agent).get(_detail(ticket))
    assert response.status_code == 200
    assert b"Where is my order?" in response.content
    assert b'class="hd-bubble hd-bubble-in"' in response.content
    assert b"Customer (" not in response.content  # the bubbles, not the copied text
    assert b"Converted by hand by" in response.content


def test_a_ticket_of_another_department_is_404(desk: Desk, sales_agent: Any, web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    client = web_client_for(sales_agent)
    assert client.get(_detail(ticket)).status_code == 404
    assert client.post(_action(ticket, "state/"), {"state": "resolved"}).status_code == 404
    assert Ticket.objects.get().state == TicketState.OPEN


def test_a_ticket_of_another_organization_is_404(desk: Desk, tenant_b: Tenant, web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    client = web_client_for(tenant_b.admin)
    assert client.get(_detail(ticket)).status_code == 404
    assert client.get(f"/o/bravo/tickets/{ticket.pk}/").status_code == 404


def test_each_action_of_the_ticket_page_posts_to_its_own_url(desk: Desk, web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    client = web_client_for(desk.tenant.agent)
    html = client.get(_detail(ticket)).content.decode()
    for action in ("reply/", "state/", "details/", "subject/"):
        assert f'action="{_action(ticket, action)}"' in html
    assert 'name="action"' not in html
    assert client.post(_detail(ticket), {"state": "resolved"}).status_code == 405
    assert Ticket.objects.get().state == TicketState.OPEN


@pytest.mark.parametrize("action", ["reply/", "state/", "details/"])
def test_every_action_on_a_ticket_of_another_department_or_organization_is_404(
    desk: Desk, sales_agent: Any, tenant_b: Tenant, web_client_for: Any, action: str
) -> None:
    ticket = make_ticket(desk)
    data = {"text": "Hello", "state": "resolved", "priority": "high", "assignee": ""}
    assert web_client_for(sales_agent).post(_action(ticket, action), data).status_code == 404
    assert web_client_for(tenant_b.admin).post(f"/o/bravo/tickets/{ticket.pk}/{action}", data).status_code == 404
    assert (Ticket.objects.get().state, Ticket.objects.get().priority) == (TicketState.OPEN, ticket.priority)
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_an_unknown_ticket_is_404(desk: Desk, web_client_for: Any) -> None:
    assert web_client_for(desk.tenant.admin).get("/o/alpha/tickets/999999/").status_code == 404


def test_the_page_offers_only_the_allowed_state_changes(desk: Desk, web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    client = web_client_for(desk.tenant.agent)
    response = client.post(_action(ticket, "state/"), {"state": "resolved"}, follow=True)
    assert Ticket.objects.get().state == TicketState.RESOLVED
    buttons = response.context["transitions"]
    assert [state.value for state in buttons] == ["open", "closed"]
    assert b"Reopen" in response.content and b"Close" in response.content


def test_a_state_change_that_makes_no_sense_is_refused_with_a_message(desk: Desk, web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    Ticket.objects.filter(pk=ticket.pk).update(state=TicketState.CLOSED)
    response = web_client_for(desk.tenant.agent).post(_action(ticket, "state/"), {"state": "pending"}, follow=True)
    assert Ticket.objects.get().state == TicketState.CLOSED
    assert b"alert-danger" in response.content and b"cannot become" in response.content


def test_an_agent_sets_priority_and_assignee(desk: Desk, web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    response = web_client_for(desk.tenant.agent).post(
        _action(ticket, "details/"),
        {"priority": "high", "assignee": str(desk.tenant.agent.user_id)},
        follow=True,
    )
    assert b"Ticket updated." in response.content
    ticket.refresh_from_db()
    assert ticket.priority == TicketPriority.HIGH and ticket.assignee == desk.tenant.agent.user


def test_an_assignee_outside_the_department_is_a_form_error(desk: Desk, sales_agent: Any, web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    response = web_client_for(desk.tenant.agent).post(
        _action(ticket, "details/"), {"priority": "high", "assignee": str(sales_agent.user_id)}
    )
    assert response.status_code == 400
    assert Ticket.objects.get().assignee is None


def test_the_ticket_page_links_to_its_conversation(desk: Desk, web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    response = web_client_for(desk.tenant.agent).get(_detail(ticket))
    link = f'href="/o/alpha/inbox/{desk.conversation.pk}/"'.encode()
    assert link in response.content and b"Open conversation" in response.content


# --- Replying from a ticket -------------------------------------------------------------------


def test_a_reply_on_a_ticket_is_queued_as_a_messenger_reply(desk: Desk, web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    with mock.patch("django.utils.timezone.now", return_value=T0 + minutes(30)):
        response = web_client_for(desk.tenant.agent).post(_action(ticket, "reply/"), {"text": "We are on it"})
    assert response.status_code == 302
    reply = Message.objects.get(direction=Direction.OUTBOUND)
    assert (reply.text, reply.status, reply.messaging_type) == ("We are on it", MessageStatus.QUEUED, "RESPONSE")
    assert reply.conversation_id == desk.conversation.pk and reply.author == desk.tenant.agent.user


def test_a_reply_sent_from_the_ticket_page_appears_in_its_thread_at_once_with_its_status(
    desk: Desk, web_client_for: Any
) -> None:
    ticket = make_ticket(desk, "Where is my order?")
    client = web_client_for(desk.tenant.agent)
    with mock.patch("django.utils.timezone.now", return_value=T0 + minutes(30)):
        response = client.post(_action(ticket, "reply/"), {"text": "We are on it"}, follow=True)
    assert response.redirect_chain[0][0] == _detail(ticket) + "#ticket-transcript"
    reply = Message.objects.get(direction=Direction.OUTBOUND)
    html = response.content.decode()
    assert f'id="message-{reply.pk}"' in html and "We are on it" in html
    bubble = html[html.index(f'id="message-{reply.pk}"') :]
    assert "Queued" in bubble[: bubble.index("</li>")]
    # Once Facebook answers, the polled partial shows the new tick.
    client = web_client_for(desk.tenant.agent)  # the session above was written at the travelled time
    partial_url = _action(ticket, "transcript/")
    version = client.get(partial_url).context["transcript_version"]
    assert client.get(partial_url, {"v": version}).status_code == 204
    Message.objects.filter(pk=reply.pk).update(status=MessageStatus.DELIVERED)
    partial = client.get(partial_url, {"v": version})
    assert partial.status_code == 200 and b"<html" not in partial.content
    assert b'title="Delivered"' in partial.content and b"We are on it" in partial.content


def test_a_reply_from_a_resolved_ticket_still_appears_in_it_unless_the_customer_wrote_since(
    desk: Desk, web_client_for: Any
) -> None:
    ticket = resolve_ticket(desk, make_ticket(desk, "Where is my order?"))
    client = web_client_for(desk.tenant.agent)
    with mock.patch("django.utils.timezone.now", return_value=T0 + minutes(30)):
        page = client.post(_action(ticket, "reply/"), {"text": "Anything else?"}, follow=True).content.decode()
    assert "Anything else?" in page
    desk.say("Yes, one more thing", T0 + minutes(40))
    with mock.patch("django.utils.timezone.now", return_value=T0 + minutes(45)):
        client = web_client_for(desk.tenant.agent)
        page = client.post(_action(ticket, "reply/"), {"text": "Go ahead"}, follow=True).content.decode()
    assert "Go ahead" not in page and "Yes, one more thing" not in page  # they begin the next part
    assert Ticket.objects.get().message_count == 2


def test_the_thread_of_a_ticket_is_its_part_of_the_conversation(desk: Desk, web_client_for: Any) -> None:
    earlier = resolve_ticket(desk, make_ticket(desk, "First problem"))
    desk.say("Second problem", T0 + minutes(300))
    ticket = make_ticket(desk, "Second problem, more details")
    while_open = desk.say("Any news?", T0 + minutes(400))
    client = web_client_for(desk.tenant.agent)
    page = client.get(_detail(ticket)).content.decode()
    assert "Second problem" in page and while_open.text in page and "First problem" not in page
    assert f'href="{_detail(earlier)}"' in page and f"Follow-up of #{earlier.pk}" in page
    assert while_open.text not in client.get(_detail(earlier)).content.decode()


def test_the_ticket_transcript_partial_is_404_for_another_department(
    desk: Desk, sales_agent: Any, tenant_b: Tenant, web_client_for: Any
) -> None:
    ticket = make_ticket(desk)
    assert web_client_for(sales_agent).get(_action(ticket, "transcript/")).status_code == 404
    assert web_client_for(tenant_b.admin).get(_action(ticket, "transcript/")).status_code == 404


def test_an_agent_edits_the_subject_and_the_change_reads_in_the_readers_language(
    desk: Desk, web_client_for: Any
) -> None:
    ticket = make_ticket(desk, "hello??")
    client = web_client_for(desk.tenant.agent)
    response = client.post(_action(ticket, "subject/"), {"subject": "Refund for order 1234"}, follow=True)
    assert b"Ticket updated." in response.content
    assert Ticket.objects.get().subject == "Refund for order 1234"
    assert "changed the subject to “Refund for order 1234”" in response.content.decode()
    assert client.post(_action(ticket, "subject/"), {"subject": "  "}).status_code == 400
    desk.tenant.organization.language = "ja"
    desk.tenant.organization.save(update_fields=["language"])
    page = client.get(_detail(ticket), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "件名を「Refund for order 1234」に変更しました。" in page


def test_a_reply_on_a_ticket_obeys_the_length_limit_and_keeps_the_text(desk: Desk, web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    too_long = "日" * 1601
    with mock.patch("django.utils.timezone.now", return_value=T0 + minutes(30)):
        response = web_client_for(desk.tenant.agent).post(_action(ticket, "reply/"), {"text": too_long})
    assert response.status_code == 400
    assert too_long.encode() in response.content
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_the_ticket_pages_reply_hint_reads_the_services_limit(desk: Desk, web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    client = web_client_for(desk.tenant.agent)
    assert "At most 1,600 characters." in client.get(_detail(ticket)).content.decode()
    with mock.patch.object(reply_rules, "MAX_TEXT_LENGTH", 1200):
        page = client.get(_detail(ticket)).content.decode()
    assert "At most 1,200 characters." in page


def test_a_reply_on_a_ticket_after_seven_days_is_refused(desk: Desk, web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    with mock.patch("django.utils.timezone.now", return_value=T0 + timedelta(days=7, minutes=1)):
        response = web_client_for(desk.tenant.agent).post(_action(ticket, "reply/"), {"text": "Hello?"})
    assert response.status_code == 409
    assert b"Window closed" in response.content
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


# --- Conversion by hand ---------------------------------------------------------------------------


def test_converting_by_hand_makes_a_ticket_and_opens_it(desk: Desk, web_client_for: Any) -> None:
    desk.say("Please call me", T0)
    response = web_client_for(desk.tenant.agent).post(f"/o/alpha/tickets/convert/{desk.conversation.pk}/")
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == _detail(ticket)
    assert ticket.created_by == desk.tenant.agent.user
    assert ConversationEvent.objects.filter(kind=ConversationEvent.Kind.CONVERTED, data__ticket_id=ticket.pk).exists()


def test_converting_with_nothing_new_says_so_and_goes_back(desk: Desk, web_client_for: Any) -> None:
    resolve_ticket(desk, make_ticket(desk))
    client = web_client_for(desk.tenant.agent)
    response = client.post(f"/o/alpha/tickets/convert/{desk.conversation.pk}/", {"next": "/o/alpha/"}, follow=True)
    assert response.redirect_chain[0][0] == "/o/alpha/"
    assert b"already part of a ticket" in response.content
    assert Ticket.objects.count() == 1


def test_converting_again_while_the_ticket_is_open_takes_the_agent_to_it(desk: Desk, web_client_for: Any) -> None:
    ticket = make_ticket(desk, "My parcel is late")
    desk.reply("We shipped a replacement today", T0 + minutes(1))
    client = web_client_for(desk.tenant.agent)
    url = f"/o/alpha/tickets/convert/{desk.conversation.pk}/"
    response = client.post(url, {"next": "/o/alpha/"}, follow=True)
    assert response.redirect_chain[0][0] == _detail(ticket)
    assert f"This conversation already has an open ticket: #{ticket.pk}.".encode() in response.content
    assert client.post(url, HTTP_HX_REQUEST="true")["HX-Redirect"] == _detail(ticket)
    assert Ticket.objects.count() == 1 and Ticket.objects.get().subject == "My parcel is late"


def test_an_outside_next_address_is_not_followed(desk: Desk, web_client_for: Any) -> None:
    resolve_ticket(desk, make_ticket(desk))
    response = web_client_for(desk.tenant.agent).post(
        f"/o/alpha/tickets/convert/{desk.conversation.pk}/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == f"/o/alpha/inbox/{desk.conversation.pk}/"


def test_converting_from_htmx_redirects_the_page(desk: Desk, web_client_for: Any) -> None:
    desk.say("Hello", T0)
    response = web_client_for(desk.tenant.agent).post(
        f"/o/alpha/tickets/convert/{desk.conversation.pk}/", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and response["HX-Redirect"] == _detail(Ticket.objects.get())


def test_conversion_is_post_only_and_404_for_another_department(
    desk: Desk, sales_agent: Any, web_client_for: Any
) -> None:
    desk.say("Hello", T0)
    url = f"/o/alpha/tickets/convert/{desk.conversation.pk}/"
    assert web_client_for(desk.tenant.agent).get(url).status_code == 405
    assert web_client_for(sales_agent).post(url).status_code == 404
    assert not Ticket.objects.exists()


# --- The contact panel partial ---------------------------------------------------------------------


def test_the_contact_partial_lists_the_contacts_past_tickets(desk: Desk, web_client_for: Any) -> None:
    first = resolve_ticket(desk, make_ticket(desk, "First problem"))
    desk.say("Second problem", T0.replace(hour=15))
    second = make_ticket(desk, "Second problem follow-up")
    other = make_ticket(desk, "Someone else", display_name="Other person")
    response = web_client_for(desk.tenant.agent).get(f"/o/alpha/tickets/contact/{desk.conversation.contact_id}/")
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert [t.pk for t in response.context["tickets"]] == [second.pk, first.pk]
    assert other.subject.encode() not in response.content


def test_the_contact_partial_is_404_outside_the_agents_departments(
    desk: Desk, sales_agent: Any, tenant_b: Tenant, web_client_for: Any
) -> None:
    make_ticket(desk)
    url = f"/o/alpha/tickets/contact/{desk.conversation.contact_id}/"
    assert web_client_for(sales_agent).get(url).status_code == 404
    assert web_client_for(tenant_b.admin).get(url).status_code == 404
    assert web_client_for(tenant_b.admin).get(url.replace("alpha", "bravo")).status_code == 404


def test_the_contact_partial_takes_the_same_number_of_queries_for_more_tickets(
    desk: Desk, web_client_for: Any, django_assert_num_queries: Any
) -> None:
    ticket = make_ticket(desk, "First problem")
    client = web_client_for(desk.tenant.agent)
    url = f"/o/alpha/tickets/contact/{desk.conversation.contact_id}/"
    client.get(url)
    # session, user, membership; the contact; its tickets
    with django_assert_num_queries(5):
        client.get(url)
    for n in range(4):
        resolve_ticket(desk, ticket)
        desk.say(f"Problem {n}", T0.replace(hour=10 + n))
        ticket = make_ticket(desk, f"Follow-up {n}")
    with django_assert_num_queries(5):
        response = client.get(url)
    assert len(response.context["tickets"]) == 5
