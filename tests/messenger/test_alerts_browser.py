# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""Alerts in a real browser (helpdesk/static/helpdesk/alerts.js): permission for desktop
notifications is asked only from the Preferences button, a live event shows a desktop
notification with words the page fetched, and the tab's title carries the unread count, on
events and on polling ticks."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

import pytest

from helpdesk import alerts
from helpdesk.models import Membership
from helpdesk.services import membership_alert_preferences_update
from messenger.services import notes
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.accessibility.test_axe import serious_violations
from tests.chromium import BROWSER_MARKS, browser_page, chromium, screenshot, sign_in  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = BROWSER_MARKS

# window.Notification, recorded: what the page asks and shows.
NOTIFICATION_STUB = """
(() => {
  const record = { shown: [], asked: 0 };
  let permission = "default";
  class RecordedNotification {
    constructor(title, options) {
      record.shown.push({ title, body: (options || {}).body || "", tag: (options || {}).tag || "" });
    }
    close() {}
    static get permission() { return permission; }
    static requestPermission(callback) {
      record.asked += 1;
      permission = "granted";
      if (callback) callback(permission);
      return Promise.resolve(permission);
    }
  }
  window.Notification = RecordedNotification;
  window.__alerts = record;
})();
"""

# window.AudioContext, recorded: how many tones the page started.
AUDIO_STUB = """
(() => {
  window.__tones = 0;
  class RecordedAudioContext {
    constructor() { this.state = "running"; this.currentTime = 0; this.destination = {}; }
    resume() {}
    createOscillator() {
      return {
        frequency: { setValueAtTime() {} },
        connect(node) { return node; },
        start() { window.__tones += 1; },
        stop() {}
      };
    }
    createGain() {
      return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect(node) { return node; } };
    }
  }
  window.AudioContext = RecordedAudioContext;
})();
"""


def _dispatch(page: Any, detail: dict[str, Any]) -> None:
    page.evaluate("detail => document.dispatchEvent(new CustomEvent('helpdesk:live', { detail }))", detail)


def test_desktop_notifications_are_enabled_from_a_click_and_events_show_them(
    browser_page: Any, live_server: Any, tenant_a: Tenant
) -> None:
    org = tenant_a.organization
    agent = tenant_a.agent
    channel = factories.make_channel(org, tenant_a.department, name="Support chat")
    factories.associate(agent, channel)
    colleague = factories.make_member(org, username="hanako", departments=[tenant_a.department])
    factories.associate(colleague, channel)
    page_fb = factories.make_page(channel)
    contact = factories.make_contact(page_fb, display_name="Kenji Mori")
    conversation = factories.make_conversation(
        page_fb, contact, assignee=agent.user, unread_count=2, last_message_preview="Where is my parcel?"
    )
    factories.make_message(conversation, text="Where is my parcel?")

    page = browser_page
    page.add_init_script(NOTIFICATION_STUB)
    sign_in(page, live_server.url, "alpha-agent")
    page.goto(f"{live_server.url}/o/alpha/preferences/")

    # One unread conversation assigned to the agent: "(1) …" in the title.
    page.wait_for_function("() => document.title.startsWith('(1) ')")
    assert page.title() == "(1) Preferences · Helpdesk"
    # Nothing was asked on load.
    assert page.evaluate("() => window.__alerts.asked") == 0
    status = page.locator("[data-alerts-permission]")
    assert status.inner_text() == "Desktop notifications are not enabled in this browser yet."
    assert serious_violations(page) == []

    page.get_by_role("button", name="Enable desktop notifications").click()
    page.wait_for_function("() => window.__alerts.asked === 1")
    assert status.inner_text() == "Desktop notifications are enabled in this browser."
    assert not page.get_by_role("button", name="Enable desktop notifications").is_visible()

    # A customer's message in the agent's conversation: the event carries ids only, the words
    # come from the alert endpoint.
    _dispatch(
        page,
        {
            "kind": "conversation",
            "conversation": conversation.pk,
            "what": "customer_message",
            "assignee": agent.user_id,
            "topics": [],
        },
    )
    page.wait_for_function("() => window.__alerts.shown.length === 1")
    assert page.evaluate("() => window.__alerts.shown[0]") == {
        "title": "New message from Kenji Mori",
        "body": "Where is my parcel?",
        "tag": f"hd-conversation-{conversation.pk}",
    }
    # Someone else's conversation is not even asked about.
    _dispatch(
        page, {"kind": "conversation", "conversation": conversation.pk, "what": "customer_message", "assignee": 0}
    )

    # A mention: a notice in the bell, a desktop notification, and the title's count goes up.
    with mock.patch.object(sending_tasks.send_sender_action, "delay", autospec=True):
        notes.note_add(
            organization=org,
            acting_user=colleague.user,
            membership=Membership.objects.get(pk=colleague.pk),
            conversation=conversation,
            body="@alpha-agent can you call them?",
        )
    notice = agent.user.notifications.get()
    _dispatch(page, {"kind": "notification", "notification": notice.pk, "what": "mention", "topics": ["notifications"]})
    page.wait_for_function("() => window.__alerts.shown.length === 2")
    shown = page.evaluate("() => window.__alerts.shown[1]")
    assert shown["title"] == "hanako mentioned you in a note on Kenji Mori's conversation"
    assert shown["body"] == "@alpha-agent can you call them?"
    page.wait_for_function("() => document.title.startsWith('(2) ')")
    screenshot(page, "alerts-preferences")

    # Without push the page polls: the count follows on a tick (at most every 15 seconds).
    conversation.unread_count = 0
    conversation.save(update_fields=["unread_count"])
    page.wait_for_function("() => document.title.startsWith('(1) ')", timeout=20_000)
    assert re.fullmatch(r"\(1\) Preferences · Helpdesk", page.title())


