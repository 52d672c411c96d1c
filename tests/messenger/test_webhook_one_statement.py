"""The one statement (messenger.webhook.one_statement) decides as the step-by-step path does.

Each scenario is played twice on fresh data: once as it runs (one statement when every
message's conversation exists), once with that path turned off. What is stored — messages,
conversations, the system lines, the event log with outcomes, reasons and organizations —
must be the same.
"""

from __future__ import annotations

import copy
from typing import Any
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messenger.models import Conversation, ConversationEvent, ConversationState, Message, WebhookEvent
from messenger.webhook import receive
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

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("queued_followups"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement path is PostgreSQL's"),
]
__all__ = ["fast_password_hashing", "queued_followups"]

DISABLED_PAGE, DELETED_PAGE, UNKNOWN_PAGE = "104000000000002", "104000000000003", "104000000000009"
BLOCKED, CLOSED = "6000000000000002", "6000000000000003"


def _world(tenant: Tenant, *, language: str = "en") -> None:
    organization = tenant.organization
    type(organization).objects.filter(pk=organization.pk).update(language=language)
    live = factories.make_page(factories.make_channel(organization, tenant.department), page_id=PAGE_ID)
    for psid, fields in ((PSID, {}), (BLOCKED, {"is_blocked": True}), (CLOSED, {})):
        contact = factories.make_contact(live, psid=psid, **fields)
        state = ConversationState.CLOSED if psid == CLOSED else ConversationState.OPEN
        factories.make_conversation(live, contact, state=state)
    disabled = factories.make_channel(organization, factories.make_department(organization), is_enabled=False)
    disabled_page = factories.make_page(disabled, page_id=DISABLED_PAGE)
    factories.make_conversation(disabled_page, factories.make_contact(disabled_page, psid=PSID))
    deleted = factories.make_channel(organization, factories.make_department(organization), deleted_at=timezone.now())
    factories.make_page(deleted, page_id=DELETED_PAGE)


def _stored() -> dict[str, Any]:
    return {
        "messages": sorted(
            Message.objects.values_list(
                "page__page_id", "mid", "direction", "source", "kind", "status", "text", "sent_at", "is_hidden"
            )
        ),
        "conversations": sorted(
            Conversation.objects.values_list(
                "contact__psid", "state", "unread_count", "last_message_preview", "last_message_at", "last_inbound_at"
            )
        ),
        "system lines": sorted(ConversationEvent.objects.values_list("conversation__contact__psid", "kind")),
        "log": list(
            WebhookEvent.objects.order_by("pk").values_list(
                "page_id", "kind", "mid", "outcome", "reason", "organization"
            )
        ),
    }


_REAL_APPLIES = receive.one_statement_applies


def _play(tenant: Tenant, body: dict[str, Any], *, one_statement: bool, language: str = "en") -> tuple[Any, int]:
    """On fresh data (rolled back afterwards), the body twice (a redelivery): what is stored,
    and the queries of the first delivery."""
    applies = _REAL_APPLIES if one_statement else (lambda events: False)
    with transaction.atomic():
        _world(tenant, language=language)
        client = Client()
        with mock.patch.object(receive, "one_statement_applies", side_effect=applies):
            # PostgreSQL prepares the statement once per connection: not counted below.
            warm_up = page_body(_items(UNKNOWN_PAGE, text_item(page_id=UNKNOWN_PAGE, mid="m_warm_up")))
            assert post_webhook(client, warm_up).status_code == 200
            with CaptureQueriesContext(connection) as queries:
                assert post_webhook(client, copy.deepcopy(body)).status_code == 200
            first_delivery_queries = len(queries)
            assert post_webhook(client, copy.deepcopy(body)).status_code == 200
        stored = _stored()
        transaction.set_rollback(True)
    return stored, first_delivery_queries


def _both_ways(tenant: Tenant, body: dict[str, Any], **kwargs: Any) -> tuple[dict[str, Any], int]:
    step_by_step, _ = _play(tenant, body, one_statement=False, **kwargs)
    one_statement, queries = _play(tenant, body, one_statement=True, **kwargs)
    assert one_statement == step_by_step
    return one_statement, queries


