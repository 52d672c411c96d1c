# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""Settings → Webhooks in a real browser, in English and Japanese, on a desktop and a phone:
an admin adds an endpoint and sees its secret once (then only its last characters), reads the
delivery log and sends a delivery again; agents have no way in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from helpdesk import signals
from helpdesk.models import Membership
from outgoing import tasks
from outgoing.models import Delivery, DeliveryState, OutgoingEvent, WebhookEndpoint
from outgoing.payloads import event_body
from tests.accessibility.test_axe import log_in
from tests.chromium import BROWSER_MARKS, chromium, new_page  # noqa: F401 (fixtures)
from tests.conftest import Tenant
from tests.screens import screens_checked, translated

pytestmark = BROWSER_MARKS

LIST = "/o/alpha/settings/webhooks/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _deliveries(tenant: Tenant, endpoint: WebhookEndpoint) -> dict[str, Delivery]:
    """What a day of an endpoint's log looks like: delivered, given up, and waiting to be tried again."""
    now = timezone.now()
    made = {}
    for name, event_type, state, fields in (
        (
            "given_up",
            signals.CONVERSATION_CLOSED,
            DeliveryState.FAILED,
            {"attempts": 8, "error": "timeout", "finished_at": now - timedelta(hours=2)},
        ),
        (
            "delivered",
            signals.TICKET_UPDATED,
            DeliveryState.SUCCEEDED,
            {"attempts": 1, "status_code": 200, "response_ms": 143, "response_excerpt": '{"received": true}'},
        ),
        (
            "waiting",
            signals.CONVERSATION_CLOSED,
            DeliveryState.PENDING,
            {"attempts": 2, "status_code": 503, "response_ms": 2870, "response_excerpt": "Service Unavailable"},
        ),
    ):
        event = OutgoingEvent.objects.create(
            organization=tenant.organization, type=event_type, resource="conversation", resource_id=41
        )
        event.body = event_body(event, {"id": 41, "state": "closed", "subject": "配送の遅れ"})
        event.save(update_fields=["body"])
        made[name] = Delivery.objects.create(
            organization=tenant.organization,
            endpoint=endpoint,
            event=event,
            state=state,
            next_attempt_at=now + timedelta(minutes=5),
            last_attempt_at=now - timedelta(minutes=1),
            created_at=now - timedelta(hours=3),
            **fields,
        )
    return made


