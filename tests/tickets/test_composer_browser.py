# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""The ticket page's composer in a real browser: "/" and a part of a title insert a canned
response with the customer's name and this ticket's number (its file as a chip, sent with
the reply), then the Note tab writes a private note mentioning a colleague, which shows in the
ticket's thread as a note."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import expect

from canned import services as canned_services
from canned.models import CannedResponse
from helpdesk.models import Notification
from messenger.models import Direction, Message, Note
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.accessibility.test_axe import serious_violations
from tests.chromium import BROWSER_MARKS, agent_page, browser_page, chromium, screenshot  # noqa: F401 (fixtures)
from tests.conftest import Tenant
from tickets.services import ticket_create_from_conversation

pytestmark = BROWSER_MARKS


@pytest.fixture
def logged_in(agent_page: Any) -> Any:
    return agent_page


def test_slash_inserts_a_canned_response_and_the_note_tab_adds_a_note_on_the_ticket_page(
    logged_in: Any, live_server: Any, tenant_a: Tenant, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    page = logged_in
    organization = tenant_a.organization
    channel = factories.make_channel(organization, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.agent, channel)
    colleague = factories.make_member(
        organization, username="hanako", departments=[tenant_a.department], first_name="Hanako", last_name="Sato"
    )
    factories.associate(colleague, channel)
    fb_page = factories.make_page(channel)
    contact = factories.make_contact(fb_page, display_name="Aiko Tanaka", first_name="Aiko", last_name="Tanaka")
    conversation = factories.make_conversation(fb_page, contact)
    factories.make_message(conversation, text="My parcel came broken", sent_at=timezone.now() - timedelta(minutes=3))
    ticket = ticket_create_from_conversation(
        organization=organization,
        acting_user=tenant_a.agent.user,
        membership=tenant_a.agent,
        conversation_id=conversation.pk,
    )
    replacement: CannedResponse = canned_services.canned_response_create(
        organization=organization,
        membership=tenant_a.admin,
        acting_user=tenant_a.admin.user,
        scope="organization",
        shortcut="replace",
        title="Replacement sent",
        body_en="Hello {{contact.first_name}}, a replacement for ticket #{{ticket.number}} leaves today.",
    )
    canned_services.canned_attachment_add(
        organization=organization,
        membership=tenant_a.admin,
        canned_response=replacement,
        upload=SimpleUploadedFile("label.pdf", b"%PDF-1.4 return label"),
    )
    expected = f"Sorry! Hello Aiko, a replacement for ticket #{ticket.pk} leaves today."

    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        page.goto(f"{live_server.url}/o/alpha/tickets/{ticket.pk}/")
        textarea = page.locator("#composer-text")
        assert page.get_attribute("#composer", "data-mode") == "reply"
        textarea.click()
        page.keyboard.type("Sorry! /replacem")
        option = page.locator("#canned-listbox [role=option]").first
        option.wait_for()
        assert "Replacement sent" in option.inner_text()
        assert textarea.get_attribute("aria-expanded") == "true"
        assert textarea.get_attribute("aria-activedescendant") == f"canned-option-{replacement.pk}"
        page.keyboard.press("Enter")
        # Polled by Playwright's own script (the page's CSP forbids evaluating a string).
        expect(textarea).to_have_value(expected)
        assert page.locator("#canned-popup").is_hidden()
        assert "label.pdf" in page.inner_text("#canned-chips")
        screenshot(page, "ticket-canned-inserted")

        page.keyboard.press("Control+Enter")
        page.wait_for_selector(f"#ticket-transcript >> text={expected}")
    file_message, text_message = Message.objects.filter(direction=Direction.OUTBOUND).order_by("pk")
    assert file_message.attachments[0]["title"] == "label.pdf"
    assert text_message.text == expected
    replacement.refresh_from_db()
    assert replacement.usage_count == 1

    # A private note from the same page: the Note tab, an @ mention picked with the keyboard.
    page.click("#composer-mode-note")
    assert page.get_attribute("#composer", "data-mode") == "note"
    assert page.get_attribute("#composer-mode-note", "aria-selected") == "true"
    assert page.inner_text("#composer-send").strip() == "Add note"
    assert page.is_visible("#reply-heading >> text=Private note for your team")
    # "/" in a note is text, not a search.
    textarea.click()
    page.keyboard.type("/repl")
    page.wait_for_timeout(400)
    assert page.locator("#canned-popup").is_hidden()
    page.fill("#composer-text", "")
    page.keyboard.type("Please send the label again @han")
    page.wait_for_selector("#composer-mentions [role=option] >> text=Hanako Sato")
    assert serious_violations(page) == []
    page.keyboard.press("Enter")
    assert page.input_value("#composer-text") == "Please send the label again @hanako "
    page.keyboard.type("thanks!")
    page.click("#composer-send")

    page.wait_for_selector("#ticket-transcript .hd-note >> text=@Hanako Sato")
    assert "Note · only your team sees this" in page.inner_text("#ticket-transcript .hd-note")
    screenshot(page, "ticket-note-in-thread")
    note = Note.objects.get()
    assert (note.body, note.conversation_id) == ("Please send the label again @hanako thanks!", conversation.pk)
    assert Notification.objects.filter(user=colleague.user, kind=Notification.Kind.MENTION).count() == 1
    # Still only the reply went out.
    assert Message.objects.filter(direction=Direction.OUTBOUND).count() == 2
