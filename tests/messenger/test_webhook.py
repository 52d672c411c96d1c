"""The receiver: Facebook's handshake, the signature over the raw bytes, body limits, the
answer only after commit (503 when the database is down), and a pinned query count."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError, connection, connections
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messenger.models import Conversation, Message, WebhookEvent, WebhookOutcome
from messenger.webhook import apply, receive
from messenger.webhook.receive import webhook_events_retry_pending
from messenger.webhook.signature import signature_for, signature_is_valid
from messenger.webhook.views import messenger_webhook
from tests import factories
from tests.conftest import Tenant
from tests.messenger.fixtures import (
    BASE_MS,
    PAGE_ID,
    WEBHOOK_URL,
    fast_password_hashing,
    page_body,
    post_webhook,
    queued_followups,
    text_item,
    webhook_fixture,
    webhook_fixture_bytes,
)

pytestmark = pytest.mark.usefixtures("queued_followups")
__all__ = ["fast_password_hashing", "queued_followups"]


@pytest.fixture
def page(tenant_a: Tenant) -> Any:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    return factories.make_page(channel, page_id=PAGE_ID)


# --- GET: the verification handshake -----------------------------------------------------


def test_the_handshake_echoes_the_challenge_when_the_verify_token_matches(client: Client, settings: Any) -> None:
    settings.FB_VERIFY_TOKEN = "let-me-in"
    response = client.get(
        WEBHOOK_URL, {"hub.mode": "subscribe", "hub.verify_token": "let-me-in", "hub.challenge": "1158201444"}
    )
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "let-me-in", "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
def test_the_handshake_is_refused_otherwise(client: Client, settings: Any, params: dict[str, str]) -> None:
    settings.FB_VERIFY_TOKEN = "let-me-in"
    response = client.get(WEBHOOK_URL, params)
    assert response.status_code == 403
    assert b"1" not in response.content


def test_other_methods_are_not_allowed(client: Client) -> None:
    assert client.put(WEBHOOK_URL, b"{}", content_type="application/json").status_code == 405


# --- POST: signature, format, size ---------------------------------------------------------


def test_the_signature_is_an_hmac_of_the_raw_bytes() -> None:
    raw = webhook_fixture_bytes("reaction_react")
    assert b"\\u2764" in raw  # Facebook escapes non-ASCII characters
    header = signature_for(raw, "s3cret")
    assert signature_is_valid(raw, header, "s3cret")
    assert signature_is_valid(raw, header.upper().replace("SHA256=", "sha256="), "s3cret")
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    assert not signature_is_valid(reserialised, header, "s3cret")
    assert not signature_is_valid(raw, header, "another-secret")
    assert not signature_is_valid(raw, header.replace("sha256=", "sha1="), "s3cret")
    assert not signature_is_valid(raw, None, "s3cret")


@pytest.mark.django_db
@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "sha1=abcdef", "garbage"])
def test_a_post_without_a_valid_signature_is_refused_and_nothing_is_stored(
    client: Client, page: Any, signature: str
) -> None:
    response = post_webhook(client, webhook_fixture("message_text"), signature=signature)
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_signed_body_that_is_not_json_is_a_bad_request(client: Client) -> None:
    assert post_webhook(client, b"object=page&entry=1").status_code == 400
    assert post_webhook(client, b"[1, 2, 3]").status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_body_over_the_limit_is_refused_before_it_is_read(client: Client, settings: Any, page: Any) -> None:
    body = webhook_fixture_bytes("message_text")
    settings.WEBHOOK_MAX_BODY_BYTES = len(body) - 1
    assert post_webhook(client, body).status_code == 413
    settings.WEBHOOK_MAX_BODY_BYTES = len(body)
    assert post_webhook(client, body).status_code == 200


@pytest.mark.django_db
def test_a_body_over_the_limit_without_a_declared_length_is_refused(settings: Any) -> None:
    body = webhook_fixture_bytes("message_text")
    settings.WEBHOOK_MAX_BODY_BYTES = 100
    request = RequestFactory().generic(
        "POST", WEBHOOK_URL, body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature_for(body, "x")
    )
    del request.META["CONTENT_LENGTH"]
    assert messenger_webhook(request).status_code == 413


@pytest.mark.django_db
def test_the_webhook_needs_no_csrf_token(page: Any) -> None:
    response = post_webhook(Client(enforce_csrf_checks=True), webhook_fixture("message_text"))
    assert response.status_code == 200


@pytest.mark.django_db
def test_an_object_other_than_page_is_accepted_and_recorded_as_ignored(client: Client) -> None:
    response = post_webhook(client, webhook_fixture("instagram_object"))
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.kind, event.outcome, event.reason) == ("object:instagram", "ignored", "unsupported_object")
    assert event.payload["object"] == "instagram"


# --- Durability -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_when_the_database_is_down_the_answer_is_503_and_nothing_is_stored(tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    factories.make_page(channel, page_id=PAGE_ID)
    down = OperationalError("could not connect to server: Connection refused")
    with mock.patch.object(type(connections["default"]), "ensure_connection", autospec=True, side_effect=down):
        response = post_webhook(Client(), webhook_fixture("message_text"))
    assert response.status_code == 503
    assert response["Retry-After"]
    assert not WebhookEvent.objects.exists()
    assert not Message.objects.exists()
    # Facebook delivers again once the database is back: stored then, exactly once.
    assert post_webhook(Client(), webhook_fixture("message_text")).status_code == 200
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_an_unexpected_failure_keeps_the_events_pending_and_still_answers_200(
    client: Client, page: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with mock.patch.object(apply, "messages_store", autospec=True, side_effect=RuntimeError("bug")):
        response = post_webhook(client, webhook_fixture("message_text"))
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.outcome == WebhookOutcome.PENDING
    assert event.organization_id == page.organization_id
    assert not Message.objects.exists()

    # The periodic job applies it once it is a few seconds old.
    later = event.received_at + receive.PENDING_RETRY_AFTER
    report = webhook_events_retry_pending(now=later)
    assert report.retried == 1
    event.refresh_from_db()
    assert (event.outcome, event.processed_at is not None) == (WebhookOutcome.STORED, True)
    assert Message.objects.get().text.startswith("Hello, my order")
    # A second run finds nothing left to do.
    assert webhook_events_retry_pending(now=later).retried == 0


@pytest.mark.django_db
def test_a_standby_event_applied_by_the_retry_keeps_its_standby_reason(client: Client, page: Any) -> None:
    with mock.patch.object(apply, "messages_store", autospec=True, side_effect=RuntimeError("bug")):
        post_webhook(client, webhook_fixture("standby_message"))
        event = WebhookEvent.objects.get()
        assert (event.outcome, event.reason) == (WebhookOutcome.PENDING, "standby")
        first_try = event.received_at + receive.PENDING_RETRY_AFTER
        assert webhook_events_retry_pending(now=first_try).still_pending == 1
    event.refresh_from_db()
    assert (event.outcome, event.reason) == (WebhookOutcome.PENDING, "standby error:RuntimeError")

    assert webhook_events_retry_pending(now=first_try + receive.PENDING_RETRY_BACKOFF).retried == 1
    event.refresh_from_db()
    assert (event.outcome, event.reason) == (WebhookOutcome.STORED, "standby")
    assert Message.objects.get().mid == "m_standby_Sb09"


@pytest.mark.django_db
def test_a_pending_event_that_keeps_failing_is_eventually_marked_failed(client: Client, page: Any) -> None:
    with mock.patch.object(apply, "messages_store", autospec=True, side_effect=RuntimeError("bug")):
        post_webhook(client, webhook_fixture("message_text"))
        event = WebhookEvent.objects.get()
        first_try = event.received_at + receive.PENDING_RETRY_AFTER
        report = webhook_events_retry_pending(now=first_try)
        assert report.still_pending == 1
        event.refresh_from_db()
        assert (event.outcome, event.reason) == (WebhookOutcome.PENDING, "error:RuntimeError")
        # A failing event waits before its next attempt, leaving the turn to the others.
        assert webhook_events_retry_pending(now=first_try + timedelta(minutes=1)).still_pending == 0
        assert webhook_events_retry_pending(now=first_try + receive.PENDING_RETRY_BACKOFF).still_pending == 1
        report = webhook_events_retry_pending(now=event.received_at + receive.PENDING_GIVE_UP_AFTER)
    assert report.failed == 1
    event.refresh_from_db()
    assert (event.outcome, event.reason) == (WebhookOutcome.FAILED, "gave_up")


@pytest.mark.django_db
def test_events_never_tried_are_retried_before_those_that_keep_failing(client: Client, page: Any) -> None:
    with mock.patch.object(apply, "messages_store", autospec=True, side_effect=RuntimeError("bug")):
        post_webhook(client, page_body((PAGE_ID, [text_item(mid="m_bad")])))
        bad = WebhookEvent.objects.get()
        webhook_events_retry_pending(now=bad.received_at + receive.PENDING_RETRY_AFTER)
        post_webhook(client, page_body((PAGE_ID, [text_item(mid="m_new", timestamp=BASE_MS + 1)])))
    later = timezone.now() + receive.PENDING_RETRY_BACKOFF
    assert webhook_events_retry_pending(now=later, limit=1).retried == 1
    assert Message.objects.get().mid == "m_new"


# --- Speed: the query count does not grow with the batch ------------------------------------


def _count_queries(client: Client, body: dict[str, Any]) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert post_webhook(client, body).status_code == 200
    return len(captured)


def _warm_up(client: Client) -> None:
    """PostgreSQL prepares the webhook's statements once per connection: not counted below."""
    post_webhook(client, page_body((PAGE_ID, [text_item(psid="7000", mid="m_warm_1")])))
    post_webhook(client, page_body((PAGE_ID, [text_item(psid="7000", mid="m_warm_2", timestamp=BASE_MS + 1)])))


