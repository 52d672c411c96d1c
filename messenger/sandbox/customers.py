"""Messenger users who write to a sandbox page, and what they do there, each posted to the
product as a signed webhook (to ``settings.SANDBOX_WEBHOOK_URL`` unless given a
``webhook_url``; status 0 when the product cannot be reached, never an exception)::

    customer = sandbox_customer_create(page_id=..., first_name="Bo", last_name="Li")
    sandbox_customer_message(page_id=..., psid=customer.psid, text="Hello")   # signed webhook
    sandbox_customer_read(page_id=..., psid=customer.psid)                    # read receipt

PSIDs are strings, as on Facebook's wire.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from messenger.sandbox import webhooks
from messenger.sandbox.models import SandboxCustomer, SandboxCustomerMessage, SandboxPage, SandboxSendCall
from messenger.sandbox.people import new_facebook_id

LIKE_STICKER_ID = 369239263222822


def sandbox_customer_create(
    *,
    page_id: str,
    first_name: str,
    last_name: str,
    psid: str | None = None,
    has_profile: bool = True,
    is_guest: bool = False,
) -> SandboxCustomer:
    """A Messenger user of the page; ``has_profile=False``: profile lookups answer 2018218.
    ``is_guest``: a guest of the page's chat plugin, known by a user_ref (kept in ``psid``)
    instead of a PSID, with no profile."""
    page = SandboxPage.objects.get(page_id=page_id)
    if is_guest:
        psid = psid or f"guest_{secrets.token_hex(12)}"
        has_profile = False
    return SandboxCustomer.objects.create(
        page=page,
        psid=psid or new_facebook_id(16),
        first_name=first_name,
        last_name=last_name,
        has_profile=has_profile,
        is_guest=is_guest,
    )


def _sender(customer: SandboxCustomer) -> dict[str, str]:
    """How webhooks name the customer: a PSID, or a chat-plugin guest's user_ref."""
    return {"user_ref": customer.psid} if customer.is_guest else {"id": customer.psid}


def _message_event(
    *,
    page_id: str,
    sender: dict[str, str],
    mid: str,
    text: str | None,
    attachments: list[dict[str, Any]] | None,
    moment_ms: int,
    quick_reply_payload: str | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"mid": mid}
    if text is not None:
        message["text"] = text
    if quick_reply_payload is not None:
        message["quick_reply"] = {"payload": quick_reply_payload}
    if attachments:
        message["attachments"] = attachments
        sticker_ids = [a["payload"]["sticker_id"] for a in attachments if "sticker_id" in (a.get("payload") or {})]
        if sticker_ids:
            message["sticker_id"] = sticker_ids[0]
    return {"sender": sender, "recipient": {"id": page_id}, "timestamp": moment_ms, "message": message}


def sandbox_customer_message(
    *,
    page_id: str,
    psid: str,
    text: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
    timestamp_ms: int | None = None,
    webhook_url: str | None = None,
    quick_reply_payload: str | None = None,
) -> dict[str, Any]:
    """The customer writes to the page (``quick_reply_payload``: taps a quick reply, whose
    title is the ``text``): moves the sandbox's window clock, then posts the
    signed ``messages`` webhook. Returns ``{"payload", "status", "mid"}`` (status 0: the
    product could not be reached). ``timestamp_ms`` backdates the message (for windows)."""
    if text is None and not attachments:
        raise ValueError("a customer message needs text or attachments")
    customer = SandboxCustomer.objects.select_related("page").get(page__page_id=page_id, psid=psid)
    now = timezone.now()
    moment_ms = timestamp_ms if timestamp_ms is not None else webhooks.timestamp_ms(now)
    sent_at = datetime.fromtimestamp(moment_ms / 1000, tz=now.tzinfo)
    mid = webhooks.new_mid()
    event = _message_event(
        page_id=page_id,
        sender=_sender(customer),
        mid=mid,
        text=text,
        attachments=attachments,
        moment_ms=moment_ms,
        quick_reply_payload=quick_reply_payload,
    )
    with transaction.atomic():
        record = SandboxCustomerMessage.objects.create(
            customer=customer,
            mid=mid,
            text=text or "",
            attachments=attachments or [],
            sticker_id=event["message"].get("sticker_id"),
            sent_at=sent_at,
        )
        SandboxCustomer.objects.filter(pk=customer.pk).filter(
            Q(last_message_at__isnull=True) | Q(last_message_at__lt=sent_at)
        ).update(last_message_at=sent_at)
    payload = webhooks.page_envelope(page_id=page_id, events=[event], time_ms=webhooks.timestamp_ms(now))
    status = webhooks.sandbox_webhook_post(payload=payload, webhook_url=webhook_url)
    SandboxCustomerMessage.objects.filter(pk=record.pk).update(webhook_status=status)
    return {"payload": payload, "status": status, "mid": mid}


