# The chromium and ASGI fixtures are imported from tests.chromium and tests.asgi; their names are parameters below.
# ruff: noqa: F811
"""Presence and collision in two browsers with real push (uvicorn, Redis): the agent sees
that Aiko views the conversation and types a reply in it, and sending right after Aiko
replied asks first; the tab's availability heartbeat still beats with push on."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

from django.db import connections

from availability.models import Availability
from helpdesk.models import Role
from messenger.models import Direction, Message
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.asgi import AsgiServer, asgi_server, live_redis  # noqa: F401 (fixtures)
from tests.chromium import BROWSER_MARKS, chromium, new_page, screenshot, sign_in  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = BROWSER_MARKS


# The server comes first: it is stopped (and its database sessions ended) after the browser.
def test_two_agents_see_each_other_in_a_conversation_and_a_collision_asks_first(
    asgi_server: AsgiServer, chromium: Any, tenant_a: Tenant
) -> None:
    from playwright.sync_api import expect

    org = tenant_a.organization
    shop = factories.make_channel(org, tenant_a.department, name="Web shop")
    aiko = factories.make_member(
        org, role=Role.AGENT, username="aiko", departments=[tenant_a.department], first_name="Aiko", last_name="Tanaka"
    )
    for member in (aiko, tenant_a.agent):
        factories.associate(member, shop)
    fb_page = factories.make_page(shop)
    conversation = factories.make_conversation(fb_page, factories.make_contact(fb_page, display_name="山田 花子"))
    factories.make_message(conversation, text="荷物が届きません")
    url = f"{asgi_server.url}/o/alpha/inbox/{conversation.pk}/"

    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        agent = sign_in(new_page(chromium), asgi_server.url, "alpha-agent")
        # The tab's availability heartbeat beats on the page with push on as before.
        with agent.expect_request(lambda request: request.url.endswith("/availability/heartbeat/")):
            agent.goto(url)
        expect(agent.locator("html")).to_have_attribute("data-live", "push")
        assert Availability.objects.get(membership=tenant_a.agent).last_seen_at is not None
        presence = agent.locator("#conversation-presence")
        expect(presence).to_have_attribute("aria-live", "polite")
        expect(presence).to_have_text("")

        colleague = sign_in(new_page(chromium), asgi_server.url, "aiko")
        colleague.goto(url)
        expect(presence).to_contain_text("Aiko Tanaka is viewing")

        colleague.locator("#composer-text").press_sequentially("I'll check the parcel", delay=20)
        expect(presence).to_contain_text("Aiko Tanaka is typing a reply…")
        colleague.locator("#composer-send").click()
        expect(colleague.locator("#transcript-panel")).to_contain_text("I'll check the parcel")
        # Nobody types any more: the line goes back to viewing once the last signal lapses (6 s).
        expect(presence).to_contain_text("Aiko Tanaka is viewing", timeout=10_000)
        expect(presence).not_to_contain_text("typing")

        # The agent had the page open before Aiko's reply: sending now asks first, text kept.
        agent.locator("#composer-text").fill("We are checking")
        agent.locator("#composer-send").click()
        prompt = agent.locator("#composer-feedback")
        expect(prompt).to_contain_text(re.compile(r"Aiko Tanaka replied \d+ s ago — send anyway\?"))
        assert agent.input_value("#composer-text") == "We are checking"
        assert not Message.objects.filter(direction=Direction.OUTBOUND, author=tenant_a.agent.user).exists()
        screenshot(agent, "presence-collision")

        agent.locator("#composer-confirm").click()
        expect(agent.locator("#transcript-panel")).to_contain_text("We are checking")
        expect(agent.locator("#composer-text")).to_have_value("")
        expect(prompt).to_have_text("")
        assert Message.objects.get(direction=Direction.OUTBOUND, author=tenant_a.agent.user).text == "We are checking"

        # Aiko leaves for the inbox's list: the agent is told at once (the page's "left"
        # beacon), not only once her last beat lapses.
        colleague.goto(f"{asgi_server.url}/o/alpha/inbox/")
        expect(presence).to_have_text("", timeout=5_000)
        # Closed before the server stops: an open stream would hold its shutdown.
        colleague.context.close()
        agent.context.close()
    # The server's teardown ends every database session but its caller's, and Playwright runs
    # this body in a context of its own whose session the next test would reuse: close it here.
    connections.close_all()


def test_without_push_the_presence_line_follows_the_poll(chromium: Any, live_server: Any, tenant_a: Tenant) -> None:
    """A WSGI server gives no stream: the page polls, and the presence line with it."""
    from playwright.sync_api import expect

    org = tenant_a.organization
    shop = factories.make_channel(org, tenant_a.department, name="Web shop")
    aiko = factories.make_member(
        org, role=Role.AGENT, username="aiko", departments=[tenant_a.department], first_name="Aiko"
    )
    for member in (aiko, tenant_a.agent):
        factories.associate(member, shop)
    fb_page = factories.make_page(shop)
    conversation = factories.make_conversation(fb_page, factories.make_contact(fb_page, display_name="山田 花子"))
    factories.make_message(conversation, text="荷物が届きません")
    url = f"{live_server.url}/o/alpha/inbox/{conversation.pk}/"

    agent = sign_in(new_page(chromium), live_server.url, "alpha-agent")
    agent.goto(url)
    expect(agent.locator("html")).to_have_attribute("data-live", "poll")
    colleague = sign_in(new_page(chromium), live_server.url, "aiko")
    colleague.goto(url)
    expect(agent.locator("#conversation-presence")).to_contain_text("Aiko is viewing")
    colleague.locator("#composer-text").press_sequentially("Hello", delay=20)
    expect(agent.locator("#conversation-presence")).to_contain_text("Aiko is typing a reply…")