@pytest.mark.django_db
def test_a_batch_of_twenty_new_customers_costs_the_same_queries_as_one(
    client: Client, page: Any, django_assert_num_queries: Any
) -> None:
    _warm_up(client)
    one = page_body((PAGE_ID, [text_item(psid="7100", mid="m_one")]))
    twenty = page_body(*[(PAGE_ID, [text_item(psid=f"72{n:02}", mid=f"m_twenty_{n}")]) for n in range(20)])
    with django_assert_num_queries(_count_queries(client, one)):
        post_webhook(client, twenty)
    assert Conversation.objects.count() == 22
    assert Message.objects.filter(mid__startswith="m_twenty_").count() == 20


@pytest.mark.django_db
def test_a_batch_of_twenty_messages_in_known_conversations_costs_the_same_queries_as_one(
    client: Client, page: Any, django_assert_num_queries: Any
) -> None:
    _warm_up(client)
    customers = [f"73{n:02}" for n in range(20)]
    post_webhook(client, page_body(*[(PAGE_ID, [text_item(psid=c, mid=f"m_first_{c}")]) for c in customers]))
    one = page_body((PAGE_ID, [text_item(psid=customers[0], mid="m_again", timestamp=BASE_MS + 1)]))
    with django_assert_num_queries(_count_queries(client, one)):
        post_webhook(
            client,
            page_body(*[(PAGE_ID, [text_item(psid=c, mid=f"m_second_{c}", timestamp=BASE_MS + 2)]) for c in customers]),
        )
    assert sorted(Conversation.objects.filter(contact__psid__in=customers).values_list("unread_count", flat=True)) == [
        2
    ] * 19 + [3]


@pytest.mark.django_db
def test_a_message_in_a_known_conversation_takes_a_handful_of_queries(
    client: Client, page: Any, django_assert_max_num_queries: Any
) -> None:
    _warm_up(client)
    # PostgreSQL: one statement (and the test's savepoint around it), page health's counter
    # (one statement) and the read of the endpoints that want customers' messages (outgoing
    # webhooks: at most, it is kept in the cache); SQLite: the read, the message, the
    # conversation's state and update, the event log (5, and the savepoint), page health's
    # counter and page (2), and the endpoints' read.
    expected = 5 if connection.vendor == "postgresql" else 10
    with django_assert_max_num_queries(expected):
        post_webhook(client, page_body((PAGE_ID, [text_item(psid="7000", mid="m_third", timestamp=BASE_MS + 3)])))
