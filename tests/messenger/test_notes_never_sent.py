# The sandbox fixtures are imported from tests.channels.facebook; their names are parameters below.
# ruff: noqa: F811
"""A note never reaches Facebook, proven end to end against the Graph sandbox over real HTTP:
the sandbox records every Send API call it gets, and after a note and a reply and every
sending path the product has (the queued tasks, the outbox sweep), it holds the reply alone."""

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

NOTE = "Internal: this customer asked for a refund last month (do not mention it)"
REPLY = "Thanks, your parcel left our warehouse today."


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.django_db(transaction=True)
def test_a_note_is_never_sent_to_facebook_while_a_reply_is(
    facebook: Facebook, tenant_a: Tenant, web_client_for: Any
) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Demo Messenger")
    factories.associate(tenant_a.agent, channel)
    factories.make_page(channel, page_id=DEMO_PAGE, token=people.sandbox_page_token_issue(page_id=DEMO_PAGE))
    customer = customers.sandbox_customer_create(page_id=DEMO_PAGE, first_name="Hana", last_name="Sato")
    assert (
        customers.sandbox_customer_message(page_id=DEMO_PAGE, psid=customer.psid, text="Where is it?")["status"] == 200
    )
    conversation = Conversation.objects.get(contact=Contact.objects.get(psid=customer.psid))
    url = f"/o/alpha/inbox/{conversation.pk}/"
    client = web_client_for(tenant_a.agent)

    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True) as queued:
        assert client.post(f"{url}notes/", {"text": NOTE}, HTTP_HX_REQUEST="true").status_code == 200
        assert client.post(f"{url}send/", {"text": REPLY}, HTTP_HX_REQUEST="true").status_code == 200
        # The outbox: whatever is still queued, however long ago, goes out again.
        _failed, swept = recovery.message_sweep(now=timezone.now() + timedelta(days=1))

    assert Note.objects.filter(conversation=conversation, body=NOTE).exists()
    # Every send the product asked for, by the task and by the sweep, is run against the sandbox.
    for message_id in {call.args[0] for call in queued.call_args_list} | set(swept):
        assert delivery.message_deliver(message_id=message_id) is None
    reply = Message.objects.get(conversation=conversation, text=REPLY)
    assert reply.status == MessageStatus.SENT

    calls = selectors.sandbox_sent_messages(page_id=DEMO_PAGE, psid=customer.psid)
    sent = [call.request_body for call in calls if call.request_body.get("message")]
    assert [body["message"] for body in sent] == [{"text": REPLY}]
    assert all(NOTE not in json.dumps(call.request_body) for call in calls)
    # Nor is it a message of the conversation the customer could ever be sent.
    assert not Message.objects.filter(conversation=conversation, text=NOTE).exists()
