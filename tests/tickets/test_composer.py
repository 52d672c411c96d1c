"""The ticket page's composer is the inbox's: a private note (kept on the ticket's
conversation, shown in the ticket's thread, its mentions told, never a message) and the
canned responses' "/" (filled in for the ticket's conversation with this ticket's number, the
use counted, its files sent with the reply). Each under the ticket's rule of who may see it."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from canned import services as canned_services
from canned.models import CannedResponse, CannedResponseUse
from helpdesk.models import Membership, Notification, Role
from messenger.models import Direction, Message, Note, NoteMention
from tests import factories
from tests.conftest import Tenant
from tests.tickets.conftest import T0, Desk, make_ticket, minutes, resolve_ticket
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def _url(ticket: Ticket, rest: str = "") -> str:
    return f"/o/alpha/tickets/{ticket.pk}/{rest}"


def _canned(desk: Desk, shortcut: str, body_en: str) -> CannedResponse:
    admin = desk.tenant.admin
    return canned_services.canned_response_create(
        organization=desk.tenant.organization,
        membership=admin,
        acting_user=admin.user,
        scope="organization",
        shortcut=shortcut,
        title=f"Title of {shortcut}",
        body_en=body_en,
    )


def _insert(client: Any, ticket: Ticket, query: str) -> dict[str, Any]:
    """What the composer does on "/query" then Enter: search, then ask the first result's URL."""
    found = client.get(_url(ticket, "canned/"), {"q": query})
    assert found.status_code == 200
    first = found.json()["results"][0]
    rendered = client.post(first["render_url"])
    assert rendered.status_code == 200
    return {"render_url": first["render_url"], **rendered.json()}


@pytest.fixture
def colleague(desk: Desk) -> Membership:
    """A colleague on the ticket's channel, who reads the helpdesk in Japanese."""
    member = factories.make_member(
        desk.tenant.organization,
        username="hanako",
        departments=[desk.tenant.department],
        first_name="Hanako",
        last_name="Sato",
        email="hanako@example.com",
    )
    Membership.objects.filter(pk=member.pk).update(language="ja")
    factories.associate(member, desk.channel)
    return member


# --- The page ----------------------------------------------------------------------------------


def test_the_ticket_page_offers_reply_and_note_and_the_canned_search_of_this_ticket(
    desk: Desk, web_client_for: Any
) -> None:
    ticket = make_ticket(desk)
    html = web_client_for(desk.tenant.agent).get(_url(ticket)).content.decode()
    assert f'action="{_url(ticket, "reply/")}"' in html
    assert f'data-reply-url="{_url(ticket, "reply/")}"' in html
    assert f'data-note-url="{_url(ticket, "notes/")}"' in html
    assert f'data-mentionable-url="/o/alpha/inbox/{desk.conversation.pk}/mentionable/"' in html
    assert f'data-canned-url="{_url(ticket, "canned/")}"' in html
    assert 'id="composer-mode-note"' in html and 'id="canned-listbox"' in html
    assert "messenger/notes.js" in html and "canned/canned.js" in html