def _items(page_id: str, *items: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    return (page_id, list(items))


def test_a_mixed_batch_is_routed_stored_and_logged_alike_in_one_statement(tenant_a: Tenant) -> None:
    unknown_kind = webhook_fixture("unknown_kind")["entry"][0]["messaging"][0]
    body = page_body(
        _items(PAGE_ID, text_item(mid="m_1", text="first", timestamp=BASE_MS + 2)),
        _items(PAGE_ID, text_item(mid="m_0", text="earlier, arriving later", timestamp=BASE_MS + 1)),
        _items(PAGE_ID, text_item(mid="m_1", text="first", timestamp=BASE_MS + 2)),  # again in the same POST
        _items(PAGE_ID, text_item(psid=BLOCKED, mid="m_blocked")),
        _items(PAGE_ID, text_item(psid=CLOSED, mid="m_reopens")),
        _items(PAGE_ID, unknown_kind),
        _items(DISABLED_PAGE, text_item(page_id=DISABLED_PAGE, mid="m_disabled")),
        _items(DELETED_PAGE, text_item(page_id=DELETED_PAGE, mid="m_deleted")),
        _items(UNKNOWN_PAGE, text_item(page_id=UNKNOWN_PAGE, mid="m_unknown")),
    )
    stored, queries = _both_ways(tenant_a, body)
    # The savepoint around it (the test's transaction), the statement itself, and page health's
    # counter of the pages' events (messenger.pages.health, one statement). The endpoints that
    # want the customers' messages (outgoing webhooks; none here) were read by the step-by-step
    # run, and are kept in the cache since.
    assert queries == 4
    outcomes = {(mid, outcome, reason) for _page, _kind, mid, outcome, reason, _org in stored["log"]}
    assert {
        ("m_1", "stored", ""),
        ("m_1", "duplicate", ""),
        ("m_blocked", "stored", "contact_blocked"),
        ("m_disabled", "ignored", "channel_disabled"),
        ("m_deleted", "ignored", "channel_deleted"),
        ("m_unknown", "ignored", "unknown_page"),
    } <= outcomes
    assert ("m_1", "duplicate", "") in outcomes
    assert (CLOSED, ConversationEvent.Kind.REOPENED) in stored["system lines"]
    assert {psid: preview for psid, _s, _u, preview, _at, _in in stored["conversations"]}[PSID] == "first"


def test_a_photo_is_previewed_in_the_organizations_language(tenant_a: Tenant) -> None:
    stored, _ = _both_ways(tenant_a, webhook_fixture("message_image"), language="ja")
    preview = {psid: preview for psid, _s, _u, preview, _at, _in in stored["conversations"]}[PSID]
    assert preview and preview != "Photo"


def test_standby_messages_and_replies_made_in_facebooks_inbox_alike(tenant_a: Tenant) -> None:
    standby = webhook_fixture("standby_message")["entry"][0]["standby"][0]
    echo = webhook_fixture("echo_page_inbox")["entry"][0]["messaging"][0]
    body = {
        "object": "page",
        "entry": [
            {"id": PAGE_ID, "time": BASE_MS, "standby": [standby]},
            {"id": PAGE_ID, "time": BASE_MS, "messaging": [echo]},
        ],
    }
    stored, _ = _both_ways(tenant_a, body)
    assert ("standby" in {reason for *_rest, reason, _org in stored["log"]}) is True
    assert {direction for _p, _m, direction, *_rest in stored["messages"]} == {"in", "out"}


def test_a_new_customer_takes_the_step_by_step_path_and_nothing_is_written_twice(tenant_a: Tenant) -> None:
    body = page_body(
        _items(PAGE_ID, text_item(mid="m_known")),
        _items(PAGE_ID, text_item(psid="6000000000000099", mid="m_new_customer")),
    )
    stored, _ = _both_ways(tenant_a, body)
    assert [mid for _p, mid, *_rest in stored["messages"]] == ["m_known", "m_new_customer"]
    outcomes = [outcome for _p, _k, mid, outcome, _r, _o in stored["log"] if mid != "m_warm_up"]
    assert outcomes == ["stored", "stored", "duplicate", "duplicate"]


def test_the_one_statement_answers_what_each_event_became(tenant_a: Tenant) -> None:
    _world(tenant_a)
    body = page_body(
        _items(PAGE_ID, text_item(mid="m_a")),
        _items(UNKNOWN_PAGE, text_item(page_id=UNKNOWN_PAGE, mid="m_b")),
    )
    result = receive.webhook_receive(body=body, received_at=timezone.now())
    assert [(o.outcome, o.reason, o.organization_id) for o in result.outcomes] == [
        ("stored", "", tenant_a.organization.pk),
        ("ignored", "unknown_page", None),
    ]
