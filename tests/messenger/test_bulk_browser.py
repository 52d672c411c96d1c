# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""Bulk actions and keyboard shortcuts in a real browser (Debian's chromium through
Playwright): click and shift-click select a range that survives the list's polling, the
toolbar closes them, "?" shows the shortcuts, "j" moves down the list, and typing "j" in
the composer types a j."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from channels.models import Channel
from messenger.models import Conversation, ConversationEvent, ConversationState
from tests import factories
from tests.chromium import BROWSER_MARKS, browser_page, chromium  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = BROWSER_MARKS


@pytest.fixture
def inbox(browser_page: Any, live_server: Any, tenant_a: Tenant) -> dict[str, Any]:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel)
    conversations = {}
    for name in ("Aiko", "Ben", "Chie"):
        conversation = factories.make_conversation(page, factories.make_contact(page, display_name=name))
        factories.make_message(conversation, text=f"Hello from {name}")
        conversations[name] = conversation
    browser_page.goto(f"{live_server.url}/accounts/login/")
    browser_page.fill("input[name=username]", "alpha-agent")
    browser_page.fill("input[name=password]", factories.PASSWORD)
    browser_page.click("button[type=submit]")
    browser_page.wait_for_url(f"{live_server.url}/o/alpha/")
    browser_page.goto(f"{live_server.url}/o/alpha/inbox/")
    return {"browser": browser_page, "page": page, "conversations": conversations, "agent": tenant_a.agent}


def _focused_id(page: Any) -> str:
    return str(page.evaluate("() => document.activeElement && document.activeElement.id"))


def test_click_and_shift_click_select_a_range_that_the_toolbar_closes(inbox: dict[str, Any]) -> None:
    page, conversations = inbox["browser"], inbox["conversations"]
    # Newest first: Chie, Ben, Aiko. Click Chie's, shift-click Ben's.
    chie, ben, aiko = conversations["Chie"], conversations["Ben"], conversations["Aiko"]
    page.click(f"#bulk-check-{chie.pk}")
    assert page.inner_text("#bulk-count") == "1 selected"
    page.click(f"#bulk-check-{ben.pk}", modifiers=["Shift"])
    assert page.inner_text("#bulk-count") == "2 selected"
    assert page.get_attribute(f"#bulk-check-{chie.pk}", "aria-label") == "Select Chie"
    page.wait_for_selector("#bulk-toolbar[role=toolbar] #bulk-form")

    # The list is polled and swapped whole: the selection is put back on the new rows.
    newcomer = factories.make_conversation(inbox["page"], factories.make_contact(inbox["page"], display_name="Daichi"))
    factories.make_message(newcomer, text="Hi")
    page.wait_for_selector("#conversation-list >> text=Daichi", timeout=5000)
    assert page.is_checked(f"#bulk-check-{chie.pk}") and page.is_checked(f"#bulk-check-{ben.pk}")
    assert not page.is_checked(f"#bulk-check-{aiko.pk}")

    page.click("#bulk-form [data-bulk-action=close]")
    page.wait_for_selector("#toasts >> text=Conversations closed: 2.")
    page.wait_for_selector(f"#conversation-link-{chie.pk} >> text=Closed")
    page.wait_for_selector(f"#conversation-link-{ben.pk} >> text=Closed")
    assert page.is_hidden("#bulk-toolbar")
    states = dict(Conversation.objects.values_list("pk", "state"))
    assert (states[chie.pk], states[ben.pk], states[aiko.pk]) == (
        ConversationState.CLOSED,
        ConversationState.CLOSED,
        ConversationState.OPEN,
    )
    assert ConversationEvent.objects.filter(kind=ConversationEvent.Kind.CLOSED).count() == 2


def _wait_for_the_dialog(page: Any) -> None:
    """Shown, and focus inside it (a modal dialog takes focus once it has faded in)."""
    page.wait_for_selector("#shortcuts-help.show")
    # Polled from here: the page's Content-Security-Policy refuses wait_for_function's eval.
    for _attempt in range(50):
        if page.evaluate("() => document.getElementById('shortcuts-help').contains(document.activeElement)"):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the dialog did not take focus")


def _close_the_dialog(page: Any) -> None:
    """Escape, then wait until the dialog has faded out with its backdrop: only then does it
    give focus back to what opened it, and shortcuts work again."""
    page.keyboard.press("Escape")
    page.wait_for_selector("#shortcuts-help", state="hidden")
    page.wait_for_selector(".modal-backdrop", state="detached")


def test_the_shortcuts_help_and_j_and_typing_j_in_the_composer(inbox: dict[str, Any], live_server: Any) -> None:
    page, conversations = inbox["browser"], inbox["conversations"]
    chie, ben = conversations["Chie"], conversations["Ben"]

    page.keyboard.press("?")
    _wait_for_the_dialog(page)
    assert page.is_visible("#shortcuts-help >> text=Go to search")
    _close_the_dialog(page)
    page.click("text=Keyboard shortcuts")
    _wait_for_the_dialog(page)
    _close_the_dialog(page)

    page.keyboard.press("j")
    assert _focused_id(page) == f"conversation-link-{chie.pk}"
    page.keyboard.press("j")
    assert _focused_id(page) == f"conversation-link-{ben.pk}"
    page.keyboard.press("k")
    assert _focused_id(page) == f"conversation-link-{chie.pk}"
    # x selects the row the cursor is on, c closes the selection.
    page.keyboard.press("x")
    assert page.inner_text("#bulk-count") == "1 selected"
    page.wait_for_selector("#bulk-form")
    page.keyboard.press("c")
    page.wait_for_selector("#toasts >> text=Conversations closed: 1.")
    assert Conversation.objects.get(pk=chie.pk).state == ConversationState.CLOSED
    assert Conversation.objects.get(pk=ben.pk).state == ConversationState.OPEN
    page.keyboard.press("s")
    assert _focused_id(page) == "inbox-q"
    page.keyboard.type("j")  # in the search field: a letter, not a shortcut
    assert page.input_value("#inbox-q") == "j"

    # On a conversation's page: a assigns it to me through the page's own form, r goes to the reply.
    page.goto(f"{live_server.url}/o/alpha/inbox/{ben.pk}/")
    page.keyboard.press("a")
    page.wait_for_selector("#toasts >> text=Assignment saved.")
    assert Conversation.objects.get(pk=ben.pk).assignee_id == inbox["agent"].user_id
    page.keyboard.press("r")
    assert _focused_id(page) == "composer-text"
    page.keyboard.type("jk?")
    assert page.input_value("#composer-text") == "jk?"
    assert _focused_id(page) == "composer-text"
    assert page.is_hidden("#shortcuts-help")


def test_a_refusal_is_shown_with_its_reason_and_the_selection_stays(inbox: dict[str, Any]) -> None:
    page, chie = inbox["browser"], inbox["conversations"]["Chie"]
    Conversation.objects.filter(pk=chie.pk).update(state=ConversationState.CLOSED)
    Channel.objects.filter(pk=chie.channel_id).update(deleted_at=timezone.now())
    page.reload()
    page.click(f"#bulk-check-{chie.pk}")
    page.wait_for_selector("#bulk-form")
    page.click("#bulk-form [data-bulk-action=reopen]")
    page.wait_for_selector("#toasts >> text=Nothing was changed. Chie: This channel was deleted")
    assert page.is_checked(f"#bulk-check-{chie.pk}")
    assert Conversation.objects.get(pk=chie.pk).state == ConversationState.CLOSED