@pytest.mark.parametrize("language", ["en", "ja"])
def test_an_admin_adds_an_endpoint_sees_its_secret_once_and_sends_a_delivery_again(
    chromium: Any, live_server: Any, tenant_a: Tenant, dns: Any, language: str
) -> None:
    Membership.objects.filter(pk=tenant_a.admin.pk).update(language=language)
    page = new_page(chromium, viewport={"width": 1440, "height": 900})
    log_in(page, live_server.url, tenant_a.admin)

    # Settings → Webhooks, from the settings menu.
    page.goto(f"{live_server.url}/o/alpha/settings/departments/")
    page.get_by_role("link", name=translated(language, "Webhooks"), exact=True).click()
    page.wait_for_url(f"**{LIST}")
    assert page.locator("main h2").first.inner_text() == translated(language, "Webhooks")
    assert translated(language, "No webhook endpoints yet.") in page.inner_text("main")
    screens_checked(page, f"webhooks-list-empty-{language}")

    page.fill("#id_url", "https://hooks.example.com/helpdesk/events")
    page.fill("#id_description", "CRM (本番)")
    page.check(f"input[name=events][value='{signals.CONVERSATION_CLOSED}']")
    page.check(f"input[name=events][value='{signals.TICKET_UPDATED}']")
    page.get_by_role("button", name=translated(language, "Add endpoint")).click()
    page.wait_for_url("**/settings/webhooks/*/")

    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.description, endpoint.events, endpoint.enabled) == (
        "https://hooks.example.com/helpdesk/events",
        "CRM (本番)",
        [signals.CONVERSATION_CLOSED, signals.TICKET_UPDATED],
        True,
    )
    assert translated(language, "Webhook endpoint added. Its secret is shown below.") in page.inner_text("#toasts")
    # The whole secret, this once, with the warning that it will not be shown again.
    assert page.input_value("#endpoint-secret") == endpoint.secret
    assert endpoint.secret.startswith("whsec_")
    assert translated(language, "Copy it now: it is shown only this once. If it is lost, rotate it.") in (
        page.inner_text("#endpoint-secret-once")
    )
    assert page.locator("#id_enabled").is_checked()
    screens_checked(page, f"webhooks-endpoint-secret-once-{language}")

    # Afterwards only its last characters.
    page.reload()
    assert page.input_value("#endpoint-secret") == f"••••••••{endpoint.secret[-4:]}"
    assert endpoint.secret not in page.content()
    assert page.locator("#endpoint-secret-once").count() == 0
    assert translated(language, "No deliveries yet.") in page.inner_text("main")

    # The delivery log: each delivery's event, state, answer and what was sent.
    deliveries = _deliveries(tenant_a, endpoint)
    page.reload()
    rows = page.locator("main table tbody tr")
    assert rows.count() == 3
    waiting, delivered, given_up = (rows.nth(n).inner_text() for n in range(3))
    assert signals.CONVERSATION_CLOSED in waiting and translated(language, "Pending") in waiting
    assert "503" in waiting and translated(language, "%(ms)s ms", ms=2870) in waiting
    assert signals.TICKET_UPDATED in delivered and translated(language, "Delivered") in delivered
    assert "200" in delivered and translated(language, "%(ms)s ms", ms=143) in delivered
    assert translated(language, "Given up") in given_up and "timeout" in given_up
    # The request and the answer open below the row.
    details = rows.nth(1).locator("details")
    assert not details.locator("pre").first.is_visible()
    details.locator("summary").click()
    assert "配送の遅れ" in details.locator("pre").first.inner_text()
    assert details.locator("pre").nth(1).inner_text() == '{"received": true}'
    screens_checked(page, f"webhooks-endpoint-log-{language}")

    # Send the given-up delivery again: a new pending delivery of the same event, sent now.
    with mock.patch.object(tasks.deliver, "delay", autospec=True) as deliver:
        rows.nth(2).get_by_role("button", name=translated(language, "Send again")).click()
        page.wait_for_selector("#toasts >> text=" + translated(language, "The event will be sent again."))
    deliver.assert_called_once_with(endpoint.pk)
    again = Delivery.objects.filter(event=deliveries["given_up"].event).exclude(pk=deliveries["given_up"].pk).get()
    assert (again.state, again.attempts) == (DeliveryState.PENDING, 0)
    assert rows.count() == 4
    newest = rows.first.inner_text()
    assert signals.CONVERSATION_CLOSED in newest and translated(language, "Pending") in newest

    # Back to the list: the endpoint with its description and state.
    page.get_by_role("navigation", name=translated(language, "Breadcrumb")).get_by_role("link").click()
    page.wait_for_url(f"**{LIST}")
    row = page.locator("main table tbody tr")
    assert row.count() == 1
    assert "https://hooks.example.com/helpdesk/events" in row.inner_text()
    assert "CRM (本番)" in row.inner_text() and translated(language, "Enabled") in row.inner_text()
    screens_checked(page, f"webhooks-list-{language}")

    # Deleting asks first; the endpoint and its log go.
    row.get_by_role("link").click()
    page.wait_for_url("**/settings/webhooks/*/")
    page.get_by_role("button", name=translated(language, "Delete"), exact=True).click()
    dialog = page.locator("#hd-confirm")
    dialog.wait_for(state="visible")
    assert dialog.locator("[data-confirm-title]").inner_text() == translated(
        language, "Delete this webhook endpoint and its delivery log?"
    )
    assert WebhookEndpoint.objects.exists()
    dialog.get_by_role("button", name=translated(language, "Yes, delete")).click()
    page.wait_for_url(f"**{LIST}")
    assert translated(language, "Webhook endpoint deleted.") in page.inner_text("#toasts")
    assert not WebhookEndpoint.objects.exists() and not Delivery.objects.exists()


def test_a_refused_address_is_said_beside_the_field(
    chromium: Any, live_server: Any, tenant_a: Tenant, dns: Any
) -> None:
    page = new_page(chromium, viewport={"width": 1440, "height": 900})
    log_in(page, live_server.url, tenant_a.admin)
    page.goto(f"{live_server.url}{LIST}")
    page.fill("#id_url", "https://127.0.0.1/in")
    page.check(f"input[name=events][value='{signals.CONVERSATION_CLOSED}']")
    page.get_by_role("button", name="Add endpoint").click()
    page.wait_for_selector("#id_url.is-invalid")
    assert page.get_attribute("#id_url", "aria-describedby") == "id_url_errors"
    assert page.inner_text("#id_url_errors").strip()
    assert page.input_value("#id_url") == "https://127.0.0.1/in"
    assert page.locator(f"input[name=events][value='{signals.CONVERSATION_CLOSED}']").is_checked()
    assert not WebhookEndpoint.objects.exists()
    screens_checked(page, "webhooks-list-refused-address-en")


def test_an_agent_has_no_way_to_the_webhooks(chromium: Any, live_server: Any, tenant_a: Tenant) -> None:
    page = new_page(chromium, viewport={"width": 1440, "height": 900})
    log_in(page, live_server.url, tenant_a.agent)
    # Signed in on the organization's home: no settings in the navigation, no way to the webhooks.
    navigation = page.get_by_role("navigation", name="Main navigation")
    assert navigation.get_by_role("link", name="Contacts").count() == 1
    assert navigation.get_by_role("link", name="Settings").count() == 0
    assert page.locator(f"a[href='{LIST}']").count() == 0
    assert page.goto(f"{live_server.url}{LIST}").status == 403
