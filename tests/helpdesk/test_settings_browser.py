# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""The settings pages in a real browser (Debian's chromium through Playwright): what only a
browser shows: confirmations in the page's own dialog, a row menu that is not cut off by its
scrolling table, and pages that fit a phone's width."""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk.models import ApiToken, Department
from helpdesk.services import api_token_create
from messenger.models import PageStatus, ReauthorizationReason
from tests import factories
from tests.chromium import BROWSER_MARKS, chromium, new_page, screenshot  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = BROWSER_MARKS

PHONE = {"width": 390, "height": 844}


def log_in(page: Any, base_url: str, username: str) -> Any:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    # Signing in lands on the organization's home page.
    page.wait_for_url(f"{base_url}/o/alpha/")
    return page


def browser_dialogs(page: Any) -> list[str]:
    """The browser's own dialogs (alert, confirm) the page opens, dismissed and kept here."""
    opened: list[str] = []

    def dismiss(dialog: Any) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return opened


@pytest.fixture
def admin_page(chromium: Any, live_server: Any, tenant_a: Tenant) -> Any:
    return log_in(new_page(chromium), live_server.url, "alpha-admin")


def test_deleting_a_department_asks_in_the_pages_dialog(admin_page: Any, live_server: Any, tenant_a: Tenant) -> None:
    page = admin_page
    returns = factories.make_department(tenant_a.organization, "Returns")
    native = browser_dialogs(page)
    page.goto(f"{live_server.url}/o/alpha/settings/departments/")

    # Cancel keeps it.
    page.get_by_role("button", name="Delete Returns").click()
    dialog = page.get_by_role("dialog", name="Delete “Returns”?")
    dialog.wait_for()
    assert "Deleted channels and tickets filed under it stay readable." in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="hidden")
    # Focus goes back to the button that asked (once the dialog has faded out).
    page.wait_for_function("() => document.activeElement.textContent.trim() === 'Delete Returns'")
    returns.refresh_from_db()
    assert returns.deleted_at is None

    # "Yes, delete" deletes it.
    page.get_by_role("button", name="Delete Returns").click()
    page.get_by_role("dialog", name="Delete “Returns”?").get_by_role("button", name="Yes, delete").click()
    page.wait_for_selector("text=Department deleted.")
    assert Department.objects.get(pk=returns.pk).deleted_at is not None
    assert native == []


def test_revoking_an_api_token_asks_in_the_pages_dialog(admin_page: Any, live_server: Any, tenant_a: Tenant) -> None:
    page = admin_page
    native = browser_dialogs(page)
    page.goto(f"{live_server.url}/o/alpha/settings/api-tokens/")
    page.get_by_label("Token name").fill("script")
    page.get_by_role("button", name="Create token").click()
    page.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog", name="Revoke this token?")
    dialog.get_by_role("button", name="Yes, revoke").click()
    page.wait_for_selector(".badge >> text=Revoked")
    assert ApiToken.objects.get(name="script").revoked_at is not None
    assert native == []


# Where the middle of an element is, whatever covers it there: the element itself, or what
# hides it (the card around a scrolling table clips what overflows it).
HIT_AT_CENTRE = """element => {
  const box = element.getBoundingClientRect();
  const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return hit !== null && element.contains(hit);
}"""


def test_the_row_menu_of_the_last_channel_is_whole_and_clickable(
    admin_page: Any, live_server: Any, tenant_a: Tenant
) -> None:
    factories.make_department(tenant_a.organization, "Sales")
    factories.make_channel(tenant_a.organization, tenant_a.department, name="Alpha chat")
    factories.make_channel(tenant_a.organization, tenant_a.department, name="Zeta chat")
    page = admin_page
    page.goto(f"{live_server.url}/o/alpha/settings/channels/messenger/")
    page.get_by_role("button", name="More actions for Zeta chat").click()
    menu = page.locator(".dropdown-menu.show")
    menu.wait_for()
    for name in ("Edit", "Disable", "Delete"):
        item = menu.get_by_role("link", name=name)
        assert item.evaluate(HIT_AT_CENTRE), f"{name} is hidden"
    # Nothing had to scroll inside the table to show it.
    assert page.locator(".table-responsive").evaluate("table => table.scrollHeight <= table.clientHeight")
    menu.get_by_role("link", name="Delete").click()
    page.get_by_role("dialog", name="Delete “Zeta chat”?").wait_for()


# Elements wider than the window, for the failure message.
WIDE_ELEMENTS = """() => [...document.querySelectorAll("body *")]
  .filter(element => element.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
  .slice(0, 5)
  .map(element => element.tagName.toLowerCase() + "." + [...element.classList].join(".")
       + " " + Math.round(element.getBoundingClientRect().right))"""


def test_the_settings_pages_fit_a_phone(chromium: Any, live_server: Any, tenant_a: Tenant) -> None:
    organization = tenant_a.organization
    factories.make_department(organization, "Customer care and returns")
    channel = factories.make_channel(organization, tenant_a.department, name="Web shop customer support")
    factories.associate(tenant_a.agent, channel)
    active = factories.make_page(channel, page_id="100000000000101", name="Demo Page")
    factories.make_page(
        channel,
        page_id="100000000000102",
        name="Second Page",
        status=PageStatus.REAUTHORIZATION_REQUIRED,
        reauthorization_reason=ReauthorizationReason.TOKEN_EXPIRED,
    )
    api_token_create(membership=tenant_a.admin, name="Nightly export to the warehouse")
    settings = f"{live_server.url}/o/alpha/settings"
    pages = [
        f"{settings}/departments/",
        f"{settings}/members/",
        f"{settings}/members/{tenant_a.agent.pk}/",
        f"{settings}/channels/",
        f"{settings}/channels/messenger/",
        f"{settings}/channels/messenger/new/",
        f"{settings}/channels/{channel.pk}/",
        f"{settings}/channels/{channel.pk}/disable/",
        f"{settings}/channels/{channel.pk}/delete/",
        f"{settings}/channels/{channel.pk}/pages/{active.pk}/remove/",
        f"{settings}/agents/",
        f"{settings}/agents/{tenant_a.agent.pk}/channels/?department={tenant_a.department.pk}",
        f"{settings}/tickets/",
        f"{settings}/api-tokens/",
        f"{settings}/webhook-events/",
        f"{live_server.url}/o/alpha/preferences/",
    ]
    page = log_in(new_page(chromium, viewport=PHONE), live_server.url, "alpha-admin")
    too_wide = {}
    for address in pages:
        response = page.goto(address)
        assert response is not None and response.status == 200, address
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[address.removeprefix(live_server.url)] = (width, page.evaluate(WIDE_ELEMENTS))
    assert too_wide == {}

    # A page that needs re-authorization shows its button whole, within the screen.
    page.goto(f"{settings}/channels/{channel.pk}/")
    button = page.get_by_role("link", name="Re-authorize Second Page")
    # Down to it (only the page scrolls, and only up and down: nothing inside it sideways).
    button.evaluate("link => window.scrollTo(0, link.getBoundingClientRect().top + window.scrollY - 200)")
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert button.evaluate(HIT_AT_CENTRE)
    screenshot(page, "settings-channel-at-390px")
    page.goto(f"{settings}/channels/messenger/")
    screenshot(page, "settings-channel-list-at-390px")
