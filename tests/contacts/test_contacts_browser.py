# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""The Contacts pages in a real browser, in English and Japanese, on a desktop and a phone:
an admin finds a customer by a Japanese search, adds a note and merges the customer's contact
on another page; an agent sees only the contacts of their channels and adds a note too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from contacts.models import ContactNote, PersonContact
from helpdesk.models import Membership
from messenger.models import Contact
from tests import factories
from tests.accessibility.test_axe import log_in
from tests.chromium import BROWSER_MARKS, chromium, new_page  # noqa: F401 (fixtures)
from tests.conftest import Tenant
from tests.screens import screens_checked, translated
from tickets.services import ticket_create_from_conversation

pytestmark = BROWSER_MARKS

LIST = "/o/alpha/contacts/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Customers:
    hanako: Contact  # on the shop's page, with a conversation and a ticket
    hanako_outlet: Contact  # the same customer writing to the outlet's page
    hidden: Contact  # on a channel the agent is not associated with


@pytest.fixture
def customers(tenant_a: Tenant) -> Customers:
    organization, department = tenant_a.organization, tenant_a.department
    shop = factories.make_channel(organization, department, name="Web shop")
    outlet = factories.make_channel(organization, department, name="Outlet")
    careers = factories.make_channel(organization, department, name="Careers")
    factories.associate(tenant_a.agent, shop)
    factories.associate(tenant_a.agent, outlet)
    shop_page = factories.make_page(shop, name="Alpha Shop")
    outlet_page = factories.make_page(outlet, name="Alpha Outlet")
    careers_page = factories.make_page(careers, name="Alpha Careers")
    hanako = factories.make_contact(
        shop_page, display_name="山田 花子", first_name="花子", last_name="山田", psid="7000000000000001"
    )
    hanako_outlet = factories.make_contact(outlet_page, display_name="Hanako Yamada", psid="7000000000000002")
    hidden = factories.make_contact(careers_page, display_name="Taro Suzuki", psid="7000000000000003")
    for n in range(3):
        factories.make_conversation(shop_page, factories.make_contact(shop_page, display_name=f"Customer {n + 1}"))
    now = timezone.now()
    conversation = factories.make_conversation(
        shop_page, hanako, last_message_preview="注文した商品がまだ届きません", last_message_at=now - timedelta(hours=3)
    )
    factories.make_message(conversation, text="注文した商品がまだ届きません", sent_at=now - timedelta(hours=3))
    ticket = ticket_create_from_conversation(
        organization=organization,
        acting_user=tenant_a.admin.user,
        membership=tenant_a.admin,
        conversation_id=conversation.pk,
    )
    ticket.subject = "配送の遅れ"
    ticket.save(update_fields=["subject"])
    factories.make_conversation(
        outlet_page,
        hanako_outlet,
        last_message_preview="Is the sale still on?",
        last_message_at=now - timedelta(days=2),
    )
    factories.make_conversation(careers_page, hidden, last_message_preview="About the job opening")
    return Customers(hanako, hanako_outlet, hidden)


