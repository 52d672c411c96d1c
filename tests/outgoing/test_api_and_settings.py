"""/api/v1/webhook-endpoints/ and Settings → Webhooks: admins only (agents 403), another
organization's endpoint or delivery 404, a private or non-public address refused
(400 `endpoint_not_allowed` / a form error), the delivery log and "send again"."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from helpdesk import signals
from outgoing import services
from outgoing.models import Delivery, OutgoingEvent, WebhookEndpoint
from tests import factories
from tests.conftest import Tenant, api_client_for
from tests.outgoing.conftest import Receiver
from tickets.services import ticket_create_from_conversation, ticket_update

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhook-endpoints/"
EVENTS = [signals.CONVERSATION_CLOSED, signals.TICKET_UPDATED]


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _endpoint(tenant: Tenant, url: str = "https://hooks.example.com/in") -> WebhookEndpoint:
    return services.endpoint_create(
        organization=tenant.organization, acting_user=tenant.admin.user, url=url, events=EVENTS
    )


def _delivery(tenant: Tenant, endpoint: WebhookEndpoint) -> Delivery:
    event = OutgoingEvent.objects.create(
        organization=tenant.organization, type=signals.CONVERSATION_CLOSED, resource="conversation", resource_id=1
    )
    return Delivery.objects.create(
        organization=tenant.organization,
        endpoint=endpoint,
        event=event,
        next_attempt_at=timezone.now(),
        created_at=timezone.now(),
    )


def test_an_admin_registers_reads_changes_rotates_and_deletes_an_endpoint(tenant_a: Tenant, dns: Any) -> None:
    client = api_client_for(tenant_a.admin)
    created = client.post(
        URL, {"url": "https://hooks.example.com/in", "events": EVENTS, "description": "CRM"}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["events"] == EVENTS and body["enabled"] and body["secret"].startswith("whsec_")
    url = f"{URL}{body['id']}/"
    assert [row["id"] for row in client.get(URL).json()] == [body["id"]]
    # The secret is in the answers that make it, and afterwards only its last characters.
    read = client.get(url).json()
    assert "secret" not in read and read["secret_hint"] == body["secret"][-4:]
    assert all("secret" not in row for row in client.get(URL).json())
    changed = client.patch(url, {"events": [signals.MESSAGE_RECEIVED], "enabled": False}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["events"], changed.json()["enabled"]) == ([signals.MESSAGE_RECEIVED], False)
    rotated = client.post(f"{url}rotate-secret/")
    assert rotated.status_code == 200 and rotated.json()["secret"] != body["secret"]
    assert client.delete(url).status_code == 204
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("url", "answer"),
    [
        ("https://127.0.0.1/in", ()),
        ("https://[::1]/in", ()),
        ("https://169.254.169.254/latest/meta-data/", ()),
        ("https://intranet.example.com/in", ("10.0.0.5",)),
        ("https://half.example.com/in", ("93.184.215.14", "192.168.1.2")),
        ("ftp://hooks.example.com/in", ()),
        ("https://user:pw@hooks.example.com/in", ()),
        ("http://10.0.0.1/in", ()),
    ],
)
def test_an_address_that_is_not_public_is_refused_with_a_stable_code(
    tenant_a: Tenant, dns: Any, url: str, answer: tuple[str, ...]
) -> None:
    if answer:
        dns.answer = answer
    response = api_client_for(tenant_a.admin).post(URL, {"url": url, "events": EVENTS}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "endpoint_not_allowed"
    assert not WebhookEndpoint.objects.exists()


def test_plain_http_is_refused_where_https_is_required(tenant_a: Tenant, dns: Any, settings: Any) -> None:
    settings.OUTGOING_WEBHOOKS_HTTPS_ONLY = True
    response = api_client_for(tenant_a.admin).post(
        URL, {"url": "http://hooks.example.com/in", "events": EVENTS}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "endpoint_not_allowed"


def test_a_port_other_than_the_allowed_ones_is_refused(tenant_a: Tenant, dns: Any, settings: Any) -> None:
    """A public address may still front a database or an admin console on another port."""
    settings.OUTGOING_WEBHOOK_PORTS = (443, 8443)
    client = api_client_for(tenant_a.admin)
    for url in ("https://hooks.example.com:6379/in", "https://hooks.example.com:5432/in"):
        response = client.post(URL, {"url": url, "events": EVENTS}, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "endpoint_not_allowed"
    assert not WebhookEndpoint.objects.exists()
    accepted = client.post(URL, {"url": "https://hooks.example.com:8443/in", "events": EVENTS}, format="json")
    assert accepted.status_code == 201


def test_unknown_events_are_refused(tenant_a: Tenant, dns: Any) -> None:
    response = api_client_for(tenant_a.admin).post(
        URL, {"url": "https://hooks.example.com/in", "events": ["conversation.exploded"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_event_types"


def test_agents_may_not_see_or_register_endpoints(tenant_a: Tenant, dns: Any, web_client_for: Any) -> None:
    endpoint = _endpoint(tenant_a)
    client = api_client_for(tenant_a.agent)
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}{endpoint.pk}/").status_code == 403
    assert client.post(URL, {"url": "https://hooks.example.com/x", "events": EVENTS}, format="json").status_code == 403
    web = web_client_for(tenant_a.agent)
    assert web.get("/o/alpha/settings/webhooks/").status_code == 403
    assert web.get(f"/o/alpha/settings/webhooks/{endpoint.pk}/").status_code == 403


def test_another_organizations_endpoint_and_deliveries_are_not_found(
    tenant_a: Tenant, tenant_b: Tenant, dns: Any, web_client_for: Any
) -> None:
    endpoint = _endpoint(tenant_a)
    delivery = _delivery(tenant_a, endpoint)
    client = api_client_for(tenant_b.admin)
    assert client.get(URL).json() == []
    url = f"{URL}{endpoint.pk}/"
    assert client.get(url).status_code == 404
    assert client.patch(url, {"enabled": False}, format="json").status_code == 404
    assert client.post(f"{url}rotate-secret/").status_code == 404
    assert client.get(f"{url}deliveries/").status_code == 404
    assert client.post(f"{url}deliveries/{delivery.pk}/send-again/").status_code == 404
    assert client.delete(url).status_code == 404
    # Their own endpoint with the other's delivery id: not found either.
    own = _endpoint(tenant_b)
    assert client.post(f"{URL}{own.pk}/deliveries/{delivery.pk}/send-again/").status_code == 404
    web = web_client_for(tenant_b.admin)
    assert web.get(f"/o/bravo/settings/webhooks/{endpoint.pk}/").status_code == 404
    assert web.post(f"/o/bravo/settings/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/send-again/").status_code == 404
    endpoint.refresh_from_db()
    assert endpoint.enabled and Delivery.objects.count() == 1


def test_the_delivery_log_and_send_again_through_the_api(tenant_a: Tenant, dns: Any) -> None:
    endpoint = _endpoint(tenant_a)
    delivery = _delivery(tenant_a, endpoint)
    client = api_client_for(tenant_a.admin)
    log = client.get(f"{URL}{endpoint.pk}/deliveries/").json()
    assert [row["id"] for row in log["results"]] == [delivery.pk]
    assert log["results"][0]["event_type"] == "conversation.closed"
    again = client.post(f"{URL}{endpoint.pk}/deliveries/{delivery.pk}/send-again/")
    assert again.status_code == 201
    assert again.json()["event_id"] == str(delivery.event.public_id)
    assert again.json()["state"] == "pending"
    assert Delivery.objects.filter(event=delivery.event).count() == 2


def test_an_admin_adds_an_endpoint_in_settings_and_sees_its_log(
    tenant_a: Tenant, dns: Any, web_client_for: Any
) -> None:
    client = web_client_for(tenant_a.admin)
    nav = client.get("/o/alpha/settings/departments/")
    assert b'href="/o/alpha/settings/webhooks/"' in nav.content
    response = client.post(
        "/o/alpha/settings/webhooks/", {"url": "https://hooks.example.com/in", "events": EVENTS, "description": "CRM"}
    )
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/o/alpha/settings/webhooks/{endpoint.pk}/"
    _delivery(tenant_a, endpoint)
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert endpoint.secret.encode() in page.content and b"conversation.closed" in page.content
    # Shown once: the next visit shows only its last characters.
    again = client.get(response["Location"])
    assert endpoint.secret.encode() not in again.content and endpoint.secret[-4:].encode() in again.content
    rotated = client.post(response["Location"], {"action": "rotate"})
    assert rotated.status_code == 302
    fresh = WebhookEndpoint.objects.get().secret
    assert fresh != endpoint.secret
    assert fresh.encode() in client.get(response["Location"]).content
    assert fresh.encode() not in client.get(response["Location"]).content


def test_a_private_address_is_a_form_error_in_settings(tenant_a: Tenant, dns: Any, web_client_for: Any) -> None:
    dns.answer = ("192.168.1.10",)
    response = web_client_for(tenant_a.admin).post(
        "/o/alpha/settings/webhooks/", {"url": "https://router.example.com/in", "events": EVENTS}
    )
    assert response.status_code == 400
    assert "use a public https address" in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_settings_page_speaks_japanese(tenant_a: Tenant, dns: Any, web_client_for: Any) -> None:
    tenant_a.organization.language = "ja"
    tenant_a.organization.save(update_fields=["language"])
    response = web_client_for(tenant_a.admin).get("/o/alpha/settings/webhooks/", HTTP_ACCEPT_LANGUAGE="ja")
    assert "送信するイベント" in response.content.decode()


def test_tickets_made_and_changed_are_sent_in_order(tenant_a: Tenant, receiver: Receiver, dns: Any) -> None:
    endpoint = services.endpoint_create(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        url=receiver.url,
        events=[signals.TICKET_CREATED, signals.TICKET_UPDATED],
    )
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    conversation = factories.make_conversation(factories.make_page(channel))
    factories.make_message(conversation, text="My order never came")
    ticket_id = ticket_create_from_conversation(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        membership=tenant_a.admin,
        conversation_id=conversation.pk,
    ).pk
    ticket_update(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        membership=tenant_a.admin,
        ticket_id=ticket_id,
        priority="high",
    )
    events = list(OutgoingEvent.objects.order_by("pk").values_list("type", "resource_id", "conversation_id"))
    assert events == [
        ("ticket.created", ticket_id, conversation.pk),
        ("ticket.updated", ticket_id, conversation.pk),
    ]
    services.endpoint_deliver(endpoint_id=endpoint.pk)
    assert [request.event["type"] for request in receiver.requests] == ["ticket.created", "ticket.updated"]
    assert receiver.requests[1].event["data"]["priority"] == "high"
    assert receiver.requests[1].event["data"]["id"] == ticket_id
