"""Outbound sending through the real GraphClient, over HTTP, against a scripted local stub
(settings.FB_GRAPH_URL points at it): windows, retries, exactly-once, failures, recovery."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from helpdesk.exceptions import InvalidInput, ReplyWindowClosed
from messenger.models import Conversation, Message, MessageStatus, PageStatus
from messenger.services.conversations import read_state
from messenger.services.sending import delivery, failures, recovery, replies, reply_files
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.channels import images
from tests.conftest import Tenant
from tests.graph_stub import GraphStub, graph

pytestmark = pytest.mark.django_db

PAGE_TOKEN = "EAAG-page-token-for-sending"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- A scripted Graph API over real HTTP: tests.graph_stub ------------------------------------

__all__ = ["graph"]


def graph_error(code: int, subcode: int | None = None, message: str = "boom") -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Atrace"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


@pytest.fixture
def conversation(tenant_a: Tenant) -> Conversation:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel, page_id="111222333", token=PAGE_TOKEN)
    contact = factories.make_contact(page, psid="PSID-42", display_name="Hanako")
    conversation = factories.make_conversation(page, contact)
    factories.make_message(conversation, text="こんにちは", sent_at=timezone.now() - timedelta(hours=1))
    return conversation


def queue_reply(tenant: Tenant, conversation: Conversation, text: str = "Hello!", **kwargs: Any) -> Message:
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        return replies.message_send(
            organization=tenant.organization,
            acting_user=tenant.agent.user,
            conversation=conversation,
            text=text,
            **kwargs,
        )


def run_task(message: Message) -> Message:
    """Run the Celery task eagerly; its retries follow at once (their countdowns are recorded)."""
    conf = sending_tasks.send_message.app.conf
    propagates = conf.task_eager_propagates
    conf.task_eager_propagates = False  # else Celery raises Retry out of apply() instead of retrying
    try:
        result = sending_tasks.send_message.apply(args=[message.pk])
    finally:
        conf.task_eager_propagates = propagates
    assert not isinstance(result.result, Exception) or "Retry" in type(result.result).__name__, result.result
    message.refresh_from_db()
    return message


# --- Storing and sending -------------------------------------------------------------------------


def test_a_reply_is_stored_queued_and_its_task_is_queued_after_commit(
    tenant_a: Tenant, conversation: Conversation, django_capture_on_commit_callbacks: Any
) -> None:
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True) as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            message = replies.message_send(
                organization=tenant_a.organization,
                acting_user=tenant_a.agent.user,
                conversation=conversation,
                text="Hello!",
            )
        assert message.status == MessageStatus.QUEUED
        assert isinstance(message.idempotency_key, uuid.UUID)
        assert (message.messaging_type, message.tag) == ("RESPONSE", "")
        delay.assert_not_called()  # nothing leaves before the row is committed
        for callback in callbacks:
            callback()
        delay.assert_called_once_with(message.pk)
    conversation.refresh_from_db()
    assert conversation.last_message_preview == "Hello!"


def test_a_queued_reply_is_sent_with_its_metadata_and_gets_facebooks_message_id(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    message = queue_reply(tenant_a, conversation, "日本語のテキスト 😀")
    graph.answer(200, {"recipient_id": "PSID-42", "message_id": "m_sent_1"})

    message = run_task(message)

    assert (message.status, message.mid, message.attempts) == (MessageStatus.SENT, "m_sent_1", 1)
    (request,) = graph.requests
    assert (request.method, request.path) == ("POST", "/v21.0/111222333/messages")
    assert request.query == {"access_token": PAGE_TOKEN}
    assert request.json == {
        "recipient": {"id": "PSID-42"},
        "messaging_type": "RESPONSE",
        "message": {"text": "日本語のテキスト 😀"},
        "metadata": str(message.idempotency_key),
    }


def test_a_reply_between_24_hours_and_7_days_is_sent_with_the_human_agent_tag(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=30))
    conversation.refresh_from_db()
    message = run_task(queue_reply(tenant_a, conversation))
    assert message.status == MessageStatus.SENT
    (body,) = graph.sends()
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert (message.messaging_type, message.tag) == ("MESSAGE_TAG", "HUMAN_AGENT")


def test_the_window_is_checked_again_when_the_message_is_actually_sent(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(
        last_inbound_at=timezone.now() - timedelta(hours=24) + timedelta(seconds=30)
    )
    conversation.refresh_from_db()
    message = queue_reply(tenant_a, conversation)
    assert message.messaging_type == "RESPONSE"
    # The task runs after the 24 hours: the reply now needs the human agent tag.
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    message = run_task(message)
    assert (message.status, message.messaging_type, message.tag) == (MessageStatus.SENT, "MESSAGE_TAG", "HUMAN_AGENT")
    assert graph.sends()[0]["tag"] == "HUMAN_AGENT"


def test_a_message_whose_window_closed_before_it_was_sent_fails_without_calling_facebook(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    message = queue_reply(tenant_a, conversation)
    Conversation.objects.filter(pk=conversation.pk).update(
        last_inbound_at=timezone.now() - timedelta(days=7, seconds=1)
    )
    message = run_task(message)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "reply_window_closed")
    assert graph.requests == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("disable", "channel_disabled"),
        ("delete", "channel_deleted"),
        ("reauthorize", "page_reauthorization_required"),
        ("unlink", "page_reauthorization_required"),
        ("block", "contact_blocked"),
    ],
)
def test_a_message_queued_before_the_channel_page_or_customer_changed_fails_without_sending(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub, change: str, code: str
) -> None:
    message = queue_reply(tenant_a, conversation)
    now = timezone.now()
    if change == "disable":
        type(conversation.channel).objects.filter(pk=conversation.channel_id).update(is_enabled=False)
    elif change == "delete":
        type(conversation.channel).objects.filter(pk=conversation.channel_id).update(deleted_at=now)
    elif change == "reauthorize":
        type(conversation.page).objects.filter(pk=conversation.page_id).update(
            status=PageStatus.REAUTHORIZATION_REQUIRED
        )
    elif change == "unlink":
        type(conversation.page).objects.filter(pk=conversation.page_id).update(unlinked_at=now)
    else:
        type(conversation.contact).objects.filter(pk=conversation.contact_id).update(is_blocked=True)
    message = run_task(message)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, code)
    assert graph.requests == []


# --- Retries and exactly once ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "delay", "reason", "countdowns"),
    [
        (500, {"error": {"message": "Internal", "code": 2, "is_transient": True}}, 0.0, "graph_transient", [10, 20]),
        (503, "not json", 0.0, "graph_transient", [10, 20]),
        (
            400,
            graph_error(613, message="Calls to this api have exceeded the rate limit."),
            0.0,
            "rate_limited",
            [10, 20],
        ),
        # Facebook may have taken it: the retry leaves its echo a minute to arrive first.
        (200, {"recipient_id": "PSID-42", "message_id": "m_late"}, 1.0, "graph_timeout", [60, 60]),
    ],
    ids=["500", "503-no-body", "613", "timeout"],
)
def test_temporary_failures_are_retried_with_backoff_and_the_message_is_sent_once(
    tenant_a: Tenant,
    conversation: Conversation,
    graph: GraphStub,
    status: int,
    body: Any,
    delay: float,
    reason: str,
    countdowns: list[int],
) -> None:
    message = queue_reply(tenant_a, conversation)
    graph.answer(status, body, delay=delay)
    graph.answer(status, body, delay=delay)
    graph.answer(200, {"recipient_id": "PSID-42", "message_id": "m_finally"})
    task = sending_tasks.send_message
    with mock.patch.object(task, "retry", wraps=task.retry) as retry:
        message = run_task(message)

    assert (message.status, message.mid, message.attempts) == (MessageStatus.SENT, "m_finally", 3)
    assert [c.kwargs["countdown"] for c in retry.call_args_list] == countdowns  # exponential backoff
    assert len(graph.sends()) == 3
    # The one that succeeded is the only one that is counted as sent.
    assert Message.objects.filter(conversation=conversation, direction="out").count() == 1


def test_retries_stop_after_the_maximum_and_the_message_fails_with_a_reason(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    message = queue_reply(tenant_a, conversation)
    for _ in range(delivery.SEND_MAX_RETRIES + 1):
        graph.answer(500, {"error": {"message": "Internal", "code": 1}})
    message = run_task(message)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "graph_transient")
    assert message.attempts == delivery.SEND_MAX_RETRIES + 1
    assert "temporary problem" in failures.failure_reason(message)


def test_backoff_grows_exponentially_is_capped_and_respects_retry_after() -> None:
    assert [delivery.backoff_seconds(n) for n in range(6)] == [10, 20, 40, 80, 160, 300]
    assert delivery.backoff_seconds(0, retry_after=45) == 45
    assert delivery.backoff_seconds(0, retry_after=10_000) == 300


def test_running_the_task_twice_sends_once(tenant_a: Tenant, conversation: Conversation, graph: GraphStub) -> None:
    message = queue_reply(tenant_a, conversation)
    run_task(message)
    message = run_task(message)
    assert message.status == MessageStatus.SENT
    assert len(graph.sends()) == 1


def test_a_task_redelivered_while_the_message_is_sending_does_not_send_again(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    message = queue_reply(tenant_a, conversation)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING, status_changed_at=timezone.now())
    message = run_task(message)
    assert message.status == MessageStatus.SENDING
    assert graph.requests == []


def test_two_workers_racing_for_the_same_message_send_it_once(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    message = queue_reply(tenant_a, conversation)
    graph.answer(200, {"recipient_id": "PSID-42", "message_id": "m_slow"}, delay=0.2)
    outcomes = [
        delivery.message_deliver(message_id=message.pk),
        delivery.message_deliver(message_id=message.pk),
    ]
    assert outcomes == [None, None]
    assert len(graph.sends()) == 1


# --- Failures that retrying cannot fix ------------------------------------------------------------


def test_error_190_fails_the_message_and_marks_the_page_for_reauthorization(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    message = queue_reply(tenant_a, conversation)
    graph.answer(400, graph_error(190, 460, "Error validating access token"))
    message = run_task(message)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "page_reauthorization_required")
    assert len(graph.requests) == 1  # not retried
    conversation.page.refresh_from_db()
    assert conversation.page.status == PageStatus.REAUTHORIZATION_REQUIRED
    assert conversation.page.reauthorization_reason == "password_changed"


def test_a_page_token_that_no_key_opens_fails_the_message_without_calling_facebook(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    message = queue_reply(tenant_a, conversation)
    type(conversation.page).objects.filter(pk=conversation.page_id).update(access_token_encrypted="not-a-fernet-token")
    message = run_task(message)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "page_reauthorization_required")
    assert graph.requests == []


def test_error_2018278_fails_the_message_as_window_closed(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    message = queue_reply(tenant_a, conversation)
    graph.answer(400, graph_error(10, 2018278, "This message is sent outside of allowed window."))
    message = run_task(message)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "reply_window_closed")
    assert len(graph.requests) == 1
    assert "reply window is closed" in failures.failure_reason(message)


def test_error_551_tells_the_agent_the_person_is_unavailable(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    message = queue_reply(tenant_a, conversation)
    graph.answer(400, graph_error(551, 1545041, "This person isn't available right now."))
    message = run_task(message)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "recipient_unavailable")
    assert failures.failure_reason(message) == "This person isn't available right now."
    assert len(graph.requests) == 1


def test_a_failed_message_is_retried_by_hand_with_the_same_idempotency_key(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    message = queue_reply(tenant_a, conversation)
    key = message.idempotency_key
    graph.answer(400, graph_error(551))
    message = run_task(message)
    assert message.status == MessageStatus.FAILED

    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        replies.message_retry(organization=tenant_a.organization, acting_user=tenant_a.agent.user, message=message)
    message = run_task(message)

    assert message.status == MessageStatus.SENT
    assert message.idempotency_key == key
    assert [body["metadata"] for body in graph.sends()] == [str(key), str(key)]


def test_a_manual_retry_is_refused_once_the_window_has_closed(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    message = queue_reply(tenant_a, conversation)
    graph.answer(400, graph_error(551))
    message = run_task(message)
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=8))
    with pytest.raises(ReplyWindowClosed):
        replies.message_retry(organization=tenant_a.organization, acting_user=tenant_a.agent.user, message=message)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED


# --- Recovery ------------------------------------------------------------------------------------


def test_a_message_stuck_in_sending_is_failed_as_unknown_outcome_and_never_resent(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub, django_capture_on_commit_callbacks: Any
) -> None:
    stuck = queue_reply(tenant_a, conversation, "stuck")
    recent = queue_reply(tenant_a, conversation, "recent")
    now = timezone.now()
    Message.objects.filter(pk=stuck.pk).update(
        status=MessageStatus.SENDING, status_changed_at=now - timedelta(minutes=6)
    )
    Message.objects.filter(pk=recent.pk).update(
        status=MessageStatus.SENDING, status_changed_at=now - timedelta(minutes=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        failed, requeued = recovery.message_sweep(now=now)
        again = recovery.message_sweep(now=now)

    assert (failed, requeued) == (1, [])
    assert again == (0, [])
    stuck.refresh_from_db()
    recent.refresh_from_db()
    assert (stuck.status, stuck.error_code) == (MessageStatus.FAILED, "unknown_outcome")
    assert recent.status == MessageStatus.SENDING
    assert graph.requests == []
    assert "not known whether Facebook received" in failures.failure_reason(stuck)


def test_a_message_queued_but_never_published_is_published_again_and_sent_once(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub, django_capture_on_commit_callbacks: Any
) -> None:
    message = queue_reply(tenant_a, conversation)
    now = timezone.now()
    Message.objects.filter(pk=message.pk).update(status_changed_at=now - timedelta(minutes=11))
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True) as delay:
        with django_capture_on_commit_callbacks(execute=True):
            _, requeued = recovery.message_sweep(now=now)
            _, requeued_again = recovery.message_sweep(now=now)
    assert requeued == [message.pk]
    assert requeued_again == []
    delay.assert_called_once_with(message.pk)
    run_task(message)
    run_task(message)
    assert len(graph.sends()) == 1


def test_a_reply_whose_task_could_not_be_published_goes_out_at_the_next_sweep_once(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub, django_capture_on_commit_callbacks: Any
) -> None:
    """The broker was down when the agent pressed Send: the next sweep (the broker is back,
    since the sweep came through it) publishes the reply at once, not ten minutes later."""
    broker_down = mock.patch.object(
        sending_tasks.send_message, "delay", autospec=True, side_effect=ConnectionError("broker down")
    )
    with broker_down:
        with django_capture_on_commit_callbacks(execute=True):
            message = replies.message_send(
                organization=tenant_a.organization,
                acting_user=tenant_a.agent.user,
                conversation=conversation,
                text="Hi",
            )
        # A sweep while the broker is still down publishes nothing, and loses nothing either.
        with django_capture_on_commit_callbacks(execute=True):
            assert recovery.message_sweep() == (0, [message.pk])
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.dispatch_failed_at is not None
    assert graph.sends() == []

    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True) as delay:
        with django_capture_on_commit_callbacks(execute=True):
            _, requeued = recovery.message_sweep(now=timezone.now() + timedelta(seconds=1))
            _, requeued_again = recovery.message_sweep(now=timezone.now() + timedelta(seconds=2))
    assert (requeued, requeued_again) == ([message.pk], [])
    delay.assert_called_once_with(message.pk)
    run_task(message)
    run_task(message)
    assert message.status == MessageStatus.SENT
    assert [body["message"]["text"] for body in graph.sends()] == ["Hi"]


def test_a_reply_waiting_for_its_retry_is_not_published_early_by_the_sweep(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub, django_capture_on_commit_callbacks: Any
) -> None:
    """A failed publication from an earlier state does not count: the retry's own task exists
    (its countdown must be kept: after a timeout, Facebook's echo may still settle the send)."""
    failing = mock.patch.object(sending_tasks.send_message, "delay", autospec=True, side_effect=ConnectionError())
    with failing, django_capture_on_commit_callbacks(execute=True):
        message = replies.message_send(
            organization=tenant_a.organization, acting_user=tenant_a.agent.user, conversation=conversation, text="Hi"
        )
    graph.answer(500, graph_error(2, message="temporary"))
    # Claimed, refused with a 5xx, back to queued: its task retries after the countdown.
    assert delivery.message_deliver(message_id=message.pk) == delivery.BACKOFF_BASE_SECONDS
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.dispatch_failed_at is not None
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True) as delay:
        with django_capture_on_commit_callbacks(execute=True):
            assert recovery.message_sweep(now=timezone.now() + timedelta(seconds=1)) == (0, [])
    delay.assert_not_called()


