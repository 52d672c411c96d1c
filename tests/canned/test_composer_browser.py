# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""Canned responses in the composer, in a real browser: "/" and a part of a title, chosen
with the keyboard, fill the reply with the customer's name; its file rides along as a chip."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import expect

from canned import services
from canned.models import CannedResponse
from messenger.models import Direction, Message
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.chromium import BROWSER_MARKS, agent_page, browser_page, chromium  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = BROWSER_MARKS


@pytest.fixture
def logged_in(agent_page: Any) -> Any:
    return agent_page


def test_slash_and_a_title_inserts_a_canned_response_with_the_customers_name(
    logged_in: Any, live_server: Any, tenant_a: Tenant, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    page = logged_in
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.agent, channel)
    fb_page = factories.make_page(channel)
    contact = factories.make_contact(fb_page, display_name="Aiko Tanaka", first_name="Aiko", last_name="Tanaka")
    conversation = factories.make_conversation(fb_page, contact)
    factories.make_message(
        conversation, text="When does my parcel leave?", sent_at=timezone.now() - timedelta(minutes=3)
    )

    def canned(shortcut: str, title: str, body: str) -> CannedResponse:
        return services.canned_response_create(
            organization=tenant_a.organization,
            membership=tenant_a.admin,
            acting_user=tenant_a.admin.user,
            scope="organization",
            shortcut=shortcut,
            title=title,
            body_en=body,
        )

    canned("late", "Delivery delays", "Sorry {{contact.first_name}}, the carrier is late.")
    times = canned("ship", "Delivery times", "Hello {{contact.first_name}}, your parcel leaves today.")
    CannedResponse.objects.filter(pk=times.pk).update(usage_count=0)
    CannedResponse.objects.filter(shortcut="late").update(usage_count=5)
    services.canned_attachment_add(
        organization=tenant_a.organization,
        membership=tenant_a.admin,
        canned_response=times,
        upload=SimpleUploadedFile("timetable.pdf", b"%PDF-1.4 timetable"),
    )

    page.goto(f"{live_server.url}/o/alpha/inbox/{conversation.pk}/")
    textarea = page.locator("#composer-text")
    textarea.click()
    page.keyboard.type("Hi! /deliv")
    listbox = page.locator("#canned-listbox")
    listbox.locator("[role=option]").nth(1).wait_for()
    assert textarea.get_attribute("aria-expanded") == "true"
    # The most used first; the arrow moves to the second, Enter inserts it.
    options = listbox.locator("[role=option]")
    assert "Delivery delays" in options.nth(0).inner_text() and "Delivery times" in options.nth(1).inner_text()
    assert options.nth(0).get_attribute("aria-selected") == "true"
    page.keyboard.press("ArrowDown")
    assert options.nth(1).get_attribute("aria-selected") == "true"
    assert textarea.get_attribute("aria-activedescendant") == f"canned-option-{times.pk}"
    page.keyboard.press("Enter")
    # Polled by Playwright's own script (the page's CSP forbids evaluating a string).
    expect(textarea).to_have_value("Hi! Hello Aiko, your parcel leaves today.")
    assert page.locator("#canned-popup").is_hidden()
    assert "timetable.pdf" in page.inner_text("#canned-chips")
    # The agent can still edit it; "/" then Escape closes the search without inserting.
    page.keyboard.type(" /")
    page.locator("#canned-popup").wait_for(state="visible")
    page.keyboard.press("Escape")
    assert page.locator("#canned-popup").is_hidden()
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.type(" See you!")
    assert page.inner_text("#composer-count [data-count]") == str(
        len("Hi! Hello Aiko, your parcel leaves today. See you!")
    )

    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        page.keyboard.press("Control+Enter")
        page.wait_for_selector("#transcript-panel >> text=Hi! Hello Aiko, your parcel leaves today. See you!")
    assert page.locator("#canned-chips").is_hidden()
    file_message, text_message = Message.objects.filter(direction=Direction.OUTBOUND).order_by("pk")
    assert file_message.attachments[0]["title"] == "timetable.pdf"
    assert text_message.text == "Hi! Hello Aiko, your parcel leaves today. See you!"
    times.refresh_from_db()
    assert times.usage_count == 1
