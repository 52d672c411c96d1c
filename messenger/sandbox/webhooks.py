"""Webhooks from the sandbox to the product, signed as Meta signs them.

Events the product's own sends cause (echoes, deliveries) are queued as rows and sent by
``outbound_flush`` (a Celery task, the simulator's polling, or a test); events a customer
causes in the simulator are posted at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from messenger.sandbox.models import SandboxOutboundWebhook, SandboxPage, SandboxSendCall, WebhookKind

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 10.0
# Facebook keeps retrying for about an hour; the sandbox gives up after this many tries.
MAX_ATTEMPTS = 20
CLAIM_SECONDS = 60
FLUSH_BATCH = 200


def target_url(webhook_url: str | None = None) -> str:
    return webhook_url or settings.SANDBOX_WEBHOOK_URL


def encode_body(payload: dict[str, Any]) -> bytes:
    """Compact JSON with non-ASCII escaped as ``\\uXXXX``, the way Meta sends it."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def signature_header(body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value: the app secret's HMAC-SHA256 of the exact bytes."""
    digest = hmac.new(settings.FB_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def post_body(body: bytes, *, webhook_url: str | None = None) -> int:
    """POST signed bytes; the HTTP status, or 0 when the product could not be reached."""
    url = target_url(webhook_url)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "facebookexternalua",
        "X-Hub-Signature-256": signature_header(body),
    }
    try:
        response = requests.post(url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        logger.warning("Sandbox webhook to %s failed: %s", urlsplit(url).path, type(exc).__name__)
        return 0
    return response.status_code


def sandbox_webhook_post(*, payload: dict[str, Any], webhook_url: str | None = None) -> int:
    """Sign any payload with the app secret and POST it; the HTTP status (0: unreachable)."""
    return post_body(encode_body(payload), webhook_url=webhook_url)


def new_mid() -> str:
    return "m_" + secrets.token_urlsafe(64)


def timestamp_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def page_envelope(*, page_id: str, events: list[dict[str, Any]], time_ms: int) -> dict[str, Any]:
    return {"object": "page", "entry": [{"id": page_id, "time": time_ms, "messaging": events}]}


def _app_id() -> int | str:
    # Facebook sends app ids as numbers in echoes.
    app_id = settings.FB_APP_ID
    return int(app_id) if app_id.isdigit() else app_id


def echo_event(*, send_call: SandboxSendCall, page_id: str, attachment: dict[str, Any] | None = None) -> dict[str, Any]:
    """``attachment``: what the echo carries instead of the sent one (an upload's CDN address)."""
    sent = send_call.request_body.get("message") or {}
    message: dict[str, Any] = {"mid": send_call.message_id, "is_echo": True, "app_id": _app_id()}
    if send_call.metadata:
        message["metadata"] = send_call.metadata
    if isinstance(sent.get("text"), str):
        message["text"] = sent["text"]
    if attachment is not None:
        message["attachments"] = [attachment]
    elif isinstance(sent.get("attachment"), dict):
        message["attachments"] = [sent["attachment"]]
    moment = timestamp_ms(send_call.created_at)
    return {"sender": {"id": page_id}, "recipient": _customer(send_call), "timestamp": moment, "message": message}


def _customer(send_call: SandboxSendCall) -> dict[str, str]:
    """The customer as webhooks name them: a PSID, or a chat-plugin guest's user_ref."""
    return {"user_ref": send_call.psid} if send_call.to_user_ref else {"id": send_call.psid}


def delivery_event(*, send_call: SandboxSendCall, page_id: str) -> dict[str, Any]:
    # Like many real deliveries, the item has no timestamp of its own.
    watermark = timestamp_ms(send_call.created_at)
    return {
        "sender": _customer(send_call),
        "recipient": {"id": page_id},
        "delivery": {"mids": [send_call.message_id], "watermark": watermark},
    }


def outbound_queue_for_send(
    *, send_call: SandboxSendCall, page: SandboxPage, echo_attachment: dict[str, Any] | None = None
) -> None:
    """Queue the echo and the delivery Facebook owes the product for a successful send."""
    now_ms = timestamp_ms(timezone.now())
    for kind, event in (
        (WebhookKind.ECHO, echo_event(send_call=send_call, page_id=page.page_id, attachment=echo_attachment)),
        (WebhookKind.DELIVERY, delivery_event(send_call=send_call, page_id=page.page_id)),
    ):
        body = encode_body(page_envelope(page_id=page.page_id, events=[event], time_ms=now_ms))
        SandboxOutboundWebhook.objects.create(page=page, send_call=send_call, kind=kind, body=body.decode("ascii"))


def _claimable(now: datetime) -> Q:
    return Q(delivered_at__isnull=True, abandoned_at__isnull=True) & (
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )


def outbound_pending_count() -> int:
    return SandboxOutboundWebhook.objects.filter(delivered_at__isnull=True, abandoned_at__isnull=True).count()


def outbound_flush(*, webhook_url: str | None = None) -> int:
    """Send queued webhooks in order; returns how many the product accepted (2xx).

    Stops at the first refusal so that a product that is down is not hammered and order
    is kept; what is left goes out on the next flush. Each row is claimed with a lease
    (a conditional UPDATE), so concurrent flushes never send a row twice and no
    transaction is open while the product handles the request.
    """
    delivered = 0
    now = timezone.now()
    ids = list(SandboxOutboundWebhook.objects.filter(_claimable(now)).values_list("id", flat=True)[:FLUSH_BATCH])
    for webhook_id in ids:
        now = timezone.now()
        claimed = SandboxOutboundWebhook.objects.filter(_claimable(now), pk=webhook_id).update(
            claimed_until=now + timedelta(seconds=CLAIM_SECONDS)
        )
        if not claimed:
            continue
        webhook = SandboxOutboundWebhook.objects.get(pk=webhook_id)
        status = post_body(webhook.body.encode("ascii"), webhook_url=webhook_url)
        if not _record_attempt(webhook=webhook, status=status):
            break
        delivered += 1
    return delivered


def flush_webhooks(*, webhook_url: str | None = None) -> int:
    """Send the echoes and deliveries owed for past sends; how many the product accepted."""
    return outbound_flush(webhook_url=webhook_url)


@transaction.atomic
def _record_attempt(*, webhook: SandboxOutboundWebhook, status: int) -> bool:
    now = timezone.now()
    webhook.attempts += 1
    webhook.last_status = status
    webhook.claimed_until = None
    accepted = 200 <= status < 300
    if accepted:
        webhook.delivered_at = now
        if webhook.kind == WebhookKind.DELIVERY and webhook.send_call_id is not None:
            SandboxSendCall.objects.filter(pk=webhook.send_call_id, delivered_at__isnull=True).update(delivered_at=now)
    elif webhook.attempts >= MAX_ATTEMPTS:
        webhook.abandoned_at = now
        logger.warning("Sandbox webhook %s abandoned after %s attempts", webhook.pk, webhook.attempts)
    webhook.save(update_fields=["attempts", "last_status", "claimed_until", "delivered_at", "abandoned_at"])
    return accepted