def sandbox_customer_read(*, page_id: str, psid: str, webhook_url: str | None = None) -> dict[str, Any]:
    """The customer opens the thread: everything the page sent so far is read (and
    delivered); posts the ``read`` webhook with the watermark. Returns ``{"payload", "status"}``."""
    customer = SandboxCustomer.objects.get(page__page_id=page_id, psid=psid)
    now = timezone.now()
    watermark = webhooks.timestamp_ms(now)
    sent = SandboxSendCall.objects.filter(page=customer.page_id, psid=psid, created_at__lte=now).exclude(message_id="")
    sent.filter(delivered_at__isnull=True).update(delivered_at=now)
    sent.filter(read_at__isnull=True).update(read_at=now)
    event = {
        "sender": _sender(customer),
        "recipient": {"id": page_id},
        "timestamp": watermark,
        "read": {"watermark": watermark},
    }
    payload = webhooks.page_envelope(page_id=page_id, events=[event], time_ms=watermark)
    return {"payload": payload, "status": webhooks.sandbox_webhook_post(payload=payload, webhook_url=webhook_url)}


# Facebook's referral sources the simulator can send.
REFERRAL_SOURCES = ("SHORTLINK", "ADS", "CUSTOMER_CHAT_PLUGIN")


def sandbox_customer_referral(
    *,
    page_id: str,
    psid: str,
    source: str = "SHORTLINK",
    ref: str = "",
    ad_id: str = "",
    ad_title: str = "",
    referer_uri: str = "",
    postback: bool = False,
    webhook_url: str | None = None,
) -> dict[str, Any]:
    """The customer opens the thread from an m.me link (``source="SHORTLINK"``, its ``ref``),
    a click-to-Messenger ad (``"ADS"``, ``ad_id``, ``ad_title`` as ads_context_data) or the
    chat plugin (``"CUSTOMER_CHAT_PLUGIN"``, ``referer_uri``): posts the ``messaging_referrals``
    webhook, or with ``postback`` a Get Started postback carrying the referral (how a new
    thread arrives). Returns ``{"payload", "status"}``."""
    customer = SandboxCustomer.objects.get(page__page_id=page_id, psid=psid)
    now_ms = webhooks.timestamp_ms(timezone.now())
    referral: dict[str, Any] = {"source": source, "type": "OPEN_THREAD"}
    if ref:
        referral["ref"] = ref
    if ad_id:
        referral["ad_id"] = ad_id
        referral["ads_context_data"] = {"ad_title": ad_title} if ad_title else {}
    if referer_uri:
        referral["referer_uri"] = referer_uri
    event: dict[str, Any] = {"sender": _sender(customer), "recipient": {"id": page_id}, "timestamp": now_ms}
    if postback:
        event["postback"] = {
            "mid": webhooks.new_mid(),
            "title": "Get Started",
            "payload": "GET_STARTED",
            "referral": referral,
        }
    else:
        event["referral"] = referral
    payload = webhooks.page_envelope(page_id=page_id, events=[event], time_ms=now_ms)
    return {"payload": payload, "status": webhooks.sandbox_webhook_post(payload=payload, webhook_url=webhook_url)}