def test_a_new_conversation_plays_the_tone_for_who_chose_sound_only(
    browser_page: Any, live_server: Any, tenant_a: Tenant
) -> None:
    agent = tenant_a.agent
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")
    factories.associate(agent, channel)
    conversation = factories.make_conversation(factories.make_page(channel))
    membership_alert_preferences_update(membership=agent, events=alerts.EVENTS, ways=[alerts.IN_APP, alerts.SOUND])

    page = browser_page
    page.add_init_script(NOTIFICATION_STUB)
    page.add_init_script(AUDIO_STUB)
    sign_in(page, live_server.url, "alpha-agent")
    page.goto(f"{live_server.url}/o/alpha/preferences/")
    page.get_by_role("button", name="Enable desktop notifications").click()
    page.wait_for_function("() => window.__alerts.asked === 1")
    assert page.evaluate("() => window.__tones") == 0

    _dispatch(page, {"kind": "conversation", "conversation": conversation.pk, "what": "created", "assignee": None})
    page.wait_for_function("() => window.__tones === 1")
    # Desktop notifications are off in the agent's choices: none is shown.
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__alerts.shown.length") == 0


def test_the_inbox_offers_desktop_notifications_until_dismissed(
    browser_page: Any, live_server: Any, tenant_a: Tenant
) -> None:
    page = browser_page
    page.add_init_script(NOTIFICATION_STUB)
    sign_in(page, live_server.url, "alpha-agent")
    page.goto(f"{live_server.url}/o/alpha/inbox/")
    prompt = page.locator("[data-alerts-prompt]")
    prompt.wait_for(state="visible")
    assert page.evaluate("() => window.__alerts.asked") == 0
    assert serious_violations(page) == []

    prompt.get_by_role("button", name="Not now").click()
    prompt.wait_for(state="hidden")
    page.reload()
    page.wait_for_function("() => document.documentElement.dataset.alertCount !== undefined")
    assert not prompt.is_visible()
    assert page.evaluate("() => window.__alerts.asked") == 0

    # In another browser, the prompt's button asks, and the prompt goes.
    other = page.context.browser.new_context().new_page()
    other.add_init_script(NOTIFICATION_STUB)
    sign_in(other, live_server.url, "alpha-agent")
    other.goto(f"{live_server.url}/o/alpha/inbox/")
    other_prompt = other.locator("[data-alerts-prompt]")
    other_prompt.get_by_role("button", name="Enable desktop notifications").click()
    other.wait_for_function("() => window.__alerts.asked === 1")
    other_prompt.wait_for(state="hidden")


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_pages_with_alert_settings_are_accessible(
    browser_page: Any, live_server: Any, tenant_a: Tenant, language: str
) -> None:
    Membership.objects.filter(pk=tenant_a.admin.pk).update(language=language)
    page = browser_page
    sign_in(page, live_server.url, "alpha-admin")
    for path in ("/o/alpha/preferences/", "/o/alpha/settings/organization/"):
        page.goto(f"{live_server.url}{path}")
        assert serious_violations(page) == [], path
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server.url}/o/alpha/preferences/")
    assert serious_violations(page) == []
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
