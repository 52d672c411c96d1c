"""Customers write HTML and script (in messages, button titles, link titles, reactions, and in
the name their Facebook profile gives): every page an agent or admin opens shows it as text.

Checked on the inbox (page and polled list), the conversation (page and polled transcript),
the notifications and the webhook event log. The tickets app has no views yet in this branch.
"""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from messenger.models import Conversation
from messenger.webhook.followups import CATCH_UP_AFTER, followups_catch_up
from tests import factories
from tests.conftest import Tenant
from tests.faults.conftest import GraphStub
from tests.messenger.fixtures import BASE_MS, PAGE_ID, page_body, post_webhook, queued_followups, text_item

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_followups")]
__all__ = ["queued_followups"]

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(1)>'
PAYLOADS = (SCRIPT, IMG, SVG)
PSID = "6300000000000001"


class Markup(HTMLParser):
    """The elements and attributes a browser would build from the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_shown_as_text(response: Any, *expected: str) -> None:
    assert response.status_code == 200, response.status_code
    html = response.content.decode()
    for payload in PAYLOADS:
        assert payload not in html
    for text in expected:
        assert escape(text) in html, text
    markup = Markup()
    markup.feed(html)
    for tag, attrs in markup.tags:
        assert tag not in ("svg", "iframe"), (tag, attrs)
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        if tag == "script":
            assert attrs.get("src"), attrs  # only the vendored files
        if tag == "img":
            assert attrs.get("src") != "x", attrs


@pytest.fixture
def conversation(tenant_a: Tenant, graph: GraphStub) -> Conversation:
    """A new customer whose profile name and messages are all markup, told to the agents."""
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    factories.associate(tenant_a.agent, channel)
    factories.make_page(channel, page_id=PAGE_ID)
    graph.profiles = {PSID: {"first_name": SVG, "last_name": IMG}}
    quoted = text_item(psid=PSID, mid="m_quoting", text=IMG, timestamp=BASE_MS + 3)
    quoted["message"]["reply_to"] = {"mid": "m_script"}
    link = text_item(psid=PSID, mid="m_link", text="", timestamp=BASE_MS + 4)
    link["message"]["attachments"] = [{"type": "fallback", "payload": {"url": "https://example.com", "title": SVG}}]
    items = [
        text_item(psid=PSID, mid="m_script", text=SCRIPT, timestamp=BASE_MS + 1),
        {"sender": {"id": PSID}, "timestamp": BASE_MS + 2, "postback": {"title": IMG, "payload": SVG}},
        quoted,
        link,
        {"sender": {"id": PSID}, "timestamp": BASE_MS + 5, "reaction": {"mid": "m_script", "emoji": IMG}},
        text_item(psid=PSID, mid="m_last", text=f"{SVG} {SCRIPT}", timestamp=BASE_MS + 6),
    ]
    for item in items:
        assert post_webhook(Client(), page_body((PAGE_ID, [item]))).status_code == 200
    later = timezone.now() + CATCH_UP_AFTER + timedelta(seconds=1)
    assert followups_catch_up(now=later) == (1, 1)  # the profile, then the notice
    return Conversation.objects.get()


def test_the_inbox_list_shows_the_name_and_preview_as_text(
    conversation: Conversation, tenant_a: Tenant, web_client_for: Any
) -> None:
    agent = web_client_for(tenant_a.agent)
    name = f"{SVG} {IMG}"
    assert_shown_as_text(agent.get(f"/o/{tenant_a.organization.slug}/inbox/"), name, f"{SVG} {SCRIPT}")
    assert_shown_as_text(agent.get(f"/o/{tenant_a.organization.slug}/inbox/list/"), name)


def test_the_transcript_shows_every_message_as_text(
    conversation: Conversation, tenant_a: Tenant, web_client_for: Any
) -> None:
    agent = web_client_for(tenant_a.agent)
    base = f"/o/{tenant_a.organization.slug}/inbox/{conversation.pk}/"
    every_text = (SCRIPT, IMG, SVG, f"{SVG} {IMG}", f"{SVG} {SCRIPT}")
    assert_shown_as_text(agent.get(base), *every_text)
    assert_shown_as_text(agent.get(f"{base}transcript/"), SCRIPT, IMG, SVG)


def test_the_notifications_show_the_customers_name_and_words_as_text(
    conversation: Conversation, tenant_a: Tenant, web_client_for: Any
) -> None:
    for member in (tenant_a.agent, tenant_a.admin):
        response = web_client_for(member).get(f"/o/{tenant_a.organization.slug}/notifications/")
        assert_shown_as_text(response, f"New conversation with {SVG} {IMG}")


def test_the_webhook_event_log_shows_the_raw_payloads_as_text(
    conversation: Conversation, tenant_a: Tenant, web_client_for: Any
) -> None:
    response = web_client_for(tenant_a.admin).get(f"/o/{tenant_a.organization.slug}/settings/webhook-events/")
    assert_shown_as_text(response, f'"text": "{SCRIPT}"', f'"title": "{IMG}"')
