# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""The inbox details only a browser shows: a confirmation is a toast that leaves the composer
where it was; a message that arrives in the open conversation is read at once, in the list
too; a retry says so in a toast."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db.models import F

from messenger.models import Conversation, Direction, MessageStatus
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.chromium import BROWSER_MARKS, browser_page, chromium, screenshot  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = BROWSER_MARKS

# Long enough for a couple of the inbox's 2-second polls on a busy machine.
LIVE_TIMEOUT_MS = 10_000


@pytest.fixture
def conversation(tenant_a: Tenant) -> Conversation:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel)
    contact = factories.make_contact(page, display_name="Aiko Tanaka")
    conversation = factories.make_conversation(page, contact)
    for number in range(12):
        factories.make_message(conversation, text=f"Question number {number}")
    return conversation


@pytest.fixture
def agent_page(browser_page: Any, live_server: Any, tenant_a: Tenant) -> Any:
    browser_page.goto(f"{live_server.url}/accounts/login/")
    browser_page.fill("input[name=username]", "alpha-agent")
    browser_page.fill("input[name=password]", factories.PASSWORD)
    browser_page.click("button[type=submit]")
    # Signing in lands on the organization's home page.
    browser_page.wait_for_url(f"{live_server.url}/o/alpha/")
    return browser_page


def _fully_on_screen(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    viewport = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]


@pytest.mark.parametrize("action", ["Close", "Block"])
def test_the_confirmation_of_close_and_block_is_a_toast_that_leaves_send_on_screen(
    agent_page: Any, live_server: Any, conversation: Conversation, action: str
) -> None:
    page = agent_page
    page.goto(f"{live_server.url}/o/alpha/inbox/{conversation.pk}/")
    assert _fully_on_screen(page, "#composer-send")

    if action == "Close":
        page.locator("header").get_by_role("button", name="Close", exact=True).click()
        done = "Conversation closed."
    else:
        page.get_by_role("button", name="Block the customer").click()
        # Asked in the product's own dialog (helpdesk/app.js), not the browser's.
        page.locator("#hd-confirm [data-confirm-accept]").click()
        done = "Customer blocked."
    toast = page.get_by_role("status").filter(has_text=done)
    toast.wait_for()
    # It floats above the page: the composer and Send stay where they were.
    assert _fully_on_screen(page, "#composer-send")
    assert _fully_on_screen(page, "#composer-text")
    assert page.evaluate("getComputedStyle(document.getElementById('toasts')).position") == "fixed"
    screenshot(page, f"inbox-toast-after-{action.lower()}")
    # ... and goes away by itself.
    toast.wait_for(state="detached", timeout=LIVE_TIMEOUT_MS)


def test_a_retry_from_the_transcript_is_confirmed_by_a_toast(
    agent_page: Any, live_server: Any, conversation: Conversation
) -> None:
    factories.make_message(
        conversation,
        text="Your parcel left today.",
        direction=Direction.OUTBOUND,
        status=MessageStatus.FAILED,
        error_code="graph_transient",
    )
    page = agent_page
    page.goto(f"{live_server.url}/o/alpha/inbox/{conversation.pk}/")
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        page.get_by_role("button", name="Retry").click()
        page.get_by_role("status").filter(has_text="The message is being sent again.").wait_for()
    # The page was not reloaded: htmx swapped the transcript and asked for the toast.
    assert page.locator("#transcript-panel").get_by_text("Queued").is_visible()
    assert _fully_on_screen(page, "#composer-send")


def test_a_message_arriving_in_the_open_conversation_is_read_and_its_row_never_shows_unread(
    agent_page: Any, live_server: Any, conversation: Conversation
) -> None:
    page = agent_page
    page.goto(f"{live_server.url}/o/alpha/inbox/{conversation.pk}/")
    page.locator(f"#conversation-link-{conversation.pk}").wait_for()
    # Watch the open conversation's row for an unread badge, every 50 ms, whatever swaps it.
    page.evaluate(
        """id => { window.sawUnread = false; window.setInterval(() => {
            const row = document.getElementById("conversation-link-" + id);
            const unread = row && (row.classList.contains("unread") || row.querySelector(".badge.rounded-pill"));
            if (unread) window.sawUnread = true;
        }, 50); }""",
        conversation.pk,
    )

    # The customer writes while the agent has the conversation open (as the webhook stores it).
    factories.make_message(conversation, text="Are you still there?")
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=F("unread_count") + 1)
    page.locator("#transcript-panel").get_by_text("Are you still there?").wait_for(timeout=LIVE_TIMEOUT_MS)
    page.locator(f"#conversation-link-{conversation.pk}").get_by_text("Are you still there?").wait_for(
        timeout=LIVE_TIMEOUT_MS
    )
    page.wait_for_timeout(4500)  # two more polls of each
    assert page.evaluate("window.sawUnread") is False
    conversation.refresh_from_db()
    assert conversation.unread_count == 0
