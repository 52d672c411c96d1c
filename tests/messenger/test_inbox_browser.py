# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""The inbox in a real browser (Debian's chromium through Playwright): live updates, the
character counter, sending, and the closed-window composer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from messenger.models import Conversation, Direction, Message
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.chromium import BROWSER_MARKS, browser_page, chromium  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = BROWSER_MARKS


@pytest.fixture
def logged_in(browser_page: Any, live_server: Any, tenant_a: Tenant) -> Any:
    browser_page.goto(f"{live_server.url}/accounts/login/")
    browser_page.fill("input[name=username]", "alpha-agent")
    browser_page.fill("input[name=password]", factories.PASSWORD)
    browser_page.click("button[type=submit]")
    browser_page.wait_for_url(f"{live_server.url}/o/alpha/")
    browser_page.goto(f"{live_server.url}/o/alpha/inbox/")
    return browser_page


def test_an_agent_holds_a_conversation_in_the_browser(logged_in: Any, live_server: Any, tenant_a: Tenant) -> None:
    page = logged_in
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.agent, channel)
    fb_page = factories.make_page(channel)
    contact = factories.make_contact(fb_page, display_name="Aiko")
    conversation = factories.make_conversation(fb_page, contact, unread_count=1)
    factories.make_message(conversation, text="荷物はいつ届きますか？")

    # A new conversation shows up without a reload (the list polls every 2 s).
    page.wait_for_selector("text=Aiko", timeout=5000)
    page.click("text=Aiko")
    page.wait_for_selector("text=荷物はいつ届きますか？")
    assert "Reply window: 23 h left" in page.inner_text("#reply-window")

    # The counter counts code points: one emoji is one character; 1,601 disables Send.
    page.fill("#composer-text", "😀" * 1601)
    assert page.inner_text("#composer-count [data-count]") == "1,601"
    assert page.inner_text("#composer-count [data-too-long-text]") == "1 character too many"
    page.fill("#composer-text", "😀" * 1603)
    assert page.inner_text("#composer-count [data-too-long-text]") == "3 characters too many"
    assert page.is_disabled("#composer-send")
    page.fill("#composer-text", "日本語 😀")
    assert page.inner_text("#composer-count [data-count]") == "5"
    assert page.is_enabled("#composer-send")

    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        page.keyboard.press("Control+Enter")
        page.wait_for_selector("#transcript-panel >> text=日本語 😀")
    assert page.input_value("#composer-text") == ""
    sent = Message.objects.get(direction=Direction.OUTBOUND)
    assert sent.text == "日本語 😀"

    # The customer writes again: it appears in the open transcript within the poll.
    factories.make_message(conversation, text="ありがとう！")
    page.wait_for_selector("#transcript-panel >> text=ありがとう！", timeout=5000)

    # A week later the window closes and the composer turns itself off.
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=8))
    page.wait_for_selector("#reply-window >> text=Window closed: the customer must write first", timeout=5000)
    assert page.is_disabled("#composer-text")
