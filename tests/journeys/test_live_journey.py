# The chromium, ASGI and worker fixtures are imported; their names are parameters below.
# ruff: noqa: F811
"""7. Live: two agents in two browsers, served as in production (uvicorn, Redis), and a
customer who writes from the sandbox's simulator.

Kenji turns desktop notifications on from the inbox's prompt (the browser asks only on his
click, and the test's browser grants it). A new customer's message lands in his list
without a reload, with a desktop notification; once the conversation is his, her next message
raises the count in his tab's title, again without a reload. His colleague Mai opens the
conversation: Kenji sees that she is viewing it, then that she is typing a reply."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections
from playwright.sync_api import expect

from helpdesk.models import Role
from messenger.client import graph_client
from messenger.models import Conversation
from messenger.sandbox import people
from messenger.sandbox.bootstrap import sandbox_bootstrap
from messenger.services.conversations.assignment import conversation_assign
from tests import factories
from tests.asgi import AsgiServer, asgi_server, live_redis  # noqa: F401 (fixtures)
from tests.channels.facebook import DEMO_PAGE
from tests.chromium import BROWSER_MARKS, chromium, new_page, screenshot, sign_in  # noqa: F401 (fixtures)
from tests.journeys.conftest import Worker, worker  # noqa: F401 (fixture)

pytestmark = BROWSER_MARKS

LIVE_TIMEOUT_MS = 10_000  # push: within a second; the margin is for a busy test machine (as journey 5)

# window.Notification wrapped: the real one (its permission granted in the browser context),
# with what the page asks and shows recorded.
RECORDED_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  if (!Real) return;
  window.__asked = 0;
  window.__shown = [];
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      window.__shown.push({ title: title, body: (options && options.body) || "" });
    }
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (...args) => { window.__asked += 1; return Real.requestPermission(...args); };
  window.Notification = Recorded;
})();
"""


@pytest.fixture
def facebook_served_asgi(asgi_server: AsgiServer, settings: Any) -> Iterator[str]:
    """The Graph sandbox on the ASGI server, the product pointed at it (tests.channels.facebook
    does the same on Django's WSGI live server)."""
    settings.PUBLIC_URL = asgi_server.url
    settings.FB_GRAPH_URL = f"{asgi_server.url}/sandbox/graph"
    settings.FB_DIALOG_URL = f"{asgi_server.url}/sandbox/dialog"
    settings.SANDBOX_WEBHOOK_URL = f"{asgi_server.url}/webhooks/messenger/"
    settings.ALLOWED_HOSTS = ["*"]
    sandbox_bootstrap()
    yield asgi_server.url
    graph_client().close()


def _title_count(page: Any) -> int:
    """The count the page put in its title, once it has asked the server for it."""
    page.wait_for_function("document.documentElement.dataset.alertCount !== undefined")
    count = int(page.evaluate("document.documentElement.dataset.alertCount"))
    if count:
        expect(page).to_have_title(re.compile(rf"^\({count}\) "))
    return count


def _customer_writes(simulator: Any, text: str, worker: Worker) -> None:
    simulator.get_by_label("Message").fill(text)
    simulator.get_by_role("button", name="Send", exact=True).click()
    simulator.wait_for_selector(f"#thread >> text={text}")
    worker.run_queued()  # her profile (her name), as a worker would


