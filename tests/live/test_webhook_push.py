# The ASGI fixtures are imported from tests.asgi; their names are parameters below.
# ruff: noqa: F811
"""End to end over a real ASGI server: a signed webhook POST for a page of a channel reaches,
within a second, the stream of an agent of that channel (and an admin of the organization),
and nobody else: not an agent of another channel, not another organization's admin."""

from __future__ import annotations

import time

import pytest
import requests
from django.conf import settings

from helpdesk.models import Role
from messenger.webhook.signature import signature_for
from tests import factories
from tests.asgi import AsgiServer, asgi_server, live_redis, open_stream  # noqa: F401 (fixtures)
from tests.conftest import Tenant
from tests.messenger.fixtures import BASE_MS, PAGE_ID, WEBHOOK_URL, as_bytes, page_body, text_item

pytestmark = pytest.mark.django_db(transaction=True)


def _post(server: AsgiServer, raw: bytes) -> requests.Response:
    """POST as Facebook does, to the server's webhook: the raw bytes, signed."""
    return requests.post(
        f"{server.url}{WEBHOOK_URL}",
        data=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature_for(raw, settings.FB_APP_SECRET)},
        timeout=10,
    )


def test_a_customer_message_is_pushed_to_who_sees_its_channel_only(
    asgi_server: AsgiServer, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    shop = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    other = factories.make_channel(tenant_a.organization, tenant_a.department, name="Sales")
    factories.associate(tenant_a.agent, shop)
    factories.make_page(shop, page_id=PAGE_ID)
    colleague = factories.make_member(
        tenant_a.organization, role=Role.AGENT, username="alpha-colleague", departments=[tenant_a.department]
    )
    factories.associate(colleague, other)

    agent = open_stream(asgi_server, tenant_a.agent.user, "alpha")
    admin = open_stream(asgi_server, tenant_a.admin.user, "alpha")
    outsider = open_stream(asgi_server, colleague.user, "alpha")
    stranger = open_stream(asgi_server, tenant_b.admin.user, "bravo")

    raw = as_bytes(page_body((PAGE_ID, [text_item(mid="m_pushed", text="Is it shipped?")])))
    started = time.monotonic()
    response = _post(asgi_server, raw)
    assert response.status_code == 200
    event = agent.next_live(timeout=1.0)
    assert time.monotonic() - started < 2.0
    assert event.data["kind"] == "conversation" and event.data["what"] == "created"
    conversation_id = event.data["conversation"]
    assert event.data["topics"] == ["conversations", f"conversation:{conversation_id}"]
    # Ids and codes only: never the customer's words.
    assert "Is it shipped?" not in str(event.data)
    assert admin.next_live(timeout=1.0).data["conversation"] == conversation_id
    # The customer writes again: the one statement stores it, and the push follows the same way.
    again = as_bytes(page_body((PAGE_ID, [text_item(mid="m_pushed_2", text="Hello?", timestamp=BASE_MS + 1000)])))
    assert _post(asgi_server, again).status_code == 200
    event = agent.next_live(timeout=1.0)
    assert (event.data["conversation"], event.data["what"]) == (conversation_id, "customer_message")
    assert outsider.nothing_within(1.0)
    assert stranger.nothing_within(0.2)
    for reader in (agent, admin, outsider, stranger):
        reader.close()
