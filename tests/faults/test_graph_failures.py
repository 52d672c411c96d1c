"""The Send API fails: 500s, rate limits (613), timeouts. Each reply must reach the customer
exactly once: counted as the sends the local Graph stub accepted (answered 2xx), whether or
not the worker was still waiting for the answer.

tests/messenger/test_sending.py::test_temporary_failures_are_retried_with_backoff_and_the_message_is_sent_once
covers each kind of failure on its own (500, 503 without a body, 613, a timeout) with its
backoff; here they come one after the other, and a timeout is one Facebook took: only the
echo of the message (its metadata) can tell the worker it must not send it again.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.utils import timezone

from messenger.models import Conversation, Message, MessageStatus
from messenger.services.sending import delivery, replies
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.conftest import Tenant
from tests.faults.conftest import GraphStub, Request
from tests.messenger.fixtures import PAGE_ID, PSID, post_webhook

TOOK_IT = "m_facebook_took_it"


@pytest.fixture
def conversation(tenant_a: Tenant) -> Conversation:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    page = factories.make_page(channel, page_id=PAGE_ID)
    conversation = factories.make_conversation(page, factories.make_contact(page, psid=PSID))
    factories.make_message(conversation, text="where is my parcel?", sent_at=timezone.now() - timedelta(minutes=5))
    return conversation


def queue_reply(tenant: Tenant, conversation: Conversation, text: str = "It left this morning.") -> Message:
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        return replies.message_send(
            organization=tenant.organization, acting_user=tenant.agent.user, conversation=conversation, text=text
        )


def run_task_with_retries(message: Message) -> list[float]:
    """The Celery task, eagerly, its retries following at once; returns their countdowns."""
    task = sending_tasks.send_message
    propagates = task.app.conf.task_eager_propagates
    task.app.conf.task_eager_propagates = False  # else apply() raises Retry instead of retrying
    try:
        with mock.patch.object(task, "retry", wraps=task.retry) as retry:
            task.apply(args=[message.pk])
    finally:
        task.app.conf.task_eager_propagates = propagates
    return [call.kwargs["countdown"] for call in retry.call_args_list]


def echo(message: Message, mid: str) -> dict[str, Any]:
    """The webhook Facebook sends for a message the page sent through this app."""
    return {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": 1767225600900,
                "messaging": [
                    {
                        "sender": {"id": PAGE_ID},
                        "recipient": {"id": PSID},
                        "timestamp": int(timezone.now().timestamp() * 1000),
                        "message": {
                            "is_echo": True,
                            "app_id": int(settings.FB_APP_ID),
                            "metadata": str(message.idempotency_key),
                            "mid": mid,
                            "text": message.text,
                        },
                    }
                ],
            }
        ],
    }


@pytest.mark.django_db
def test_a_500_a_rate_limit_and_a_timeout_in_a_row_are_retried_with_backoff_and_sent_once(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    message = queue_reply(tenant_a, conversation)
    graph.answer(500, {"error": {"message": "An unknown error occurred", "code": 1, "is_transient": True}})
    rate_limited = {"error": {"message": "Calls to this api have exceeded the rate limit.", "code": 613}}
    graph.answer(400, rate_limited, headers={"Retry-After": "30"})
    graph.answer(500, {"error": {"message": "late", "code": 2}}, delay=1.0)  # not taken, and too slow anyway
    graph.answer(200, {"recipient_id": PSID, "message_id": "m_at_last"})

    countdowns = run_task_with_retries(message)

    message.refresh_from_db()
    assert (message.status, message.mid, message.attempts) == (MessageStatus.SENT, "m_at_last", 4)
    # Exponential (10 s, 20 s, 40 s), Facebook's Retry-After when it asks for longer, and a
    # minute after the timeout (the echo of a send Facebook took would settle it meanwhile).
    assert countdowns == [10.0, 30.0, 60.0]
    assert len(graph.sends()) == 4
    assert [body["message"]["text"] for body in graph.accepted()] == ["It left this morning."]
    assert {body["metadata"] for body in graph.sends()} == {str(message.idempotency_key)}


@pytest.mark.django_db
def test_a_send_facebook_took_but_answered_too_late_is_not_sent_again_once_its_echo_arrived(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    message = queue_reply(tenant_a, conversation)
    graph.answer(200, {"recipient_id": PSID, "message_id": TOOK_IT}, delay=1.0)

    # The first try times out: the message waits for its retry, a minute later...
    assert delivery.message_deliver(message_id=message.pk) == delivery.OUTCOME_UNKNOWN_RETRY_SECONDS
    message.refresh_from_db()
    assert (message.status, message.error_code) == (MessageStatus.QUEUED, "graph_timeout")
    # ...meanwhile Facebook's echo carries the message's key back...
    assert post_webhook(Client(), echo(message, TOOK_IT)).status_code == 200
    # ...so the retry finds nothing left to send.
    assert delivery.message_deliver(message_id=message.pk, retries_done=1) is None

    message.refresh_from_db()
    assert (message.status, message.mid, message.error_code) == (MessageStatus.SENT, TOOK_IT, "")
    assert len(graph.sends()) == 1
    assert Message.objects.filter(conversation=conversation, direction="out").count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_echo_arriving_while_the_send_is_still_waiting_settles_it_and_no_retry_sends(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    message = queue_reply(tenant_a, conversation)
    graph.answer(200, {"recipient_id": PSID, "message_id": TOOK_IT}, delay=1.0)

    def echo_before_answering(request: Request) -> None:
        # Facebook delivers the echo webhook before its (slow) answer to the send.
        try:
            assert post_webhook(Client(), json.dumps(echo(message, TOOK_IT)).encode()).status_code == 200
        finally:
            connections.close_all()

    graph.on_send = echo_before_answering
    countdowns = run_task_with_retries(message)

    message.refresh_from_db()
    assert (message.status, message.mid) == (MessageStatus.SENT, TOOK_IT)
    assert countdowns == [60.0]  # the timeout scheduled a retry; it found the message sent
    assert len(graph.sends()) == 1
