"""Since when the customer waits (Conversation.waiting_since), and what the webhook tells
routing after commit (BatchResult.customer_wrote): on both ways of storing a batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from channels.models import AssignmentMode
from messenger.models import Conversation, ConversationState, FacebookPage
from messenger.services.sending.replies import reply_send
from messenger.webhook.receive import webhook_receive
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
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_followups")]
__all__ = ["fast_password_hashing", "queued_followups"]

BASE = datetime.fromtimestamp(BASE_MS / 1000, tz=UTC)


@pytest.fixture
def page(tenant_a: Tenant) -> FacebookPage:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    factories.associate(tenant_a.agent, channel)
    return factories.make_page(channel, page_id=PAGE_ID)


def customer_writes(client: Client, mid: str, *, seconds: int) -> None:
    item = text_item(mid=mid, timestamp=BASE_MS + seconds * 1000)
    assert post_webhook(client, page_body((PAGE_ID, [item]))).status_code == 200


def page_answers(client: Client, mid: str, *, seconds: int) -> None:
    """A reply typed in Facebook's own inbox: its echo."""
    echo = {
        "sender": {"id": PAGE_ID},
        "recipient": {"id": PSID},
        "timestamp": BASE_MS + seconds * 1000,
        "message": {"is_echo": True, "mid": mid, "text": "We are on it."},
    }
    assert post_webhook(client, page_body((PAGE_ID, [echo]))).status_code == 200


def test_the_customer_waits_from_their_first_unanswered_message(client: Client, page: FacebookPage) -> None:
    customer_writes(client, "m1", seconds=0)  # a new conversation (step by step)
    customer_writes(client, "m2", seconds=60)  # an existing one (the one statement on PostgreSQL)
    assert Conversation.objects.get().waiting_since == BASE


def test_an_answer_from_facebooks_inbox_ends_the_wait_and_the_next_message_starts_one(
    client: Client, page: FacebookPage
) -> None:
    customer_writes(client, "m1", seconds=0)
    page_answers(client, "e1", seconds=30)
    assert Conversation.objects.get().waiting_since is None
    customer_writes(client, "m2", seconds=90)
    assert Conversation.objects.get().waiting_since == BASE + timedelta(seconds=90)


def test_an_answer_older_than_the_wait_delivered_late_does_not_end_it(client: Client, page: FacebookPage) -> None:
    customer_writes(client, "m1", seconds=60)
    page_answers(client, "e0", seconds=0)
    assert Conversation.objects.get().waiting_since == BASE + timedelta(seconds=60)


def _echo(mid: str, *, seconds: int) -> dict[str, Any]:
    return {
        "sender": {"id": PAGE_ID},
        "recipient": {"id": PSID},
        "timestamp": BASE_MS + seconds * 1000,
        "message": {"is_echo": True, "mid": mid, "text": "We are on it."},
    }


@pytest.mark.parametrize("known", [False, True], ids=["new conversation", "existing conversation"])
def test_in_one_post_the_wait_starts_with_the_first_message_after_the_answer(
    client: Client, page: FacebookPage, known: bool
) -> None:
    """A POST of [customer, answer, customer]: the customer waits since their message after
    the answer, as when the three come one POST each (step by step, and the one statement)."""
    if known:
        customer_writes(client, "m0", seconds=0)  # waiting since 0
    items = [
        text_item(mid="m1", timestamp=BASE_MS + 10_000),
        _echo("e1", seconds=20),
        text_item(mid="m2", timestamp=BASE_MS + 30_000),
        text_item(mid="m3", timestamp=BASE_MS + 40_000),
    ]
    assert post_webhook(client, page_body((PAGE_ID, items))).status_code == 200
    assert Conversation.objects.get().waiting_since == BASE + timedelta(seconds=30)


def test_an_agents_reply_ends_the_wait(client: Client, page: FacebookPage, tenant_a: Tenant) -> None:
    customer_writes(client, "m1", seconds=0)
    conversation = Conversation.objects.get()
    conversation.last_inbound_at = timezone.now()
    conversation.save(update_fields=["last_inbound_at"])
    reply_send(
        organization=tenant_a.organization, acting_user=tenant_a.agent.user, conversation=conversation, text="Hi"
    )
    assert Conversation.objects.get().waiting_since is None


def _receive(body: dict[str, Any]) -> Any:
    return webhook_receive(body=body, received_at=timezone.now())


@pytest.mark.parametrize("mode", [AssignmentMode.ROUND_ROBIN, AssignmentMode.OFF])
def test_routing_is_told_of_new_and_reopened_conversations_of_a_channel_that_assigns(
    page: FacebookPage, mode: str
) -> None:
    page.channel.assignment_mode = mode
    page.channel.save(update_fields=["assignment_mode"])
    assigns = mode != AssignmentMode.OFF

    first = _receive(page_body((PAGE_ID, [text_item(mid="m1", timestamp=BASE_MS)])))
    conversation = Conversation.objects.get()
    [wrote] = first.customer_wrote
    assert (wrote.conversation_id, wrote.department_id, wrote.at, wrote.to_assign) == (
        conversation.pk,
        page.channel.department_id,
        BASE,
        assigns,
    )

    again = _receive(page_body((PAGE_ID, [text_item(mid="m2", timestamp=BASE_MS + 1000)])))
    assert [(w.conversation_id, w.to_assign) for w in again.customer_wrote] == [(conversation.pk, False)]

    Conversation.objects.filter(pk=conversation.pk).update(state=ConversationState.CLOSED)
    reopening = _receive(
        page_body(
            (
                PAGE_ID,
                [text_item(mid="m3", timestamp=BASE_MS + 2000), text_item(mid="m4", timestamp=BASE_MS + 3000)],
            )
        )
    )
    assert [(w.conversation_id, w.at, w.to_assign) for w in reopening.customer_wrote] == [
        (conversation.pk, BASE + timedelta(seconds=3), assigns)
    ]


def test_a_blocked_customers_message_tells_routing_nothing(page: FacebookPage) -> None:
    _receive(page_body((PAGE_ID, [text_item(mid="m1", timestamp=BASE_MS)])))
    Conversation.objects.get().contact.__class__.objects.update(is_blocked=True)
    result = _receive(page_body((PAGE_ID, [text_item(mid="m2", timestamp=BASE_MS + 1000)])))
    assert result.customer_wrote == []
