# The sandbox fixtures are imported from tests.channels.facebook; their names are parameters below.
# ruff: noqa: F811
"""A note written on the ticket page never reaches Facebook, proven against the Graph sandbox
over real HTTP (as tests/messenger/test_notes_never_sent.py for the inbox): after a note and a
reply from the ticket page and every sending path (the queued tasks, the outbox sweep), the
sandbox's record of Send API calls holds the reply alone."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from messenger.models import Contact, Conversation, Message, MessageStatus, Note
from messenger.sandbox import customers, people, selectors
from messenger.services.sending import delivery, recovery
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.channels.facebook import DEMO_PAGE, Facebook, facebook  # noqa: F401 (fixture)
from tests.conftest import Tenant
from tickets.services import ticket_create_from_conversation

NOTE = "Internal: refunded once already, check with the manager first"
REPLY = "Thanks, a replacement leaves today."


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.django_db(transaction=True)
def test_a_note_from_the_ticket_page_is_never_sent_to_facebook_while_a_reply_is(
    facebook: Facebook, tenant_a: Tenant, web_client_for: Any
) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Demo Messenger")
    factories.associate(tenant_a.agent, channel)
    factories.make_page(channel, page_id=DEMO_PAGE, token=people.sandbox_page_token_issue(page_id=DEMO_PAGE))
    customer = customers.sandbox_customer_create(page_id=DEMO_PAGE, first_name="Hana", last_name="Sato")
    assert (
        customers.sandbox_customer_message(page_id=DEMO_PAGE, psid=customer.psid, text="It came broken")["status"]
        == 200
    )
    conversation = Conversation.objects.get(contact=Contact.objects.get(psid=customer.psid))
    ticket = ticket_create_from_conversation(
        organization=tenant_a.organization,
        acting_user=tenant_a.agent.user,
        membership=tenant_a.agent,
        conversation_id=conversation.pk,
    )
    url = f"/o/alpha/tickets/{ticket.pk}/"
    client = web_client_for(tenant_a.agent)

    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True) as queued:
        assert client.post(f"{url}notes/", {"text": NOTE}).status_code == 302
        assert client.post(f"{url}reply/", {"text": REPLY}).status_code == 302
        _failed, swept = recovery.message_sweep(now=timezone.now() + timedelta(days=1))

    assert Note.objects.filter(conversation=conversation, body=NOTE).exists()
    for message_id in {call.args[0] for call in queued.call_args_list} | set(swept):
        assert delivery.message_deliver(message_id=message_id) is None
    assert Message.objects.get(conversation=conversation, text=REPLY).status == MessageStatus.SENT

    calls = selectors.sandbox_sent_messages(page_id=DEMO_PAGE, psid=customer.psid)
    sent = [call.request_body for call in calls if call.request_body.get("message")]
    assert [body["message"] for body in sent] == [{"text": REPLY}]
    assert all(NOTE not in json.dumps(call.request_body) for call in calls)
    assert not Message.objects.filter(conversation=conversation, text=NOTE).exists()
    # The ticket's thread shows the note as a note.
    page = client.get(url).content.decode()
    assert NOTE in page and "Note · only your team sees this" in page
