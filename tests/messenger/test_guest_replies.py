# The sandbox fixtures are imported from tests.channels.facebook; their names are parameters below.
# ruff: noqa: F811
"""Replying to a guest of the page's chat plugin, who writes as `sender.user_ref` with no
PSID: end to end over real HTTP, the sandbox playing Facebook (`live_server`), the product's
own webhook receiving what the sandbox sends, and the real Graph client sending."""

from __future__ import annotations

from typing import Any

import pytest

from messenger.client import graph_client
from messenger.graph import NoMatchingUserError
from messenger.models import Contact, Conversation, Direction, Message, MessageStatus
from messenger.sandbox import customers, people, selectors, webhooks
from messenger.sandbox.models import SandboxCustomer
from messenger.services.sending import delivery, replies
from tests import factories
from tests.channels.facebook import DEMO_PAGE, Facebook, facebook  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def guest(facebook: Facebook, tenant_a: Tenant, settings: Any) -> SandboxCustomer:
    """A chat-plugin guest who wrote to the Demo Page, linked to organization A's channel."""
    settings.SANDBOX_WEBHOOK_URL = f"{facebook.url}/webhooks/messenger/"
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Website chat")
    factories.make_page(channel, page_id=DEMO_PAGE, token=people.sandbox_page_token_issue(page_id=DEMO_PAGE))
    customer = customers.sandbox_customer_create(page_id=DEMO_PAGE, first_name="Web", last_name="Guest", is_guest=True)
    written = customers.sandbox_customer_message(
        page_id=DEMO_PAGE, psid=customer.psid, text="Hello from your website", webhook_url=settings.SANDBOX_WEBHOOK_URL
    )
    assert written["payload"]["entry"][0]["messaging"][0]["sender"] == {"user_ref": customer.psid}
    assert written["status"] == 200
    return customer


def _conversation(guest: SandboxCustomer) -> Conversation:
    contact = Contact.objects.get(psid=guest.psid)
    assert contact.is_guest
    return Conversation.objects.get(contact=contact)


def test_an_agents_reply_reaches_a_chat_plugin_guest_by_user_ref(guest: SandboxCustomer, tenant_a: Tenant) -> None:
    conversation = _conversation(guest)
    message = replies.message_send(
        organization=tenant_a.organization, acting_user=tenant_a.admin.user, conversation=conversation, text="Hi there!"
    )
    assert delivery.message_deliver(message_id=message.pk) is None

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.mid.startswith("m_")
    [call] = selectors.sandbox_sent_messages(page_id=DEMO_PAGE, psid=guest.psid)
    assert call.succeeded and call.to_user_ref
    assert call.request_body["recipient"] == {"user_ref": guest.psid}
    assert (call.text, call.metadata) == ("Hi there!", str(message.idempotency_key))
    # As Facebook does for user_ref recipients, the answer carries no recipient_id.
    assert "recipient_id" not in call.response and call.response["message_id"] == message.mid

    # The echo and the delivery name the guest by user_ref too; the product recognises both.
    assert webhooks.outbound_flush() == 2
    outbound = Message.objects.filter(conversation=conversation, direction=Direction.OUTBOUND)
    assert list(outbound.values_list("pk", "status")) == [(message.pk, MessageStatus.DELIVERED)]


def test_typing_and_seen_indicators_are_not_sent_to_a_guest(guest: SandboxCustomer) -> None:
    # Facebook shows sender actions only to a recipient who is signed in; a guest is not.
    conversation = _conversation(guest)
    assert delivery.sender_action_deliver(conversation_id=conversation.pk, action="mark_seen") is False
    assert delivery.sender_action_deliver(conversation_id=conversation.pk, action="typing_on") is False
    assert selectors.sandbox_sent_messages(page_id=DEMO_PAGE, psid=guest.psid) == []


def test_the_sandbox_keeps_user_refs_and_psids_apart(guest: SandboxCustomer) -> None:
    client = graph_client()
    token = people.sandbox_page_token_issue(page_id=DEMO_PAGE)
    with pytest.raises(NoMatchingUserError):
        client.send_message(
            page_id=DEMO_PAGE, page_token=token, recipient_psid=guest.psid, message={"text": "by the wrong name"}
        )
    result = client.send_message(
        page_id=DEMO_PAGE, page_token=token, recipient_user_ref=guest.psid, message={"text": "by user_ref"}
    )
    assert result.recipient_id is None and result.message_id.startswith("m_")
    # Sender actions by user_ref are accepted and recorded (the product just does not send them).
    client.send_sender_action(page_id=DEMO_PAGE, page_token=token, recipient_user_ref=guest.psid, action="mark_seen")
    calls = selectors.sandbox_sent_messages(page_id=DEMO_PAGE, psid=guest.psid)
    assert [(c.http_status, c.to_user_ref, c.sender_action) for c in calls] == [
        (400, False, ""),
        (200, True, ""),
        (200, True, "mark_seen"),
    ]


def test_the_graph_client_wants_exactly_one_kind_of_recipient(facebook: Facebook) -> None:
    client = graph_client()
    with pytest.raises(ValueError, match="exactly one"):
        client.send_message(page_id=DEMO_PAGE, page_token="t", message={"text": "x"})
    with pytest.raises(ValueError, match="exactly one"):
        client.send_sender_action(
            page_id=DEMO_PAGE, page_token="t", recipient_psid="1", recipient_user_ref="r", action="mark_seen"
        )
