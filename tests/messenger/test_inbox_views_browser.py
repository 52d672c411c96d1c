# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""The inbox's views and sorts in a real browser (Debian's chromium through Playwright): the
sort menu keeps the view, the views' counts follow the polled list."""

from __future__ import annotations

from typing import Any

from tests import factories
from tests.chromium import BROWSER_MARKS, browser_page, chromium  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = BROWSER_MARKS


def test_an_agent_sorts_the_queue_and_sees_its_count_grow_without_a_reload(
    browser_page: Any, live_server: Any, tenant_a: Tenant
) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.agent, channel)
    fb_page = factories.make_page(channel)
    factories.make_message(factories.make_conversation(fb_page, factories.make_contact(fb_page, display_name="Aiko")))
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "alpha-agent")
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/o/alpha/")
    page.goto(f"{live_server.url}/o/alpha/inbox/")

    page.click("a.nav-link:has-text('Unassigned')")
    page.wait_for_url(lambda url: url.endswith("/inbox/?view=unassigned"))
    assert page.get_attribute("a.nav-link:has-text('Unassigned')", "aria-current") == "page"
    page.select_option("#inbox-sort", "waiting")
    page.wait_for_url(lambda url: "view=unassigned" in url and "sort=waiting" in url)
    assert page.inner_text("#inbox-view-count-unassigned >> [aria-hidden=true]") == "1"

    # A second customer writes: the list and the queue's count follow within the poll.
    factories.make_message(factories.make_conversation(fb_page, factories.make_contact(fb_page, display_name="Ken")))
    page.wait_for_selector("#conversation-list >> text=Ken", timeout=5000)
    page.wait_for_selector("#inbox-view-count-unassigned >> text=2", timeout=5000)
    assert page.inner_text("#inbox-view-count-all >> [aria-hidden=true]") == "2"
