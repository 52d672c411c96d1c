"""Routing (page → channel → organization), blocked customers, and the conversation's
inbox fields: one continuous thread per customer, reopened, never moved backwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from messenger.models import (
    Conversation,
    ConversationEvent,
    ConversationState,
    FacebookPage,
    Message,
    PageStatus,
    WebhookEvent,
    WebhookOutcome,
)
from tests import factories
from tests.conftest import Tenant
from tests.messenger.fixtures import (
    BASE_MS,
    PAGE_ID,
    PSID,
    fast_password_hashing,
    page_body,
    post_webhook,
    queued_followups,
    text_item,
    webhook_fixture,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_followups")]
__all__ = ["fast_password_hashing", "queued_followups"]

BASE = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def page(tenant_a: Tenant) -> FacebookPage:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    return factories.make_page(channel, page_id=PAGE_ID)


def send(client: Client, mid: str, *, text: str = "hi", seconds: float = 0, psid: str = PSID) -> None:
    item = text_item(psid=psid, mid=mid, text=text, timestamp=BASE_MS + int(seconds * 1000))
    assert post_webhook(client, page_body((PAGE_ID, [item]))).status_code == 200


def the_conversation() -> Conversation:
    return Conversation.objects.get()


# --- Routing ---------------------------------------------------------------------------------


def test_an_unknown_page_is_recorded_as_ignored(client: Client, tenant_a: Tenant) -> None:
    post_webhook(client, webhook_fixture("message_text"))
    event = WebhookEvent.objects.get()
    assert (event.outcome, event.reason, event.organization_id) == (WebhookOutcome.IGNORED, "unknown_page", None)
    assert not Message.objects.exists()


def test_a_page_that_was_unlinked_no_longer_receives(client: Client, page: FacebookPage) -> None:
    FacebookPage.objects.filter(pk=page.pk).update(unlinked_at=timezone.now())
    post_webhook(client, webhook_fixture("message_text"))
    assert WebhookEvent.objects.get().reason == "unknown_page"
    assert not Message.objects.exists()


def test_a_page_linked_again_receives_on_its_new_linking(client: Client, page: FacebookPage, tenant_a: Tenant) -> None:
    FacebookPage.objects.filter(pk=page.pk).update(unlinked_at=timezone.now())
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger again")
    relinked = factories.make_page(channel, page_id=PAGE_ID)
    post_webhook(client, webhook_fixture("message_text"))
    assert Message.objects.get().page_id == relinked.pk


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"is_enabled": False}, "channel_disabled"), ({"deleted_at": BASE}, "channel_deleted")],
)
def test_a_disabled_or_deleted_channel_drops_its_messages_with_the_reason(
    client: Client, page: FacebookPage, change: dict[str, Any], reason: str
) -> None:
    type(page.channel).objects.filter(pk=page.channel_id).update(**change)
    post_webhook(client, webhook_fixture("message_text"))
    event = WebhookEvent.objects.get()
    # Kept in the organization's log so that an admin can see what was dropped, and why.
    assert (event.outcome, event.reason, event.organization_id) == (
        WebhookOutcome.IGNORED,
        reason,
        page.organization_id,
    )
    assert not Message.objects.exists()
    assert not Conversation.objects.exists()


def test_a_disabled_channel_drops_messages_of_known_customers_too(client: Client, page: FacebookPage) -> None:
    send(client, "m_before")
    type(page.channel).objects.filter(pk=page.channel_id).update(is_enabled=False)
    send(client, "m_after", seconds=1)
    assert list(Message.objects.values_list("mid", flat=True)) == ["m_before"]
    assert WebhookEvent.objects.latest("pk").reason == "channel_disabled"


def test_a_page_awaiting_reauthorization_still_receives(client: Client, page: FacebookPage) -> None:
    FacebookPage.objects.filter(pk=page.pk).update(status=PageStatus.REAUTHORIZATION_REQUIRED)
    post_webhook(client, webhook_fixture("message_text"))
    assert WebhookEvent.objects.get().outcome == WebhookOutcome.STORED
    assert Message.objects.get().is_hidden is False


def test_a_forwarded_conversation_stays_where_it_was_forwarded(
    client: Client, page: FacebookPage, tenant_a: Tenant
) -> None:
    send(client, "m_1")
    elsewhere = factories.make_channel(tenant_a.organization, name="Sales")
    Conversation.objects.update(channel=elsewhere, department=elsewhere.department)
    send(client, "m_2", seconds=1)
    conversation = the_conversation()
    assert (conversation.channel_id, conversation.unread_count) == (elsewhere.pk, 2)


# --- Blocked customers ------------------------------------------------------------------------


def test_a_blocked_customer_is_stored_hidden_and_changes_nothing_in_the_inbox(
    client: Client, page: FacebookPage, queued_followups: Any, django_capture_on_commit_callbacks: Any
) -> None:
    send(client, "m_before", text="before the block")
    conversation = the_conversation()
    conversation.contact.is_blocked = True
    conversation.contact.save(update_fields=["is_blocked"])
    Conversation.objects.update(state=ConversationState.CLOSED, unread_count=0)
    queued_followups.reset_mock()
    with django_capture_on_commit_callbacks(execute=True):
        send(client, "m_blocked", text="spam spam spam", seconds=5)
    hidden = Message.objects.get(mid="m_blocked")
    assert hidden.is_hidden
    event = WebhookEvent.objects.latest("pk")
    assert (event.outcome, event.reason) == (WebhookOutcome.STORED, "contact_blocked")
    conversation.refresh_from_db()
    assert (conversation.state, conversation.unread_count) == (ConversationState.CLOSED, 0)
    assert conversation.last_message_preview == "before the block"
    assert conversation.last_inbound_at == BASE
    queued_followups.assert_not_called()


def test_a_blocked_customer_on_a_new_linking_of_the_page_is_still_hidden(client: Client, page: FacebookPage) -> None:
    factories.make_contact(page, psid=PSID, is_blocked=True)
    send(client, "m_1")
    assert Message.objects.get().is_hidden
    assert the_conversation().unread_count == 0


# --- The conversation: one thread, reopened, monotonic ----------------------------------------


def test_one_customer_keeps_one_conversation(client: Client, page: FacebookPage) -> None:
    send(client, "m_1")
    send(client, "m_2", seconds=1)
    send(client, "m_3", seconds=2, psid="6000000000000002")
    assert Conversation.objects.count() == 2
    assert Conversation.objects.get(contact__psid=PSID).unread_count == 2


def test_a_new_message_reopens_a_closed_conversation(client: Client, page: FacebookPage) -> None:
    send(client, "m_1")
    Conversation.objects.update(state=ConversationState.CLOSED, unread_count=0)
    send(client, "m_2", text="me again", seconds=60)
    conversation = the_conversation()
    assert (conversation.state, conversation.unread_count) == (ConversationState.OPEN, 1)
    event = ConversationEvent.objects.get()
    assert (event.kind, event.conversation_id, event.organization_id) == (
        ConversationEvent.Kind.REOPENED,
        conversation.pk,
        page.organization_id,
    )
    send(client, "m_3", seconds=61)
    assert ConversationEvent.objects.count() == 1


def test_a_reply_made_elsewhere_does_not_reopen_a_closed_conversation(client: Client, page: FacebookPage) -> None:
    send(client, "m_1")
    Conversation.objects.update(state=ConversationState.CLOSED)
    post_webhook(client, webhook_fixture("echo_page_inbox"))
    assert the_conversation().state == ConversationState.CLOSED
    assert not ConversationEvent.objects.exists()


def test_an_older_message_arriving_late_never_moves_the_conversation_back(client: Client, page: FacebookPage) -> None:
    send(client, "m_new", text="the latest", seconds=30)
    send(client, "m_old", text="written first", seconds=10)
    conversation = the_conversation()
    assert conversation.last_message_at == conversation.last_inbound_at == BASE + timedelta(seconds=30)
    assert conversation.last_message_preview == "the latest"
    assert conversation.unread_count == 2
    # Both messages are in the thread, in the order they were written.
    assert list(Message.objects.order_by("sent_at").values_list("mid", flat=True)) == ["m_old", "m_new"]


def test_an_older_message_in_the_same_post_as_a_newer_one(client: Client, page: FacebookPage) -> None:
    body = page_body(
        (PAGE_ID, [text_item(mid="m_new", text="the latest", timestamp=BASE_MS + 30_000)]),
        (PAGE_ID, [text_item(mid="m_old", text="written first", timestamp=BASE_MS + 10_000)]),
    )
    post_webhook(client, body)
    conversation = the_conversation()
    assert conversation.last_message_preview == "the latest"
    assert conversation.last_message_at == BASE + timedelta(seconds=30)


def test_a_timestamp_ahead_of_our_clock_is_capped_at_arrival(client: Client, page: FacebookPage) -> None:
    future_ms = int((timezone.now() + timedelta(hours=2)).timestamp() * 1000)
    before = timezone.now()
    post_webhook(client, page_body((PAGE_ID, [text_item(mid="m_future", timestamp=future_ms)])))
    after = timezone.now()
    message = Message.objects.get()
    assert before <= message.sent_at <= after
    assert the_conversation().last_inbound_at == message.sent_at


def test_a_long_text_is_previewed_on_one_line(client: Client, page: FacebookPage) -> None:
    send(client, "m_long", text="line one\nline two " + "x" * 300)
    preview = the_conversation().last_message_preview
    assert preview.startswith("line one line two x")
    assert len(preview) == 200
