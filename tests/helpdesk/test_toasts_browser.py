# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""Toasts (helpdesk.toasts, helpdesk/static/helpdesk/app.js) in a real browser: while one shows,
the page's controls stay clickable: the contact page's header button on a desktop and on a
phone, and no button, link or field of the main pages lies under a toast."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from helpdesk.models import Membership
from messenger.models import Contact, Conversation
from tests import factories
from tests.accessibility.test_axe import log_in
from tests.chromium import BROWSER_MARKS, chromium, new_page, screenshot  # noqa: F401 (fixtures)
from tests.conftest import Tenant
from tests.screens import translated
from tickets.models import Ticket
from tickets.services import ticket_create_from_conversation

pytestmark = BROWSER_MARKS

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}

# The page's controls that a toast covers, as "tag text" (none: the list is empty).
CONTROLS_UNDER_TOASTS = """() => {
  const region = document.getElementById("toasts");
  const selector = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, [role="button"]';
  const covered = [];
  for (const toast of region.querySelectorAll(".hd-toast")) {
    const box = toast.getBoundingClientRect();
    for (const control of document.querySelectorAll(selector)) {
      const edge = control.getBoundingClientRect();
      if (region.contains(control) || !edge.width || !edge.height) continue;
      if (edge.left < box.right && edge.right > box.left && edge.top < box.bottom && edge.bottom > box.top) {
        covered.push(`${control.tagName} ${(control.innerText || control.name || "").trim().slice(0, 40)}`);
      }
    }
  }
  return covered;
}"""

# What is on top at the centre of an element: the element itself (or something inside it).
HIT_AT_CENTRE = """element => {
  const edge = element.getBoundingClientRect();
  const top = document.elementFromPoint(edge.left + edge.width / 2, edge.top + edge.height / 2);
  return element.contains(top);
}"""


@dataclass
class Desk:
    contact: Contact
    conversation: Conversation
    ticket: Ticket


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def desk(tenant_a: Tenant) -> Desk:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.admin, channel)
    page = factories.make_page(channel, name="Alpha Shop")
    contact = factories.make_contact(page, display_name="Hanako Yamada")
    conversation = factories.make_conversation(page, contact, last_message_preview="Where is my parcel?")
    for number in range(8):
        factories.make_message(conversation, text=f"Where is my parcel? ({number})")
    ticket = ticket_create_from_conversation(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        membership=tenant_a.admin,
        conversation_id=conversation.pk,
    )
    return Desk(contact, conversation, ticket)


@pytest.mark.parametrize(("language", "viewport"), [("en", DESKTOP), ("ja", DESKTOP), ("en", PHONE)])
def test_the_contact_pages_header_button_is_clickable_while_a_toast_shows(
    chromium: Any, live_server: Any, tenant_a: Tenant, desk: Desk, language: str, viewport: dict[str, int]
) -> None:
    Membership.objects.filter(pk=tenant_a.admin.pk).update(language=language)
    page = new_page(chromium, viewport=viewport)
    log_in(page, live_server.url, tenant_a.admin)
    page.goto(f"{live_server.url}/o/alpha/contacts/{desk.contact.pk}/")

    page.fill("#note-new", "Prefers a call in the evening")
    page.get_by_role("button", name=translated(language, "Add note")).click()
    toast = page.locator("#toasts .hd-toast", has_text=translated(language, "Note added."))
    toast.wait_for()
    page.wait_for_timeout(100)  # placed on the next frame
    button = page.get_by_role("link", name=translated(language, "Export or erase the customer's data"))
    assert button.evaluate(HIT_AT_CENTRE)
    assert page.evaluate(CONTROLS_UNDER_TOASTS) == []
    screenshot(page, f"contact-toast-{language}-{viewport['width']}")

    # Clicked while the toast is still there (Playwright clicks only what would get the click).
    assert toast.is_visible()
    button.click(timeout=3000)
    page.wait_for_url(f"**/contacts/{desk.contact.pk}/data/")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_no_control_of_the_main_pages_lies_under_a_toast(
    chromium: Any, live_server: Any, tenant_a: Tenant, desk: Desk, viewport: dict[str, int]
) -> None:
    page = new_page(chromium, viewport=viewport)
    log_in(page, live_server.url, tenant_a.admin)
    addresses = [
        f"/o/alpha/contacts/{desk.contact.pk}/",
        "/o/alpha/contacts/",
        f"/o/alpha/inbox/{desk.conversation.pk}/",
        f"/o/alpha/tickets/{desk.ticket.pk}/",
        "/o/alpha/tickets/",
        "/o/alpha/notifications/",
        f"/o/alpha/contacts/{desk.contact.pk}/data/",
    ]
    if viewport == DESKTOP:
        # On a phone the settings' menu of links fills the screen: no height is free of them.
        addresses += ["/o/alpha/settings/audit-log/", "/o/alpha/settings/channels/"]
    covered = {}
    for address in addresses:
        response = page.goto(f"{live_server.url}{address}")
        assert response is not None and response.status == 200, address
        page.wait_for_load_state("networkidle")
        # Two toasts, as an htmx answer asks for them (HX-Trigger "helpdesk:toast").
        for message in ("The conversation was closed.", "A longer confirmation that takes two lines on a phone."):
            page.evaluate(
                "text => document.dispatchEvent(new CustomEvent('helpdesk:toast', "
                "{detail: {level: 'success', message: text}}))",
                message,
            )
        page.wait_for_function("() => document.querySelectorAll('#toasts .hd-toast').length === 2")
        page.wait_for_timeout(100)  # placed on the next frame
        if under := page.evaluate(CONTROLS_UNDER_TOASTS):
            covered[address] = under
    assert covered == {}