def test_the_ticket_composer_reads_in_japanese(desk: Desk, web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    Membership.objects.filter(pk=desk.tenant.agent.pk).update(language="ja")
    html = web_client_for(desk.tenant.agent).get(_url(ticket)).content.decode()
    assert "チーム向けの非公開メモ" in html
    assert "メモはチームにのみ表示され、顧客には送信されません。" in html
    assert "@ でメンション" in html and "定型文" in html
    assert "Private note for your team" not in html


# --- A note from the ticket page ------------------------------------------------------------------


def test_a_note_from_the_ticket_page_is_kept_on_its_conversation_and_shown_in_its_thread(
    desk: Desk, web_client_for: Any
) -> None:
    ticket = make_ticket(desk, "Where is my order?")
    client = web_client_for(desk.tenant.agent)

    response = client.post(_url(ticket, "notes/"), {"text": "  Customer called twice, be gentle.  "}, follow=True)

    note = Note.objects.get()
    assert (note.body, note.author, note.conversation_id) == (
        "Customer called twice, be gentle.",
        desk.tenant.agent.user,
        desk.conversation.pk,
    )
    assert response.redirect_chain[0][0] == f"{_url(ticket)}#note-{note.pk}"
    html = response.content.decode()
    assert "Note added." in html
    card = re.search(rf'<li id="note-{note.pk}".*?</li>', html, re.S)
    assert card is not None and "hd-note" in card.group(0)
    assert "Note · only your team sees this" in card.group(0) and "Customer called twice" in card.group(0)
    # The inbox's transcript of the conversation shows it too; nothing goes to the customer.
    assert f'id="note-{note.pk}"' in client.get(f"/o/alpha/inbox/{desk.conversation.pk}/").content.decode()
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_a_note_may_be_written_from_a_ticket_whose_reply_window_is_closed(desk: Desk, web_client_for: Any) -> None:
    # The customer wrote at T0, months ago: the window is closed and stays so for replies.
    ticket = make_ticket(desk)
    client = web_client_for(desk.tenant.agent)
    html = client.get(_url(ticket)).content.decode()
    assert 'id="reply-window" data-can-reply="false"' in html
    assert re.search(r'<textarea[^>]*id="composer-text"[^>]*disabled', html)

    assert client.post(_url(ticket, "reply/"), {"text": "Hello?"}).status_code == 409
    assert client.post(_url(ticket, "notes/"), {"text": "Call her back on Monday."}).status_code == 302
    assert Note.objects.get().body == "Call her back on Monday."
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_a_mention_in_a_note_from_the_ticket_page_tells_the_colleague(
    desk: Desk,
    colleague: Membership,
    web_client_for: Any,
    mailoutbox: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    ticket = make_ticket(desk)
    with django_capture_on_commit_callbacks(execute=True):
        response = web_client_for(desk.tenant.agent).post(
            _url(ticket, "notes/"), {"text": "@hanako can you check the parcel?"}
        )
    assert response.status_code == 302
    note = Note.objects.get()
    assert list(NoteMention.objects.values_list("user_id", flat=True)) == [colleague.user_id]
    (notice,) = Notification.objects.filter(kind=Notification.Kind.MENTION)
    assert notice.user_id == colleague.user_id
    assert notice.url == f"/o/alpha/inbox/{desk.conversation.pk}/#note-{note.pk}"
    (mail,) = mailoutbox
    assert mail.to == ["hanako@example.com"] and "メモであなたをメンションしました" in mail.subject
    assert "@hanako can you check the parcel?" in mail.body


def test_a_refused_note_comes_back_in_note_mode_with_its_text_and_the_reason(desk: Desk, web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    response = web_client_for(desk.tenant.agent).post(_url(ticket, "notes/"), {"text": "Ask @nobody about it"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-mode="note"' in html and f'action="{_url(ticket, "notes/")}"' in html
    assert ">Ask @nobody about it</textarea>" in html
    assert "@nobody cannot be mentioned" in html
    assert not Note.objects.exists() and not Notification.objects.exists()
    assert web_client_for(desk.tenant.agent).post(_url(ticket, "notes/"), {"text": "   "}).status_code == 400


# --- Canned responses on the ticket page ------------------------------------------------------------


def test_a_canned_response_on_a_ticket_page_names_the_customer_and_this_tickets_number(
    desk: Desk, web_client_for: Any
) -> None:
    earlier = resolve_ticket(desk, make_ticket(desk, "My parcel is late"))
    desk.say("It came broken", T0 + minutes(300))
    later = make_ticket(desk, "Broken on arrival")
    status = _canned(desk, "status", "Hello {{contact.first_name}}, about ticket #{{ticket.number}}: on its way.")
    client = web_client_for(desk.tenant.agent)

    inserted = _insert(client, earlier, "stat")

    # The resolved ticket's page fills in its own number, not that of the conversation's open ticket.
    assert inserted["render_url"] == _url(earlier, f"canned/{status.pk}/render/")
    assert inserted["text"] == f"Hello Hanako, about ticket #{earlier.pk}: on its way."
    assert _insert(client, later, "stat")["text"] == f"Hello Hanako, about ticket #{later.pk}: on its way."
    status.refresh_from_db()
    assert status.usage_count == 2
    assert list(CannedResponseUse.objects.values_list("conversation_id", flat=True)) == [desk.conversation.pk] * 2


def test_a_canned_responses_file_goes_with_the_reply_from_the_ticket_page(
    desk: Desk, web_client_for: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    ticket = make_ticket(desk)
    times = _canned(desk, "times", "Our timetable, {{contact.first_name}}.")
    canned_services.canned_attachment_add(
        organization=desk.tenant.organization,
        membership=desk.tenant.admin,
        canned_response=times,
        upload=SimpleUploadedFile("timetable.pdf", b"%PDF-1.4 timetable"),
    )
    client = web_client_for(desk.tenant.agent)
    inserted = _insert(client, ticket, "times")
    (attachment,) = inserted["attachments"]
    assert attachment["title"] == "timetable.pdf"

    with mock.patch("django.utils.timezone.now", return_value=T0 + minutes(30)):
        # Refused (too long): the text and the file come back, the file as a chip.
        refused = client.post(
            _url(ticket, "reply/"), {"text": inserted["text"] + "!" * 1600, "kept_file": attachment["kept_file"]}
        )
        assert refused.status_code == 400
        html = refused.content.decode()
        assert "timetable.pdf" in html and f'name="kept_file" value="{attachment["kept_file"]}"' in html
        assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()

        sent = client.post(_url(ticket, "reply/"), {"text": inserted["text"], "kept_file": attachment["kept_file"]})
    assert sent.status_code == 302
    file_message, text_message = Message.objects.filter(direction=Direction.OUTBOUND).order_by("pk")
    assert file_message.attachments[0]["title"] == "timetable.pdf"
    assert text_message.text == "Our timetable, Hanako."


def test_a_forged_kept_file_refuses_the_reply_from_the_ticket_page(desk: Desk, web_client_for: Any) -> None:
    ticket = make_ticket(desk)
    with mock.patch("django.utils.timezone.now", return_value=T0 + minutes(30)):
        response = web_client_for(desk.tenant.agent).post(
            _url(ticket, "reply/"), {"text": "Here you are", "kept_file": "forged"}
        )
    assert response.status_code == 400
    assert "An attached file is no longer available" in response.content.decode()
    assert 'value="forged"' not in response.content.decode()
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


# --- Who may ----------------------------------------------------------------------------------------


@pytest.fixture
def outsiders(desk: Desk, tenant_b: Tenant) -> dict[str, Membership]:
    """Who may not see the ticket: an agent of another department; an agent who sees its
    conversation but not the ticket (kept in another department); another organization's admin."""
    organization = desk.tenant.organization
    sales = factories.make_department(organization, "Sales")
    return {
        "other department": factories.make_member(organization, role=Role.AGENT, departments=[sales]),
        "conversation only": factories.make_member(organization, departments=[desk.tenant.department]),
        "other organization": tenant_b.admin,
    }


@pytest.mark.parametrize("who", ["other department", "conversation only", "other organization"])
def test_who_may_not_see_the_ticket_gets_404_on_its_note_and_canned_urls(
    desk: Desk, outsiders: dict[str, Membership], web_client_for: Any, who: str
) -> None:
    ticket = make_ticket(desk)
    status = _canned(desk, "status", "Ticket #{{ticket.number}}")
    member = outsiders[who]
    if who == "conversation only":
        factories.associate(member, desk.channel)
        Ticket.objects.filter(pk=ticket.pk).update(department=factories.make_department(ticket.organization, "Kept"))
        # They do see the conversation, and may write a note there.
        assert web_client_for(member).get(f"/o/alpha/inbox/{desk.conversation.pk}/").status_code == 200
    client = web_client_for(member)
    slug = member.organization.slug
    for prefix in {"/o/alpha", f"/o/{slug}"}:
        base = f"{prefix}/tickets/{ticket.pk}/"
        assert client.post(f"{base}notes/", {"text": "let me in"}).status_code == 404
        assert client.get(f"{base}canned/", {"q": "stat"}).status_code == 404
        assert client.post(f"{base}canned/{status.pk}/render/").status_code == 404
    assert not Note.objects.exists()
    status.refresh_from_db()
    assert status.usage_count == 0 and not CannedResponseUse.objects.exists()
