"""Every main page, for an admin and for an agent, in English and Japanese, at a desktop width
and a phone width: axe-core finds no serious or critical violation of WCAG 2.2 AA, and
nothing is wider than the phone's screen. Each page's screenshot is kept among the artifacts
(``main-page-<role>-<page>-<language>-<width>.png``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from helpdesk.models import Membership, Role
from labels.models import Label
from messenger.models import SavedView
from messenger.services.conversations.labels import conversations_label_add
from tests import factories
from tests.chromium import BROWSER_MARKS, chromium, new_page, screenshot  # noqa: F401 (fixture)
from tests.conftest import Tenant
from tickets.services import ticket_create_from_conversation, tickets_label_add

pytestmark = BROWSER_MARKS

AXE_SOURCE = (Path(__file__).resolve().parent.parent / "assets" / "axe.min.js").read_text()
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDTHS = {"desktop": 1280, "phone": 390}


def main_pages(tenant: Tenant, *, role: str, base_url: str) -> dict[str, str]:
    """The pages to check, by name: everyone's, and the settings pages only an admin sees."""
    organization = tenant.organization
    department = tenant.department
    channel = factories.make_channel(organization, department, name="Web shop")
    factories.associate(tenant.agent, channel)
    page = factories.make_page(channel, name="Demo Page")
    contact = factories.make_contact(page, display_name="Aiko Tanaka")
    conversation = factories.make_conversation(page, contact)
    factories.make_message(conversation, text="Hello, my parcel has not arrived.")
    factories.make_message(
        conversation,
        text="",
        kind="attachment",
        attachments=[{"type": "image", "url": f"{base_url}/favicon.ico"}],
    )
    factories.make_message(conversation, text="Thank you!", direction="out", author=tenant.agent.user)
    other = factories.make_conversation(page, factories.make_contact(page, display_name="Kenji Sato"))
    factories.make_message(other, text="Do you ship to Osaka?")
    ticket = ticket_create_from_conversation(
        organization=organization,
        acting_user=tenant.admin.user,
        membership=tenant.admin,
        conversation_id=other.pk,
    )
    # The inbox's sidebar with saved views: one shared, one of the member's own.
    SavedView.objects.create(organization=organization, owner=None, name="Open everywhere", params={"state": ["open"]})
    own = tenant.admin if role == Role.ADMIN else tenant.agent
    SavedView.objects.create(organization=organization, owner=own, name="Mine", params={"view": ["mine"]})
    # Labels show as chips on the rows, the conversation, the tickets list and the ticket.
    refund = Label.objects.create(organization=organization, name="Refund", color="red")
    Label.objects.create(organization=organization, name="VIP customer", color="yellow")
    conversations_label_add(organization=organization, acting_user=None, conversations=[conversation], label=refund)
    tickets_label_add(organization=organization, acting_user=None, tickets=[ticket], label=refund)
    slug = {"org_slug": organization.slug}
    pages = {
        "home": reverse("org_home", kwargs=slug),
        "inbox": reverse("messenger:inbox", kwargs=slug),
        "conversation": reverse("messenger:conversation", kwargs={**slug, "conversation_id": conversation.pk}),
        "tickets": reverse("tickets:ticket_list", kwargs=slug),
        "ticket": reverse("tickets:ticket_detail", kwargs={**slug, "ticket_id": ticket.pk}),
        "preferences": reverse("preferences", kwargs=slug),
        "notifications": reverse("notification_list", kwargs=slug),
    }
    if role == Role.ADMIN:
        pages |= {
            "channels": reverse("channels:channel_list", kwargs=slug),
            "channel": reverse("channels:channel_edit", kwargs={**slug, "channel_id": channel.pk}),
            "agents": reverse("channels:agent_list", kwargs=slug),
            "members": reverse("member_list", kwargs=slug),
            "availability": reverse("availability:settings", kwargs=slug),
            "business-hours": reverse("channels:business_hours_list", kwargs=slug),
            "business-hours-edit": reverse(
                "channels:business_hours_edit", kwargs={**slug, "department_id": department.pk}
            ),
            "departments": reverse("department_list", kwargs=slug),
            "labels": reverse("labels:label_list", kwargs=slug),
            "api-tokens": reverse("api_tokens", kwargs=slug),
            "webhook-events": reverse("messenger:webhook_events", kwargs=slug),
        }
    return pages


