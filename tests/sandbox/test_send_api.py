"""The Send API: validation as Facebook does it, the messaging window, scripted failures,
and the echo and delivery webhooks owed afterwards."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import requests
from django.conf import settings

from messenger.graph import (
    GraphClient,
    GraphTimeoutError,
    NoMatchingUserError,
    RateLimitedError,
    RecipientUnavailableError,
    TransientGraphError,
    WindowClosedError,
)
from messenger.sandbox import customers, people, selectors, send_failures, tasks, webhooks
from messenger.sandbox.models import SandboxOutboundWebhook, SandboxSendCall
from tests.sandbox.conftest import VERSION, Received, Receiver, Sandbox

HOUR_MS = 60 * 60 * 1000


def _customer(sandbox: Sandbox, *, wrote_hours_ago: float | None = 0) -> str:
    customer = customers.sandbox_customer_create(page_id=sandbox.page.page_id, first_name="Cy", last_name="Ng")
    if wrote_hours_ago is not None:
        written = int(time.time() * 1000 - wrote_hours_ago * HOUR_MS)
        customers.sandbox_customer_message(
            page_id=sandbox.page.page_id, psid=customer.psid, text="Hello", timestamp_ms=written
        )
    return customer.psid


def _token(sandbox: Sandbox) -> str:
    return people.sandbox_page_token_issue(page_id=sandbox.page.page_id)


def _raw_send(sandbox: Sandbox, token: str, body: dict[str, Any]) -> requests.Response:
    url = f"{sandbox.graph_url}/{VERSION}/{sandbox.page.page_id}/messages"
    return requests.post(url, params={"access_token": token}, json=body, timeout=5)


def _verified(received: Received) -> dict[str, Any]:
    expected = hmac.new(settings.FB_APP_SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert received.headers["x-hub-signature-256"] == f"sha256={expected}"
    return json.loads(received.body)


@pytest.mark.django_db(transaction=True)
def test_a_send_is_answered_recorded_and_owes_an_echo_and_a_delivery(sandbox: Sandbox, receiver: Receiver) -> None:
    psid = _customer(sandbox)
    receiver.requests.clear()  # the customer's own message webhook
    result = sandbox.client.send_message(
        page_id=sandbox.page.page_id,
        page_token=_token(sandbox),
        recipient_psid=psid,
        message={"text": "How can I help?"},
        metadata="5b0f6c1e-idempotency",
    )
    assert result.recipient_id == psid
    assert result.message_id.startswith("m_")

    [call] = selectors.sandbox_sent_messages(page_id=sandbox.page.page_id, psid=psid)
    assert (call.succeeded, call.text, call.metadata, call.message_id) == (
        True,
        "How can I help?",
        "5b0f6c1e-idempotency",
        result.message_id,
    )
    assert call.request_body["messaging_type"] == "RESPONSE"

    # Queued for Celery after commit, never posted inside the Send API request.
    sandbox.queued_deliveries.assert_called_once_with()
    assert receiver.posts() == []
    assert SandboxOutboundWebhook.objects.filter(delivered_at__isnull=True).count() == 2

    assert webhooks.flush_webhooks() == 2
    echo, delivery = (_verified(r) for r in receiver.posts())
    echo_event = echo["entry"][0]["messaging"][0]
    assert echo["object"] == "page" and echo["entry"][0]["id"] == sandbox.page.page_id
    assert echo_event["sender"] == {"id": sandbox.page.page_id}
    assert echo_event["recipient"] == {"id": psid}
    assert echo_event["message"] == {
        "mid": result.message_id,
        "is_echo": True,
        "app_id": int(settings.FB_APP_ID),
        "metadata": "5b0f6c1e-idempotency",
        "text": "How can I help?",
    }
    delivery_event = delivery["entry"][0]["messaging"][0]
    assert delivery_event["sender"] == {"id": psid}
    assert delivery_event["delivery"]["mids"] == [result.message_id]
    assert delivery_event["delivery"]["watermark"] >= echo_event["timestamp"]

    call.refresh_from_db()
    assert call.delivered_at is not None
    assert webhooks.flush_webhooks() == 0  # nothing is sent twice


@pytest.mark.django_db(transaction=True)
def test_pending_webhooks_wait_while_the_product_refuses_them(sandbox: Sandbox, receiver: Receiver) -> None:
    psid = _customer(sandbox)
    sandbox.client.send_message(
        page_id=sandbox.page.page_id, page_token=_token(sandbox), recipient_psid=psid, message={"text": "x"}
    )
    receiver.requests.clear()
    receiver.status = 503
    assert webhooks.flush_webhooks() == 0
    assert len(receiver.posts()) == 1  # stopped at the first refusal, order kept
    receiver.status = 200
    assert tasks.deliver_pending_webhooks.apply().get() == 2
    kinds = [json.loads(r.body)["entry"][0]["messaging"][0] for r in receiver.posts()]
    assert ["message" in k for k in kinds] == [True, True, False]


@pytest.mark.django_db(transaction=True)
def test_a_send_outside_the_24_hour_window_is_refused(sandbox: Sandbox) -> None:
    psid = _customer(sandbox, wrote_hours_ago=25)
    with pytest.raises(WindowClosedError) as refused:
        sandbox.client.send_message(
            page_id=sandbox.page.page_id, page_token=_token(sandbox), recipient_psid=psid, message={"text": "x"}
        )
    assert (refused.value.code, refused.value.subcode) == (10, 2018278)
    assert selectors.sandbox_sent_messages(page_id=sandbox.page.page_id)[-1].error_subcode == 2018278


@pytest.mark.django_db(transaction=True)
def test_a_customer_who_never_wrote_cannot_be_messaged(sandbox: Sandbox) -> None:
    psid = _customer(sandbox, wrote_hours_ago=None)
    with pytest.raises(WindowClosedError):
        sandbox.client.send_message(
            page_id=sandbox.page.page_id, page_token=_token(sandbox), recipient_psid=psid, message={"text": "x"}
        )


@pytest.mark.django_db(transaction=True)
def test_human_agent_is_accepted_within_seven_days_and_refused_after(sandbox: Sandbox) -> None:
    token = _token(sandbox)
    recent = _customer(sandbox, wrote_hours_ago=6 * 24)
    result = sandbox.client.send_message(
        page_id=sandbox.page.page_id,
        page_token=token,
        recipient_psid=recent,
        message={"text": "Following up"},
        messaging_type="MESSAGE_TAG",
        tag="HUMAN_AGENT",
    )
    assert result.message_id
    stale = _customer(sandbox, wrote_hours_ago=8 * 24)
    with pytest.raises(WindowClosedError):
        sandbox.client.send_message(
            page_id=sandbox.page.page_id,
            page_token=token,
            recipient_psid=stale,
            message={"text": "Too late"},
            messaging_type="MESSAGE_TAG",
            tag="HUMAN_AGENT",
        )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("tag", ["ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE"])
def test_retired_tags_are_refused_with_error_100(sandbox: Sandbox, tag: str) -> None:
    psid = _customer(sandbox)
    body = {"recipient": {"id": psid}, "messaging_type": "MESSAGE_TAG", "tag": tag, "message": {"text": "x"}}
    response = _raw_send(sandbox, _token(sandbox), body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 100
    assert set(response.json()["error"]) >= {"message", "type", "code", "fbtrace_id"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "body",
    [
        {"messaging_type": "RESPONSE", "message": {"text": "no recipient"}},
        {"recipient": {"id": "{psid}"}, "message": {"text": "no messaging_type"}},
        {"recipient": {"id": "{psid}"}, "messaging_type": "PROMOTION", "message": {"text": "x"}},
        {"recipient": {"id": "{psid}"}, "messaging_type": "RESPONSE", "message": {"text": "x" * 2001}},
        {"recipient": {"id": "{psid}"}, "messaging_type": "RESPONSE", "message": {"text": ""}},
        {"recipient": {"id": "{psid}"}, "messaging_type": "RESPONSE"},
        {"recipient": {"id": "{psid}"}, "messaging_type": "RESPONSE", "tag": "HUMAN_AGENT", "message": {"text": "x"}},
        {
            "recipient": {"id": "{psid}"},
            "messaging_type": "RESPONSE",
            "message": {"text": "x"},
            "sender_action": "typing_on",
        },
        {"recipient": {"id": "{psid}"}, "sender_action": "dance"},
    ],
)
def test_malformed_bodies_are_refused_with_error_100(sandbox: Sandbox, body: dict[str, Any]) -> None:
    psid = _customer(sandbox)
    body = json.loads(json.dumps(body).replace("{psid}", psid))
    response = _raw_send(sandbox, _token(sandbox), body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 100
    assert SandboxSendCall.objects.get().request_body == body


@pytest.mark.django_db(transaction=True)
def test_text_of_exactly_2000_characters_is_accepted(sandbox: Sandbox) -> None:
    psid = _customer(sandbox)
    body = {"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": "é" * 2000}}
    assert _raw_send(sandbox, _token(sandbox), body).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_unknown_recipient_is_no_matching_user(sandbox: Sandbox) -> None:
    _customer(sandbox)
    with pytest.raises(NoMatchingUserError):
        sandbox.client.send_message(
            page_id=sandbox.page.page_id, page_token=_token(sandbox), recipient_psid="123", message={"text": "x"}
        )


@pytest.mark.django_db(transaction=True)
def test_sender_actions_are_recorded_and_owe_no_webhook(sandbox: Sandbox) -> None:
    psid = _customer(sandbox)
    sandbox.client.send_sender_action(
        page_id=sandbox.page.page_id, page_token=_token(sandbox), recipient_psid=psid, action="typing_on"
    )
    [call] = selectors.sandbox_sent_messages(page_id=sandbox.page.page_id)
    assert (call.sender_action, call.succeeded, call.message_id) == ("typing_on", True, "")
    assert not SandboxOutboundWebhook.objects.exists()
    sandbox.queued_deliveries.assert_not_called()


@pytest.mark.django_db(transaction=True)
def test_a_scripted_500_fails_the_next_send_only(sandbox: Sandbox) -> None:
    psid = _customer(sandbox)
    token = _token(sandbox)
    send_failures.sandbox_send_failures_script(page_id=sandbox.page.page_id, http_status=500, code=2, is_transient=True)
    with pytest.raises(TransientGraphError) as failed:
        sandbox.client.send_message(
            page_id=sandbox.page.page_id, page_token=token, recipient_psid=psid, message={"text": "x"}
        )
    assert (failed.value.http_status, failed.value.code, failed.value.retryable) == (500, 2, True)
    assert sandbox.client.send_message(
        page_id=sandbox.page.page_id, page_token=token, recipient_psid=psid, message={"text": "x"}
    ).message_id
    assert [c.http_status for c in selectors.sandbox_sent_messages(page_id=sandbox.page.page_id)] == [500, 200]


@pytest.mark.django_db(transaction=True)
def test_scripted_rate_limits_and_unavailable_recipients_fail_as_many_times_as_asked(sandbox: Sandbox) -> None:
    psid = _customer(sandbox)
    token = _token(sandbox)
    send_failures.sandbox_send_failures_script(page_id=sandbox.page.page_id, http_status=400, code=613, times=2)
    send_failures.sandbox_send_failures_script(page_id=sandbox.page.page_id, http_status=400, code=551, subcode=1545041)
    expected = [RateLimitedError, RateLimitedError, RecipientUnavailableError]
    for error_class in expected:
        with pytest.raises(error_class):
            sandbox.client.send_message(
                page_id=sandbox.page.page_id, page_token=token, recipient_psid=psid, message={"text": "x"}
            )
    sandbox.client.send_message(
        page_id=sandbox.page.page_id, page_token=token, recipient_psid=psid, message={"text": "x"}
    )


@pytest.mark.django_db(transaction=True)
def test_a_scripted_timeout_makes_the_client_give_up(sandbox: Sandbox) -> None:
    psid = _customer(sandbox)
    impatient = GraphClient(
        base_url=sandbox.graph_url, app_id=settings.FB_APP_ID, app_secret=settings.FB_APP_SECRET, timeout=0.3
    )
    send_failures.sandbox_send_failures_script(
        page_id=sandbox.page.page_id, http_status=500, code=2, is_transient=True, delay_seconds=1.0
    )
    started = time.monotonic()
    with pytest.raises(GraphTimeoutError):
        impatient.send_message(
            page_id=sandbox.page.page_id, page_token=_token(sandbox), recipient_psid=psid, message={"text": "x"}
        )
    assert time.monotonic() - started < 1.0
    assert selectors.sandbox_sent_messages(page_id=sandbox.page.page_id)[-1].http_status == 500
    time.sleep(1.0)  # let the sleeping request finish before the database is flushed


@pytest.mark.django_db(transaction=True)
def test_me_messages_sends_as_the_tokens_page(sandbox: Sandbox) -> None:
    psid = _customer(sandbox)
    body = {"recipient": {"id": psid}, "messaging_type": "UPDATE", "message": {"text": "x"}}
    response = requests.post(
        f"{sandbox.graph_url}/{VERSION}/me/messages", params={"access_token": _token(sandbox)}, json=body, timeout=5
    )
    assert response.status_code == 200
    assert selectors.sandbox_sent_messages(page_id=sandbox.page.page_id, psid=psid)[-1].messaging_type == "UPDATE"


@pytest.mark.django_db(transaction=True)
def test_an_image_attachment_is_echoed_as_an_attachment(sandbox: Sandbox, receiver: Receiver) -> None:
    psid = _customer(sandbox)
    receiver.requests.clear()
    attachment = {"type": "image", "payload": {"url": "https://example.com/a.png", "is_reusable": True}}
    sandbox.client.send_message(
        page_id=sandbox.page.page_id,
        page_token=_token(sandbox),
        recipient_psid=psid,
        message={"attachment": attachment},
    )
    webhooks.flush_webhooks()
    echo = _verified(receiver.posts()[0])["entry"][0]["messaging"][0]["message"]
    assert echo["attachments"] == [attachment]
    assert "text" not in echo


@pytest.mark.django_db(transaction=True)
def test_a_form_encoded_send_is_read_like_a_json_one(sandbox: Sandbox) -> None:
    psid = _customer(sandbox)
    url = f"{sandbox.graph_url}/{VERSION}/{sandbox.page.page_id}/messages"
    form = {
        "access_token": _token(sandbox),
        "recipient": json.dumps({"id": psid}),
        "messaging_type": "RESPONSE",
        "message": json.dumps({"text": "form"}),
    }
    response = requests.post(url, data=form, timeout=5)
    assert response.status_code == 200, response.text
    call = selectors.sandbox_sent_messages(page_id=sandbox.page.page_id)[-1]
    assert (call.text, call.request_body["recipient"]) == ("form", {"id": psid})
    assert "access_token" not in call.request_body
