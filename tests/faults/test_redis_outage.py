"""Redis (the Celery broker and the cache) stops while webhooks arrive and agents work.

A real redis-server of the test's own is killed and started again, empty: what was queued
in it before the outage is lost with it, as with a Redis that does not persist. Nothing the
customers or the agents wrote may be lost: every webhook is answered 200 and stored, every
message is in the conversations API once Redis is back, and the periodic catch-up does the
follow-ups (profile lookups, new-conversation notices) that could not be queued.

tests/messenger/test_webhook_followups.py::test_when_the_broker_is_down_messages_are_stored_and_the_catch_up_does_the_rest
covers the same path with `delay` patched to raise; this file stops a real server.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from helpdesk.models import Notification
from messenger import tasks
from messenger.models import Contact, Conversation, FacebookPage, Message, MessageStatus, WebhookEvent
from messenger.services.sending import recovery
from messenger.tasks import sending as sending_tasks
from messenger.webhook import followups
from messenger.webhook.followups import followups_catch_up, followups_run
from tests import factories
from tests.conftest import Tenant, api_client_for
from tests.faults.conftest import GraphStub, RedisServer
from tests.messenger.fixtures import BASE_MS, PAGE_ID, page_body, post_webhook, text_item

pytestmark = pytest.mark.django_db

ALICE, BOB, CAROL = "6100000000000001", "6100000000000002", "6100000000000003"


@pytest.fixture
def page(tenant_a: Tenant) -> FacebookPage:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    factories.associate(tenant_a.agent, channel)
    return factories.make_page(channel, page_id=PAGE_ID)


@pytest.fixture
def deliver(client: Client, django_capture_on_commit_callbacks: Any) -> Any:
    """POST one customer message and run what it leaves for after commit, as in production."""

    def post(psid: str, mid: str, text: str, offset: int = 0) -> None:
        body = page_body((PAGE_ID, [text_item(psid=psid, mid=mid, text=text, timestamp=BASE_MS + offset)]))
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(client, body)
        assert response.status_code == 200, response.content

    return post


def api_texts(client: Any, conversation: Conversation) -> set[str]:
    response = client.get(f"/api/v1/conversations/{conversation.pk}/messages/")
    assert response.status_code == 200, response.content
    return {row["text"] for row in response.json()["results"]}


def test_webhooks_during_a_redis_outage_are_all_stored_and_followed_up_once_it_is_back(
    redis_server: RedisServer, graph: GraphStub, page: FacebookPage, tenant_a: Tenant, deliver: Any
) -> None:
    graph.profiles = {ALICE: {"first_name": "Alice"}, BOB: {"first_name": "Bob"}, CAROL: {"first_name": "Carol"}}
    publish = mock.patch.object(tasks.webhook_followups, "delay", wraps=tasks.webhook_followups.delay)  # a spy
    with publish as delay:
        deliver(ALICE, "m_alice_1", "before the outage")
        assert [task["task"] for task in redis_server.queued()] == ["messenger.webhook.followups"]

        redis_server.stop()
        deliver(BOB, "m_bob_1", "during the outage")
        deliver(CAROL, "m_carol_1", "me too", offset=1)
        deliver(ALICE, "m_alice_2", "still there?", offset=2)
        deliver(BOB, "m_bob_2", "hello?", offset=3)
        # One try at the broker, then the POSTs stop waiting for it for a while.
        assert delay.call_count == 2

    redis_server.start()  # empty: the follow-up queued before the outage is gone
    assert Message.objects.count() == 5
    assert WebhookEvent.objects.filter(outcome="stored").count() == 5
    assert redis_server.queued() == []
    # Every message is there for the agents, with the fallback name until the profile comes.
    agent = api_client_for(tenant_a.agent)
    listed = agent.get("/api/v1/conversations/").json()["results"]
    assert len(listed) == 3
    by_psid = {c.contact.psid: c for c in Conversation.objects.select_related("contact")}
    assert api_texts(agent, by_psid[ALICE]) == {"before the outage", "still there?"}
    assert api_texts(agent, by_psid[BOB]) == {"during the outage", "hello?"}
    assert api_texts(agent, by_psid[CAROL]) == {"me too"}
    assert not Notification.objects.exists()

    # The every-minute job, a minute later: profiles and notices that were never queued.
    later = timezone.now() + followups.CATCH_UP_AFTER + timedelta(seconds=1)
    assert followups_catch_up(now=later) == (3, 3)
    assert set(Contact.objects.values_list("display_name", flat=True)) == {"Alice", "Bob", "Carol"}
    for member in (tenant_a.agent, tenant_a.admin):
        notices = Notification.objects.filter(user=member.user, kind=Notification.Kind.NEW_CONVERSATION)
        assert sorted(n.title for n in notices) == [
            f"New conversation with {name}" for name in ("Alice", "Bob", "Carol")
        ]
    profile_lookups = len(graph.requests)
    assert profile_lookups == 3

    # Run again, or the lost task delivered after all (a Redis that kept it): nothing more.
    assert followups_catch_up(now=later) == (0, 0)
    alice = by_psid[ALICE]
    followups_run(contact_ids=[alice.contact_id], conversation_ids=[alice.pk])
    assert len(graph.requests) == profile_lookups
    assert Notification.objects.count() == 6

    # The broker takes work again.
    followups.broker_pause_reset()
    deliver("6100000000000004", "m_dave_1", "after the outage", offset=4)
    assert [task["task"] for task in redis_server.queued()] == ["messenger.webhook.followups"]


def test_an_agent_keeps_working_while_redis_is_down_and_the_reply_is_sent_once_it_is_back(
    redis_server: RedisServer,
    graph: GraphStub,
    page: FacebookPage,
    tenant_a: Tenant,
    web_client_for: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    conversation = factories.make_conversation(page, factories.make_contact(page, psid=ALICE))
    factories.make_message(conversation, text="hello?", sent_at=timezone.now() - timedelta(minutes=5))
    agent = api_client_for(tenant_a.agent)
    inbox = web_client_for(tenant_a.agent)
    base = f"/o/{tenant_a.organization.slug}/inbox/{conversation.pk}"

    redis_server.stop()
    # Signing in counts failures in the cache: without it, sign-in still works.
    login = Client().post("/accounts/login/", {"username": "alpha-agent", "password": factories.PASSWORD})
    assert (login.status_code, login.headers.get("Location")) == (302, "/")
    with django_capture_on_commit_callbacks(execute=True):
        # The composer tells Facebook the agent is typing (throttled in the cache)...
        assert inbox.post(f"{base}/typing/").status_code == 204
        # ...and the reply is accepted although its task cannot be queued.
        reply = agent.post(f"/api/v1/conversations/{conversation.pk}/messages/", {"text": "On it!"}, format="json")
    assert reply.status_code == 202, reply.content
    assert inbox.get(f"{base}/").status_code == 200
    message = Message.objects.get(pk=reply.json()["id"])
    assert message.status == MessageStatus.QUEUED

    assert message.dispatch_failed_at is not None

    redis_server.start()
    # The sweep's next run (every 20 seconds) publishes at once what could not be queued...
    with django_capture_on_commit_callbacks(execute=True):
        assert recovery.message_sweep(now=timezone.now() + timedelta(seconds=1)) == (0, [message.pk])
    queued = redis_server.queued("sending")
    assert [(task["task"], task["argsrepr"]) for task in queued] == [(sending_tasks.SEND_MESSAGE, f"({message.pk},)")]
    # ...and the worker sends it, once, however many copies of the task run.
    sending_tasks.send_message.apply(args=[message.pk])
    sending_tasks.send_message.apply(args=[message.pk])
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert [body["message"]["text"] for body in graph.sends()] == ["On it!"]
