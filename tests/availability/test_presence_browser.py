"""In a browser: the tab's heartbeat (presence.js) brings an agent set away for idleness back
online at their first input, and the header's status menu works with the keyboard alone."""

from __future__ import annotations

from typing import Any

from availability import selectors, services
from availability.models import AvailabilityChange, ChangeReason, Status
from tests import factories
from tests.chromium import BROWSER_MARKS, chromium, new_page  # noqa: F401 (fixture)
from tests.conftest import Tenant

pytestmark = BROWSER_MARKS


def open_reason(tenant: Tenant) -> str:
    return AvailabilityChange.objects.get(membership=tenant.agent, ended_at__isnull=True).reason


def _is_heartbeat(response: Any) -> bool:
    return response.url.endswith("/o/alpha/availability/heartbeat/")


def test_the_first_input_after_a_quiet_while_brings_an_idle_agent_back_online(
    chromium: Any,  # noqa: F811
    live_server: Any,
    tenant_a: Tenant,
) -> None:
    from playwright.sync_api import expect

    services.availability_set(membership=tenant_a.agent, status=Status.AWAY, reason=ChangeReason.IDLE)
    page = new_page(chromium)
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("input[name=username]").fill(tenant_a.agent.user.username)
    page.locator("input[name=password]").fill(factories.PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url("**/o/alpha/")
    # The home page beats too: let its beat finish, so that the one awaited below is the next page's.
    page.wait_for_load_state("networkidle")

    with page.expect_response(_is_heartbeat) as first:
        page.goto(f"{live_server.url}/o/alpha/preferences/")
    assert first.value.json()["status"] == "away"  # the page load itself is no input
    expect(page.locator("#availability-menu [data-availability-label]")).to_have_text("Away")

    page.wait_for_timeout(5500)  # presence.js never beats twice within five seconds
    with page.expect_response(_is_heartbeat) as beat:
        page.mouse.move(200, 300)
    assert beat.value.json()["status"] == "online"
    expect(page.locator("#availability-menu [data-availability-label]")).to_have_text("Online")
    assert open_reason(tenant_a) == ChangeReason.ACTIVE

    # The menu by keyboard alone: open it, go down to Away, choose it.
    page.locator("#availability-menu").focus()
    page.keyboard.press("ArrowDown")  # opens the menu on its first entry (Online)
    page.keyboard.press("ArrowDown")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#availability-menu [data-availability-label]")).to_have_text("Away")
    assert selectors.availability_of(membership=tenant_a.agent).status == Status.AWAY
    assert open_reason(tenant_a) == ChangeReason.CHOSEN