def test_two_agents_follow_a_customer_live_with_alerts_presence_and_typing(
    facebook_served_asgi: str, chromium: Any, worker: Worker
) -> None:
    base = facebook_served_asgi
    organization = factories.make_org("alpha", name="Alpha Retail")
    department = factories.make_department(organization, "Online shop")
    kenji = factories.make_member(
        organization, role=Role.AGENT, username="kenji", departments=[department], first_name="Kenji", last_name="Sato"
    )
    mai = factories.make_member(
        organization, role=Role.AGENT, username="mai", departments=[department], first_name="Mai", last_name="Ito"
    )
    shop = factories.make_channel(organization, department, name="Web shop")
    for member in (kenji, mai):
        factories.associate(member, shop)
    factories.make_page(
        shop, page_id=DEMO_PAGE, name="Demo Page", token=people.sandbox_page_token_issue(page_id=DEMO_PAGE)
    )

    # Kenji's browser grants desktop notifications when asked; nothing asks on load.
    inbox = new_page(chromium)
    inbox.add_init_script(RECORDED_NOTIFICATIONS)
    sign_in(inbox, base, "kenji")
    inbox.goto(f"{base}/o/alpha/inbox/")
    expect(inbox.locator("html")).to_have_attribute("data-live", "push")
    enable = inbox.locator("[data-alerts-prompt] [data-alerts-enable]")
    expect(enable).to_be_visible()
    assert inbox.evaluate("window.__asked") == 0
    # He would say yes when asked: the browser grants it, and asks only on his click.
    inbox.context.grant_permissions(["notifications"], origin=base)
    enable.click()
    inbox.wait_for_function("window.__asked === 1")
    assert inbox.evaluate("Notification.permission") == "granted"

    # A customer writes from Messenger (the simulator, in a browser of her own).
    simulator = new_page(chromium)
    simulator.goto(f"{base}/sandbox/simulator/{DEMO_PAGE}/")
    simulator.get_by_role("link", name=re.compile("Aiko Tanaka")).click()
    _customer_writes(simulator, "Hello, where is my parcel?", worker)

    # It lands in Kenji's list without a reload, and his desktop says so.
    inbox.wait_for_selector("#conversation-list >> text=Aiko Tanaka", timeout=LIVE_TIMEOUT_MS)
    inbox.wait_for_function("window.__shown.length >= 1", timeout=LIVE_TIMEOUT_MS)
    conversation = Conversation.objects.get(channel=shop)

    # The conversation becomes Kenji's; he reads it and goes back to his list.
    conversation_assign(
        organization=organization, conversation=conversation, assignee_membership_id=kenji.pk, acting_user=kenji.user
    )
    inbox.get_by_role("link", name=re.compile("Aiko Tanaka")).click()
    inbox.wait_for_selector("#transcript-panel >> text=Hello, where is my parcel?")
    inbox.get_by_role("link", name=re.compile("^Mine")).click()
    expect(inbox.locator("html")).to_have_attribute("data-live", "push")
    # What the title counts now: his unread notices (the new conversation's), nothing unread in it.
    unread = _title_count(inbox)
    shown_before = inbox.evaluate("window.__shown.length")

    # Aiko writes again: the count in Kenji's title rises without a reload, with an alert.
    _customer_writes(simulator, "It was due yesterday.", worker)
    expect(inbox).to_have_title(re.compile(rf"^\({unread + 1}\) "), timeout=LIVE_TIMEOUT_MS)
    inbox.wait_for_function(f"window.__shown.length > {shown_before}", timeout=LIVE_TIMEOUT_MS)
    assert "Aiko Tanaka" in str(inbox.evaluate("window.__shown[window.__shown.length - 1].title"))
    screenshot(inbox, "7-live-title-count")

    # Kenji opens it; Mai opens it too: he sees her there, then her typing.
    inbox.get_by_role("link", name=re.compile("Aiko Tanaka")).click()
    inbox.wait_for_selector("#transcript-panel >> text=It was due yesterday.", timeout=LIVE_TIMEOUT_MS)
    colleague = sign_in(new_page(chromium), base, "mai")
    colleague.goto(f"{base}/o/alpha/inbox/{conversation.pk}/")
    presence = inbox.locator("#conversation-presence")
    expect(presence).to_contain_text("Mai Ito is viewing", timeout=LIVE_TIMEOUT_MS)
    colleague.locator("#composer-text").press_sequentially("Let me check with the carrier", delay=30)
    expect(presence).to_contain_text("Mai Ito is typing a reply…", timeout=LIVE_TIMEOUT_MS)
    screenshot(inbox, "7-live-colleague-typing")

    # Closed before the server stops: an open stream would hold its shutdown.
    for page in (colleague, simulator, inbox):
        page.context.close()
    # Playwright runs this body in a context whose database session the next test would reuse.
    connections.close_all()
