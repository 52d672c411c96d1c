# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""A private note in a real browser: the composer's Note mode (usable while the reply window
is closed), an @ mention picked from the list with the keyboard, and the note in the transcript."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from helpdesk.models import Notification
from messenger.models import Note
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.accessibility.test_axe import serious_violations
from tests.chromium import BROWSER_MARKS, agent_page, browser_page, chromium, screenshot  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = BROWSER_MARKS


@pytest.fixture
def logged_in(agent_page: Any) -> Any:
    return agent_page


def test_an_agent_adds_a_note_mentioning_a_colleague(logged_in: Any, live_server: Any, tenant_a: Tenant) -> None:
    page = logged_in
    org = tenant_a.organization
    channel = factories.make_channel(org, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.agent, channel)
    colleague = factories.make_member(
        org, username="hanako", departments=[tenant_a.department], first_name="Hanako", last_name="Sato"
    )
    factories.associate(colleague, channel)
    fb_page = factories.make_page(channel)
    contact = factories.make_contact(fb_page, display_name="Aiko")
    # The customer wrote ten days ago: a reply is refused, a note is not.
    conversation = factories.make_conversation(fb_page, contact, last_inbound_at=timezone.now() - timedelta(days=10))
    factories.make_message(conversation, text="荷物はいつ届きますか？", sent_at=timezone.now() - timedelta(days=10))

    with mock.patch.object(sending_tasks.send_sender_action, "delay", autospec=True) as typing:
        page.goto(f"{live_server.url}/o/alpha/inbox/{conversation.pk}/")
        assert page.is_disabled("#composer-text")
        assert page.get_attribute("#composer", "data-mode") == "reply"

        page.click("#composer-mode-note")
        assert page.get_attribute("#composer", "data-mode") == "note"
        assert page.get_attribute("#composer-mode-note", "aria-selected") == "true"
        assert page.is_enabled("#composer-text")
        assert page.get_attribute("#composer-text", "placeholder") == "Write a note for your team — @ to mention"
        assert not page.is_visible("#composer-file") and not page.is_visible("#composer-count")
        assert page.inner_text("#composer-send").strip() == "Add note"
        # The arrow keys move between the tabs (and switch the mode).
        page.focus("#composer-mode-note")
        page.keyboard.press("ArrowLeft")
        assert page.get_attribute("#composer", "data-mode") == "reply"
        page.keyboard.press("ArrowRight")
        assert page.get_attribute("#composer", "data-mode") == "note"

        # Nothing is offered inside an email address.
        page.click("#composer-text")
        page.keyboard.type("mail hanako@ex")
        page.wait_for_timeout(400)
        assert not page.is_visible("#composer-mentions")
        page.fill("#composer-text", "")
        # Japanese may run right up to a mention; Escape closes the list.
        page.keyboard.type("確認して@han")
        page.wait_for_selector("#composer-mentions [role=option] >> text=Hanako Sato")
        # The window losing focus (another window in front) blurs the textarea but leaves it the
        # page's active element: the list stays. Focus moved elsewhere in the page closes it.
        page.evaluate("document.getElementById('composer-text').dispatchEvent(new FocusEvent('blur'))")
        page.wait_for_timeout(300)
        assert page.is_visible("#composer-mentions [role=option] >> text=Hanako Sato")
        page.focus("#composer-mode-note")
        page.wait_for_selector("#composer-mentions", state="hidden")
        page.click("#composer-text")
        page.keyboard.press("End")
        page.keyboard.type("a")
        page.wait_for_selector("#composer-mentions [role=option] >> text=Hanako Sato")
        page.keyboard.press("Escape")
        assert not page.is_visible("#composer-mentions")
        page.fill("#composer-text", "")

        page.keyboard.type("Please check this @han")
        page.wait_for_selector("#composer-mentions [role=option] >> text=Hanako Sato")
        assert page.get_attribute("#composer-text", "aria-activedescendant") == "composer-mention-0"
        assert page.get_attribute("#composer-mention-0", "aria-selected") == "true"
        assert serious_violations(page) == []
        screenshot(page, "note-mention-list")
        page.keyboard.press("Enter")
        assert page.input_value("#composer-text") == "Please check this @hanako "
        assert not page.is_visible("#composer-mentions")
        page.keyboard.type("thanks!")
        page.click("#composer-send")

        page.wait_for_selector("#transcript-panel .hd-note >> text=@Hanako Sato")
        assert "Note · only your team sees this" in page.inner_text("#transcript-panel .hd-note")
        assert page.input_value("#composer-text") == ""
        assert page.get_attribute("#composer", "data-mode") == "note"
        screenshot(page, "note-in-transcript")
    typing.assert_not_called()  # typing a note tells the customer nothing

    note = Note.objects.get()
    assert note.body == "Please check this @hanako thanks!"
    assert Notification.objects.filter(user=colleague.user, kind=Notification.Kind.MENTION).count() == 1

    # The shortcut helper's hook.
    page.evaluate("window.hdComposerMode.set('reply')")
    assert page.get_attribute("#composer", "data-mode") == "reply"
    assert page.is_disabled("#composer-text")