def serious_violations(page: Any) -> list[dict[str, Any]]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # The product's CSP allows no injected <script>; evaluating the source is not a script tag.
        page.evaluate(AXE_SOURCE)
    results = page.evaluate(
        # WCAG 2.2's target size (2.5.8) is a rule axe leaves off unless asked for.
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, rules: {'target-size': {enabled: true}},"
        " resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]][:5],
            "summary": violation["nodes"][0].get("failureSummary", ""),
        }
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def log_in(page: Any, base_url: str, membership: Membership) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.locator("input[name=username]").fill(membership.user.username)
    page.locator("input[name=password]").fill(factories.PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"**/o/{membership.organization.slug}/")


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize("role", [Role.ADMIN, Role.AGENT])
def test_main_pages_have_no_serious_accessibility_violations_and_fit_a_phone(
    chromium: Any,  # noqa: F811
    live_server: Any,
    tenant_a: Tenant,
    role: str,
    language: str,
) -> None:
    membership = tenant_a.admin if role == Role.ADMIN else tenant_a.agent
    Membership.objects.filter(pk=membership.pk).update(language=language)
    membership.user.first_name, membership.user.last_name = "Mika", "Kato"
    membership.user.save(update_fields=["first_name", "last_name"])
    pages = main_pages(tenant_a, role=role, base_url=live_server.url)
    page = new_page(chromium)
    log_in(page, live_server.url, membership)

    found: dict[str, list[dict[str, Any]]] = {}
    overflowing: dict[str, int] = {}
    for width_name, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 860})
        for name, path in pages.items():
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            where = f"{name} ({language}, {width_name})"
            screenshot(page, f"main-page-{role}-{name}-{language}-{width_name}")
            violations = serious_violations(page)
            if violations:
                found[where] = violations
            if width == WIDTHS["phone"]:
                scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
                if scroll_width > width:
                    overflowing[where] = scroll_width
    assert not found, json.dumps(found, indent=1, ensure_ascii=False)
    assert not overflowing, overflowing


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_conversation_opened_by_keyboard_has_focus_in_its_transcript(
    chromium: Any,  # noqa: F811
    live_server: Any,
    tenant_a: Tenant,
    language: str,
) -> None:
    Membership.objects.filter(pk=tenant_a.agent.pk).update(language=language)
    main_pages(tenant_a, role=Role.AGENT, base_url=live_server.url)
    page = new_page(chromium)
    log_in(page, live_server.url, tenant_a.agent)
    page.goto(f"{live_server.url}{reverse('messenger:inbox', kwargs={'org_slug': tenant_a.organization.slug})}")

    # The top navigation's focus ring is plain to see on its dark background.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    ring = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [document.activeElement.closest('.hd-navbar') !== null, s.outlineStyle, s.outlineWidth,"
        " s.outlineColor]; }"
    )
    assert ring == [True, "solid", "3px", "rgb(255, 209, 102)"], ring

    row = page.locator(".hd-conversation-item", has_text="Aiko Tanaka")
    row.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/inbox/*/")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => document.activeElement.id") == "transcript-panel"
    # The reply box is a few Tabs on, past the transcript's own links (the customer's image).
    stops = []
    for _ in range(4):
        page.keyboard.press("Tab")
        stops.append(page.evaluate("() => document.activeElement.id || document.activeElement.tagName"))
        if stops[-1] == "composer-text":
            break
    assert stops[-1] == "composer-text", stops

    # The customer's image says whose it is.
    alt = {"en": "Image from Aiko Tanaka", "ja": "Aiko Tanaka さんからの画像"}[language]
    assert page.get_by_role("img", name=alt).count() == 1
    # A page reached any other way keeps the browser's own focus.
    page.reload()
    assert page.evaluate("() => document.activeElement === document.body")
