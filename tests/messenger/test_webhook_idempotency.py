"""Facebook delivers twice, or a hundred times, at once: one message, one contact, one
conversation, counts that add up."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django.test import Client

from messenger.models import Contact, Conversation, FacebookPage, Message, WebhookEvent, WebhookOutcome
from tests import factories
from tests.conftest import Tenant
from tests.messenger.fixtures import (
    BASE_MS,
    PAGE_ID,
    PSID,
    as_bytes,
    fast_password_hashing,
    page_body,
    post_webhook,
    queued_followups,
    text_item,
    webhook_fixture,
)

pytestmark = pytest.mark.usefixtures("queued_followups")
__all__ = ["fast_password_hashing", "queued_followups"]

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL (SQLite runs one at a time)"
)
# Deliveries in flight at once; each thread holds its own database connection.
THREADS = 25


@pytest.fixture
def page(tenant_a: Tenant) -> FacebookPage:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    return factories.make_page(channel, page_id=PAGE_ID)


@pytest.mark.django_db
def test_the_same_delivery_twice_is_stored_once(client: Client, page: FacebookPage) -> None:
    body = webhook_fixture("message_text")
    assert post_webhook(client, body).status_code == 200
    assert post_webhook(client, body).status_code == 200
    assert Message.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1
    assert list(WebhookEvent.objects.order_by("pk").values_list("outcome", flat=True)) == ["stored", "duplicate"]


@pytest.mark.django_db
def test_the_same_message_twice_in_one_post_is_stored_once(client: Client, page: FacebookPage) -> None:
    item = text_item(mid="m_twice")
    post_webhook(client, page_body((PAGE_ID, [item]), (PAGE_ID, [item])))
    assert Message.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1
    assert Counter(WebhookEvent.objects.values_list("outcome", flat=True)) == {"stored": 1, "duplicate": 1}


@pytest.mark.django_db
def test_a_retried_batch_with_one_new_message_stores_only_that_one(client: Client, page: FacebookPage) -> None:
    first = text_item(mid="m_first")
    post_webhook(client, page_body((PAGE_ID, [first])))
    post_webhook(client, page_body((PAGE_ID, [first]), (PAGE_ID, [text_item(mid="m_new", timestamp=BASE_MS + 1)])))
    assert Message.objects.count() == 2
    assert Conversation.objects.get().unread_count == 2


@pytest.mark.django_db
def test_receipts_reactions_and_edits_applied_twice_change_nothing(client: Client, page: FacebookPage) -> None:
    post_webhook(client, webhook_fixture("message_text"))
    conversation = Conversation.objects.get()
    factories.make_message(
        conversation, text="answer", direction="out", mid="m_out_Dd01", sent_at=conversation.last_message_at
    )
    names = ("reaction_react", "message_edit", "delivery", "read")
    for name in names:
        post_webhook(client, webhook_fixture(name))
    snapshot = list(Message.objects.order_by("pk").values())
    for name in names:
        post_webhook(client, webhook_fixture(name))
    assert list(Message.objects.order_by("pk").values()) == snapshot
    second_round = WebhookEvent.objects.order_by("pk")[len(names) + 1 :]
    assert {e.outcome for e in second_round} <= {WebhookOutcome.DUPLICATE, WebhookOutcome.IGNORED}


def _deliver_concurrently(bodies: list[bytes]) -> list[int]:
    """POST every body from a pool of threads released together; each thread its own connection."""
    start = threading.Barrier(min(THREADS, len(bodies)))

    def deliver(body: bytes) -> int:
        try:
            if threading.current_thread().name not in started:
                started.add(threading.current_thread().name)
                start.wait(timeout=30)
            return int(post_webhook(Client(), body).status_code)
        finally:
            connections.close_all()

    started: set[str] = set()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(deliver, bodies))


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_hundred_identical_deliveries_at_once_make_one_message(tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    factories.make_page(channel, page_id=PAGE_ID)
    body = as_bytes(webhook_fixture("message_text"))  # a new customer: contact and conversation race too
    statuses = _deliver_concurrently([body] * 100)
    assert statuses == [200] * 100
    assert Contact.objects.count() == 1
    assert Conversation.objects.count() == 1
    assert Message.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1
    assert Counter(WebhookEvent.objects.values_list("outcome", flat=True)) == {"stored": 1, "duplicate": 99}


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_hundred_messages_at_once_in_one_conversation_all_count(tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    page = factories.make_page(channel, page_id=PAGE_ID)
    factories.make_conversation(page, factories.make_contact(page, psid=PSID))
    bodies = [
        as_bytes(page_body((PAGE_ID, [text_item(mid=f"m_{n}", text=f"message {n}", timestamp=BASE_MS + n)])))
        for n in range(100)
    ]
    statuses = _deliver_concurrently(bodies)
    assert statuses == [200] * 100
    conversation = Conversation.objects.get()
    assert Message.objects.count() == 100
    assert conversation.unread_count == 100
    # Whatever order they were committed in, the latest written is the last message.
    assert conversation.last_message_preview == "message 99"
    assert WebhookEvent.objects.filter(outcome=WebhookOutcome.STORED).count() == 100


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_new_customers_and_known_ones_at_once_each_get_one_conversation(tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    factories.make_page(channel, page_id=PAGE_ID)
    bodies = [
        as_bytes(
            page_body(
                *[(PAGE_ID, [text_item(psid=f"81{c}", mid=f"m_{n}_{c}", timestamp=BASE_MS + n)]) for c in range(5)]
            )
        )
        for n in range(40)
    ]
    statuses = _deliver_concurrently(bodies)
    assert statuses == [200] * 40
    assert Contact.objects.count() == Conversation.objects.count() == 5
    assert sorted(Conversation.objects.values_list("unread_count", flat=True)) == [40] * 5
    assert Message.objects.count() == 200
