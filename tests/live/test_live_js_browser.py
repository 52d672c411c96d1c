# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""live.js in a real browser: an event that names a part while that part is still loading is
not lost when the answer replaces the part (hx-swap="outerHTML")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests import factories
from tests.chromium import BROWSER_MARKS, browser_page, chromium, sign_in  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = BROWSER_MARKS


def _wait_until(page: Any, condition: Callable[[], bool], seconds: float = 8) -> None:
    """Route handlers run while the test waits in Playwright: wait there until ``condition``."""
    for _ in range(int(seconds * 10)):
        if condition():
            return
        page.wait_for_timeout(100)
    assert condition()


def test_an_event_during_a_parts_request_fetches_it_again_after_the_answer(
    browser_page: Any, live_server: Any, tenant_a: Tenant, settings: Any
) -> None:
    settings.LIVE_POLL_SECONDS = 600  # no poll of its own while the test drives the page
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.agent, channel)
    fb_page = factories.make_page(channel)
    factories.make_message(factories.make_conversation(fb_page, factories.make_contact(fb_page, display_name="Aiko")))
    page = browser_page
    sign_in(page, live_server.url, "alpha-agent")
    page.goto(f"{live_server.url}/o/alpha/inbox/")
    page.wait_for_selector("#conversation-list >> text=Aiko")

    held: list[Any] = []
    requested: list[str] = []

    def hold_first(route: Any) -> None:
        requested.append(route.request.url)
        if len(requested) == 1:
            held.append(route)  # answered below, once the second event has come
        else:
            route.continue_()

    page.route("**/inbox/list/**", hold_first)
    page.evaluate("window.hdLive.refresh(['conversations'])")
    page.wait_for_function("document.getElementById('conversation-list').classList.contains('htmx-request')")
    _wait_until(page, lambda: len(held) == 1)

    # Ken writes while the first request is on its way, and a second event names the list.
    factories.make_message(factories.make_conversation(fb_page, factories.make_contact(fb_page, display_name="Ken")))
    page.evaluate("window.hdLive.refresh(['conversations'])")
    held[0].continue_()
    page.wait_for_selector("#conversation-list >> text=Ken")

    # The answer replaced the list; the second event still fetches it once more.
    _wait_until(page, lambda: len(requested) == 2)
    page.wait_for_timeout(500)
    assert len(requested) == 2  # once, not again and again