def _names(page: Any) -> list[str]:
    return [name.strip() for name in page.locator("#contact-results .hd-contact-link").all_inner_texts()]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_an_admin_finds_a_customer_adds_a_note_and_merges_their_contacts(
    chromium: Any, live_server: Any, tenant_a: Tenant, customers: Customers, language: str
) -> None:
    Membership.objects.filter(pk=tenant_a.admin.pk).update(language=language)
    page = new_page(chromium, viewport={"width": 1440, "height": 900})
    log_in(page, live_server.url, tenant_a.admin)

    page.get_by_role("navigation", name=translated(language, "Main navigation")).get_by_role(
        "link", name=translated(language, "Contacts")
    ).click()
    page.wait_for_url(f"**{LIST}")
    assert page.locator("h1").inner_text() == translated(language, "Contacts")
    assert sorted(_names(page)) == sorted(
        ["山田 花子", "Hanako Yamada", "Taro Suzuki", "Customer 1", "Customer 2", "Customer 3"]
    )
    screens_checked(page, f"contacts-list-{language}")

    # A Japanese search finds the customer by the Japanese name, not the Latin one.
    page.fill("#contact-q", "花子")
    page.get_by_role("button", name=translated(language, "Search"), exact=True).click()
    page.wait_for_url("**/contacts/?q=*")
    assert _names(page) == ["山田 花子"]
    assert page.input_value("#contact-q") == "花子"
    row = page.locator("#contact-results tbody tr")
    assert "Alpha Shop" in row.inner_text() and "7000000000000001" in row.inner_text()
    screens_checked(page, f"contacts-search-japanese-{language}")
    page.fill("#contact-q", "存在しない名前")
    page.keyboard.press("Enter")
    page.wait_for_selector("#contact-results >> text=" + translated(language, "No contacts match this search."))
    assert _names(page) == []
    page.fill("#contact-q", "花子")
    page.keyboard.press("Enter")
    page.wait_for_selector("#contact-results .hd-contact-link")

    # The customer's page: their conversation and ticket, and the way to their data for admins.
    page.locator("#contact-results .hd-contact-link").click()
    page.wait_for_url(f"**/contacts/{customers.hanako.pk}/")
    assert page.locator("h1").inner_text().strip() == "山田 花子"
    assert "注文した商品がまだ届きません" in page.inner_text("#conversations-title + .list-group")
    assert "配送の遅れ" in page.inner_text("#tickets-title + .list-group")
    assert page.get_by_role("link", name=translated(language, "Export or erase the customer's data")).count() == 1
    assert translated(language, "No notes yet.") in page.inner_text("[aria-labelledby=notes-title]")

    # A note for the team.
    page.fill("#note-new", "VIP: 配送は午前中を希望")
    page.get_by_role("button", name=translated(language, "Add note")).click()
    page.wait_for_selector("#toasts >> text=" + translated(language, "Note added."))
    note = ContactNote.objects.get()
    assert (note.contact_id, note.author_id, note.text) == (
        customers.hanako.pk,
        tenant_a.admin.user_id,
        "VIP: 配送は午前中を希望",
    )
    # The author's own note stays editable.
    assert page.locator(".hd-contact-note textarea").input_value() == "VIP: 配送は午前中を希望"
    assert page.input_value("#note-new") == ""

    # The same customer wrote to the outlet's page: found by the Latin name, merged after a question.
    page.fill("#merge-q", "Hanako")
    page.get_by_role("button", name=translated(language, "Find"), exact=True).click()
    page.wait_for_url("**merge_q=Hanako*")
    candidate = page.locator("[aria-labelledby=merge-title] li")
    assert candidate.count() == 1 and "Hanako Yamada" in candidate.inner_text()
    assert "Alpha Outlet" in candidate.inner_text()
    screens_checked(page, f"contacts-detail-merge-candidate-{language}")
    candidate.get_by_role("button", name=translated(language, "Merge"), exact=True).click()
    dialog = page.locator("#hd-confirm")
    dialog.wait_for(state="visible")
    assert dialog.locator("[data-confirm-title]").inner_text() == translated(language, "Merge these two contacts?")
    assert "Hanako Yamada" in dialog.locator("[data-confirm-detail]").inner_text()
    assert not PersonContact.objects.exists()
    dialog.get_by_role("button", name=translated(language, "Yes, merge")).click()
    page.wait_for_selector(
        "#toasts >> text=" + translated(language, "The contacts are merged: they are one person now.")
    )
    assert PersonContact.objects.count() == 2
    person = page.locator("[aria-labelledby=person-title]")
    assert person.locator("h2").inner_text() == translated(language, "The same person on other pages")
    assert person.locator(".hd-person-contact").count() == 2
    assert "Hanako Yamada" in person.inner_text() and "Alpha Outlet" in person.inner_text()
    # Both pages' conversations are the person's now.
    assert page.locator(".hd-contact-conversation").count() == 2
    assert person.get_by_role("button", name=translated(language, "Unmerge this contact")).count() == 1
    screens_checked(page, f"contacts-detail-{language}")


@pytest.mark.parametrize("language", ["en", "ja"])
def test_an_agent_sees_the_contacts_of_their_channels_and_adds_a_note(
    chromium: Any, live_server: Any, tenant_a: Tenant, customers: Customers, language: str
) -> None:
    Membership.objects.filter(pk=tenant_a.agent.pk).update(language=language)
    ContactNote.objects.create(
        organization=tenant_a.organization,
        contact=customers.hanako,
        author=tenant_a.admin.user,
        text="Prefers morning deliveries.",
    )
    page = new_page(chromium, viewport={"width": 1440, "height": 900})
    log_in(page, live_server.url, tenant_a.agent)
    page.goto(f"{live_server.url}{LIST}")
    assert "Taro Suzuki" not in _names(page)
    assert sorted(_names(page)) == sorted(["山田 花子", "Hanako Yamada", "Customer 1", "Customer 2", "Customer 3"])
    page.fill("#contact-q", "suzuki")
    page.keyboard.press("Enter")
    page.wait_for_selector("#contact-results >> text=" + translated(language, "No contacts match this search."))
    screens_checked(page, f"contacts-list-agent-no-match-{language}")
    assert page.goto(f"{live_server.url}{LIST}{customers.hidden.pk}/").status == 404

    page.goto(f"{live_server.url}{LIST}{customers.hanako.pk}/")
    # No way to the customer's data for an agent; a colleague's note is read, not edited.
    assert page.get_by_role("link", name=translated(language, "Export or erase the customer's data")).count() == 0
    colleague_note = page.locator(".hd-contact-note")
    assert colleague_note.locator("textarea").count() == 0
    assert "Prefers morning deliveries." in colleague_note.inner_text()
    page.fill("#note-new", "折り返しの電話は夕方に")
    page.get_by_role("button", name=translated(language, "Add note")).click()
    page.wait_for_selector("#toasts >> text=" + translated(language, "Note added."))
    assert ContactNote.objects.filter(author=tenant_a.agent.user, text="折り返しの電話は夕方に").count() == 1
    # Newest first: the agent's own note, editable, above the colleague's.
    notes = page.locator(".hd-contact-note")
    assert notes.count() == 2
    assert notes.first.locator("textarea").input_value() == "折り返しの電話は夕方に"
    screens_checked(page, f"contacts-detail-agent-{language}")
