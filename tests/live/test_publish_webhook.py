"""The webhook tells the pages what it changed, after commit: a new conversation, a customer's
message, an echo, delivery and read ticks, reactions and edits, on both ways of storing a
batch; addressed to the conversation's own channel, with its assignee; one Redis call per
organization for a POST."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from django.test import Client

from messenger.models import Direction, MessageSource, MessageStatus
from messenger.webhook import receive
from tests import factories
from tests.conftest import Tenant
from tests.live.capture import Published, published
from tests.messenger.fixtures import (
    FIRST_MID,
    OTHER_PAGE_ID,
    OWN_ECHO_METADATA,
    PAGE_ID,
    PSID,
    page_body,
    post_webhook,
    queued_followups,
    text_item,
    webhook_fixture,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_followups")]
__all__ = ["published", "queued_followups"]


@pytest.fixture
def world(tenant_a: Tenant) -> dict[str, Any]:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel, page_id=PAGE_ID)
    contact = factories.make_contact(page, psid=PSID)
    conversation = factories.make_conversation(page, contact, assignee=tenant_a.agent.user)
    factories.make_message(conversation, mid=FIRST_MID, sent_at=datetime(2025, 12, 31, tzinfo=UTC))
    return {"channel": channel, "page": page, "conversation": conversation, "agent": tenant_a.agent}


def _post(client: Client, body: dict[str, Any], capture: Any) -> None:
    with capture(execute=True):
        assert post_webhook(client, body).status_code == 200


@pytest.mark.parametrize("one_statement", [True, False], ids=["one statement", "step by step"])
def test_a_customer_message_in_a_known_conversation_is_told_to_its_channel_with_its_assignee(
    client: Client,
    world: dict[str, Any],
    published: Published,
    django_capture_on_commit_callbacks: Any,
    one_statement: bool,
) -> None:
    with (
        mock.patch.object(receive, "one_statement_applies", autospec=True, return_value=False)
        if not (one_statement)
        else mock.MagicMock()
    ):
        _post(client, page_body((PAGE_ID, [text_item(mid="m_new")])), django_capture_on_commit_callbacks)
    conversation = world["conversation"]
    [event] = published.events
    assert event.kind == "conversation"
    assert event.organization_id == conversation.organization_id
    assert event.channel_id == world["channel"].pk
    assert event.department_id is None and event.user_id is None
    assert event.data == {
        "conversation": conversation.pk,
        "what": "customer_message",
        "assignee": world["agent"].user_id,
    }
    assert event.topics == ("conversations", f"conversation:{conversation.pk}")


def test_a_new_customer_makes_a_created_event_and_nothing_is_told_before_commit(
    client: Client, world: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert (
            post_webhook(client, page_body((PAGE_ID, [text_item(psid="6000000000000777", mid="m_first")]))).status_code
            == 200
        )
    assert published.events == []  # not yet committed
    for callback in callbacks:
        callback()
    [event] = published.events
    assert event.data["what"] == "created" and event.data["assignee"] is None
    assert event.channel_id == world["channel"].pk
    assert event.data["conversation"] != world["conversation"].pk


def test_a_conversation_forwarded_elsewhere_is_told_to_its_own_channel(
    client: Client,
    world: dict[str, Any],
    tenant_a: Tenant,
    published: Published,
    django_capture_on_commit_callbacks: Any,
) -> None:
    elsewhere = factories.make_channel(tenant_a.organization, tenant_a.department, name="Billing")
    conversation = world["conversation"]
    type(conversation).objects.filter(pk=conversation.pk).update(channel=elsewhere)
    _post(client, page_body((PAGE_ID, [text_item(mid="m_new")])), django_capture_on_commit_callbacks)
    assert published.conversations() == [(conversation.pk, "customer_message", elsewhere.pk)]


def test_echoes_receipts_reactions_and_edits_are_told(
    client: Client, world: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = world["conversation"]
    pk = conversation.pk
    factories.make_message(
        conversation,
        mid=None,
        text="Your parcel left",
        direction=Direction.OUTBOUND,
        source=MessageSource.AGENT,
        status=MessageStatus.SENDING,
        idempotency_key=uuid.UUID(OWN_ECHO_METADATA),
        sent_at=datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC),
    )
    expected = [
        ("echo_own_app", "status"),  # our own message confirmed: its tick
        ("echo_other_app", "agent_message"),  # an answer sent outside the helpdesk
        ("read", "status"),
        ("reaction_react", "reaction"),
        ("message_edit", "edit"),
    ]
    for fixture, what in expected:
        published.clear()
        _post(client, webhook_fixture(fixture), django_capture_on_commit_callbacks)
        assert published.conversations() == [(pk, what, world["channel"].pk)], fixture
        assert published.events[0].data["assignee"] == world["agent"].user_id
    # The same receipt again changes nothing: nothing is told.
    published.clear()
    _post(client, webhook_fixture("read"), django_capture_on_commit_callbacks)
    assert published.events == []


def test_a_post_makes_one_redis_call_per_organization(
    client: Client,
    world: dict[str, Any],
    tenant_b: Tenant,
    published: Published,
    django_capture_on_commit_callbacks: Any,
) -> None:
    other = factories.make_page(
        factories.make_channel(tenant_b.organization, tenant_b.department), page_id=OTHER_PAGE_ID
    )
    body = page_body(
        (PAGE_ID, [text_item(mid="m_1"), text_item(mid="m_2"), text_item(psid="6000000000000778", mid="m_3")]),
        (OTHER_PAGE_ID, [text_item(page_id=OTHER_PAGE_ID, psid="6000000000000779", mid="m_4")]),
    )
    _post(client, body, django_capture_on_commit_callbacks)
    # One flush for the POST (live.bus sends it with one script call per organization).
    [events] = published.batches
    assert {(e.organization_id, e.data["what"]) for e in events} == {
        (world["channel"].organization_id, "customer_message"),
        (world["channel"].organization_id, "created"),
        (other.organization_id, "created"),
    }
    # Two messages of one conversation are one event.
    assert [e.data["what"] for e in events].count("customer_message") == 1
