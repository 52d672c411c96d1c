# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""Saved views in a real browser (Debian's chromium through Playwright): an agent sets a filter,
saves it as a view, finds it in the sidebar with its count, and gets the filters back from it."""

from __future__ import annotations

from typing import Any

from tests import factories
from tests.chromium import BROWSER_MARKS, browser_page, chromium  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = BROWSER_MARKS


def open_save_form(page: Any) -> None:
    """Unfold "Save view" and wait for the end of its unfolding (the form is fully shown)."""
    page.click("#saved-view-save > button")
    page.wait_for_selector("#saved-view-create.show:not(.collapsing)")


def test_an_agent_saves_the_filters_as_a_view_and_opens_it_again(
    browser_page: Any, live_server: Any, tenant_a: Tenant
) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.agent, channel)
    fb_page = factories.make_page(channel)
    for name in ("Aiko", "Ken"):
        factories.make_message(factories.make_conversation(fb_page, factories.make_contact(fb_page, display_name=name)))
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "alpha-agent")
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/o/alpha/")
    page.goto(f"{live_server.url}/o/alpha/inbox/")

    page.select_option("#inbox-state", "open")
    page.wait_for_url(lambda url: "state=open" in url)
    open_save_form(page)
    page.fill("#saved-view-name", "Open ones")
    page.click("#saved-view-create button[type=submit]")

    # It appears in the sidebar with its count, marked as the view in use; a toast says so.
    item = page.locator("#saved-views li.hd-saved-view:has-text('Open ones')")
    item.wait_for(timeout=15000)
    assert item.locator(".badge [aria-hidden=true]").inner_text() == "2"
    assert item.locator("a").get_attribute("aria-current") == "page"
    page.wait_for_selector("#toasts >> text=Open ones")

    # A third customer writes: the view's count follows with the list's poll (counts are kept
    # up to 10 seconds).
    factories.make_message(factories.make_conversation(fb_page, factories.make_contact(fb_page, display_name="Yui")))
    page.wait_for_selector("#conversation-list >> text=Yui", timeout=5000)
    item.locator(".badge [aria-hidden=true]:text-is('3')").wait_for(timeout=15000)

    # Elsewhere in the inbox, the view brings its filters back.
    page.select_option("#inbox-state", "closed")
    page.wait_for_url(lambda url: "state=closed" in url)
    assert page.locator("#saved-views li.hd-saved-view:has-text('Open ones') a").get_attribute("aria-current") is None
    page.click("#saved-views a:has-text('Open ones')")
    page.wait_for_url(lambda url: url.endswith("/inbox/?state=open"))
    assert page.input_value("#inbox-state") == "open"
    page.wait_for_selector("#conversation-list >> text=Aiko")

    # Folded away, the section stays folded on the next page.
    page.click("#saved-views-heading")
    page.wait_for_selector("#saved-views-list", state="hidden")
    page.reload()
    assert page.get_attribute("#saved-views-heading", "aria-expanded") == "false"
    assert not page.is_visible("#saved-views-list")

    # Saving it again under the same name says why it cannot (in place: htmx is ready after the reload).
    page.wait_for_function("() => window.htmx !== undefined")
    open_save_form(page)
    page.fill("#saved-view-name", "open ONES")
    page.click("#saved-view-create button[type=submit]")
    page.wait_for_selector("#saved-view-name-error >> text=A saved view with this name already exists here.")

    # Under another name it is saved, and the folded section opens to show it.
    page.fill("#saved-view-name", "Open twice")
    page.click("#saved-view-create button[type=submit]")
    page.wait_for_selector("#saved-views li.hd-saved-view:has-text('Open twice')", state="visible")