def test_the_sweep_runs_every_twenty_seconds_from_beat(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["messenger-sending-sweep"]
    assert entry["task"] == sending_tasks.SWEEP
    assert entry["schedule"] == recovery.SWEEP_INTERVAL_SECONDS == 20.0
    # With the worker's reconnection (at most 30 s), a reply queued during an outage goes out
    # within a minute of the broker's return.
    assert recovery.SWEEP_INTERVAL_SECONDS + 30 < 60


def test_the_worker_registers_the_sending_tasks() -> None:
    from helpdesk.celery import app

    app.loader.import_default_modules()
    assert {sending_tasks.SEND_MESSAGE, sending_tasks.SEND_SENDER_ACTION, sending_tasks.SWEEP} <= set(app.tasks)


# --- Attachments ---------------------------------------------------------------------------------


def test_an_image_reply_is_uploaded_to_facebook_and_sent_by_its_attachment_id_without_any_url_of_ours(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.PUBLIC_URL = "https://desk.example.com"
    png = images.image_bytes("PNG")
    upload = SimpleUploadedFile("photo 1.png", png, content_type="image/png")
    message = queue_reply(tenant_a, conversation, text="", upload=upload)
    assert message.kind == "attachment"
    [kept] = message.attachments
    assert (kept["type"], kept["title"], kept["content_type"]) == ("image", "photo_1.png", "image/png")
    # A random storage name: nothing of the uploader's name, and no address to fetch it from.
    assert "photo" not in kept["stored_name"] and "url" not in kept
    assert (tmp_path / kept["stored_name"]).read_bytes() == png

    message = run_task(message)
    assert message.status == MessageStatus.SENT
    [uploaded] = graph.uploads()
    assert uploaded.path == "/v21.0/111222333/message_attachments"
    assert uploaded.content_type.startswith("multipart/form-data")
    assert uploaded.json["message"] == {"attachment": {"type": "image", "payload": {"is_reusable": True}}}
    filedata = uploaded.files["filedata"]
    assert (filedata.data, filedata.content_type, filedata.file_name) == (png, "image/png", "photo_1.png")
    (body,) = graph.sends()
    attachment_id = message.attachments[0]["attachment_id"]
    assert body["message"] == {"attachment": {"type": "image", "payload": {"attachment_id": attachment_id}}}
    assert "desk.example.com" not in json.dumps(body) and "/media/" not in json.dumps(body)


def test_a_pdf_is_uploaded_and_sent_as_a_file_attachment(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 an invoice", content_type="application/pdf")
    run_task(queue_reply(tenant_a, conversation, text="", upload=upload))
    [uploaded] = graph.uploads()
    assert uploaded.json["message"]["attachment"]["type"] == "file"
    assert uploaded.files["filedata"].content_type == "application/pdf"
    assert graph.sends()[0]["message"]["attachment"]["type"] == "file"


def test_a_file_named_like_an_image_is_judged_by_its_bytes(
    tenant_a: Tenant, conversation: Conversation, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    html = SimpleUploadedFile("cat.png", b"<html><script>alert(1)</script></html>", content_type="image/png")
    [kept] = queue_reply(tenant_a, conversation, text="", upload=html).attachments
    assert (kept["type"], kept["content_type"]) == ("file", "application/octet-stream")
    jpeg = SimpleUploadedFile("cat.png", images.image_bytes("JPEG"), content_type="image/png")
    [kept] = queue_reply(tenant_a, conversation, text="", upload=jpeg).attachments
    assert (kept["type"], kept["content_type"]) == ("image", "image/jpeg")


def test_a_send_that_fails_after_the_upload_is_retried_without_uploading_again(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("photo.png", images.image_bytes("PNG"), content_type="image/png")
    message = queue_reply(tenant_a, conversation, text="", upload=upload)
    graph.answer(500, {"error": {"message": "Internal", "code": 1}})
    message = run_task(message)
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    assert len(graph.uploads()) == 1
    first, second = graph.sends()
    assert first == second  # the same attachment_id, the same idempotency metadata
    assert len(graph.accepted()) == 1


def test_an_upload_that_fails_for_a_while_is_retried_and_the_message_is_sent_once(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("photo.png", images.image_bytes("PNG"), content_type="image/png")
    message = queue_reply(tenant_a, conversation, text="", upload=upload)
    graph.answer_upload(503, {"error": {"message": "Service unavailable", "code": 2, "is_transient": True}})
    message = run_task(message)
    assert message.status == MessageStatus.SENT
    assert [r.status for r in graph.uploads()] == [503, 200]
    assert len(graph.sends()) == 1


def test_a_file_facebook_refuses_fails_the_message_with_facebooks_words(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("notes.bin", b"\x00\x01 some bytes", content_type="application/octet-stream")
    message = queue_reply(tenant_a, conversation, text="", upload=upload)
    graph.answer_upload(400, graph_error(100, 2018047, "(#100) Upload attachment failure."))
    message = run_task(message)
    assert (message.status, message.error_message) == (MessageStatus.FAILED, "(#100) Upload attachment failure.")
    assert graph.sends() == []


def test_a_message_whose_stored_file_is_gone_fails_without_calling_facebook(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("photo.png", images.image_bytes("PNG"), content_type="image/png")
    message = queue_reply(tenant_a, conversation, text="", upload=upload)
    (tmp_path / message.attachments[0]["stored_name"]).unlink()
    message = run_task(message)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "attachment_unavailable")
    assert graph.requests == []


@pytest.mark.parametrize(
    ("name", "image", "size", "refused"),
    [
        ("big.png", True, 8 * 1024 * 1024 + 1, True),
        ("ok.png", True, 8 * 1024 * 1024, False),
        ("big.zip", False, 25 * 1024 * 1024 + 1, True),
        ("ok.zip", False, 25 * 1024 * 1024, False),
        # Named like an image, but its bytes are not one: the file limit applies.
        ("fake.png", False, 8 * 1024 * 1024 + 1, False),
    ],
)
def test_attachments_over_facebooks_limits_are_refused(
    tenant_a: Tenant,
    conversation: Conversation,
    settings: Any,
    tmp_path: Any,
    name: str,
    image: bool,
    size: int,
    refused: bool,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile(name, images.image_bytes("PNG") if image else b"x", content_type="image/png")
    upload.size = size
    if refused:
        with pytest.raises(reply_files.AttachmentTooLarge):
            queue_reply(tenant_a, conversation, text="", upload=upload)
        assert not Message.objects.filter(direction="out").exists()
    else:
        assert queue_reply(tenant_a, conversation, text="", upload=upload).status == MessageStatus.QUEUED


def test_an_empty_file_is_refused(tenant_a: Tenant, conversation: Conversation, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    with pytest.raises(InvalidInput, match="empty"):
        queue_reply(tenant_a, conversation, text="", upload=SimpleUploadedFile("empty.txt", b""))


# --- Sender actions ------------------------------------------------------------------------------


def test_opening_an_unread_conversation_sends_mark_seen_after_commit(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub, django_capture_on_commit_callbacks: Any
) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=2)
    conversation.refresh_from_db()
    graph.answer(200, {"recipient_id": "PSID-42"})
    delay = mock.patch.object(
        sending_tasks.send_sender_action, "delay", side_effect=lambda *a: sending_tasks.send_sender_action.apply(a)
    )
    with delay, django_capture_on_commit_callbacks(execute=True):
        read_state.conversation_mark_read(
            organization=tenant_a.organization, acting_user=tenant_a.agent.user, conversation=conversation
        )
        # Opening it again: nothing unread, nothing sent.
        read_state.conversation_mark_read(
            organization=tenant_a.organization, acting_user=tenant_a.agent.user, conversation=conversation
        )
    (request,) = graph.requests
    assert request.path == "/v21.0/111222333/messages"
    assert request.json == {"recipient": {"id": "PSID-42"}, "sender_action": "mark_seen"}
    conversation.refresh_from_db()
    assert conversation.unread_count == 0


def test_typing_on_is_sent_at_most_once_every_few_seconds(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub, django_capture_on_commit_callbacks: Any
) -> None:
    delay = mock.patch.object(
        sending_tasks.send_sender_action, "delay", side_effect=lambda *a: sending_tasks.send_sender_action.apply(a)
    )
    with delay, django_capture_on_commit_callbacks(execute=True):
        sent = [
            read_state.conversation_typing(
                organization=tenant_a.organization, acting_user=tenant_a.agent.user, conversation=conversation
            )
            for _ in range(3)
        ]
    assert sent == [True, False, False]
    assert [r.json["sender_action"] for r in graph.requests] == ["typing_on"]


def test_no_sender_action_goes_to_a_conversation_whose_window_is_closed(
    tenant_a: Tenant, conversation: Conversation, graph: GraphStub
) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=8))
    assert delivery.sender_action_deliver(conversation_id=conversation.pk, action="mark_seen") is False
    assert graph.requests == []


def test_typing_is_not_even_queued_for_a_conversation_that_cannot_be_answered(
    tenant_a: Tenant, conversation: Conversation, django_capture_on_commit_callbacks: Any
) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=8))
    conversation.refresh_from_db()
    with mock.patch.object(sending_tasks.send_sender_action, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            sent = read_state.conversation_typing(
                organization=tenant_a.organization, acting_user=tenant_a.agent.user, conversation=conversation
            )
    assert sent is False
    delay.assert_not_called()
