"""Reads for the sandbox's HTML pages, and of what the product sent, for tests::

    sandbox_sent_messages(page_id=..., psid=customer.psid)   # every Send API call
    sandbox_uploads(page_id=...)                              # every file uploaded

Both oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Prefetch, Q
from django.urls import reverse
from django.utils import timezone

from messenger.sandbox.models import (
    SandboxCustomer,
    SandboxCustomerMessage,
    SandboxOutboundWebhook,
    SandboxPage,
    SandboxSendCall,
    SandboxSendFailure,
    SandboxToken,
    SandboxUpload,
    SandboxUser,
)
from messenger.sandbox.tokens import token_problem

SEND_LOG_SIZE = 50
TOKENS_SHOWN_PER_USER = 12
THREAD_SIZE = 200
TYPING_SHOWN_FOR = timedelta(seconds=20)


@dataclass(frozen=True, slots=True)
class TokenRow:
    token: SandboxToken
    problem: str  # empty while valid


@dataclass(frozen=True, slots=True)
class UserOverview:
    user: SandboxUser
    pages: list[SandboxPage]
    tokens: list[TokenRow]


@dataclass(frozen=True, slots=True)
class WebhookCounts:
    pending: int
    delivered: int
    abandoned: int


def sandbox_overview() -> list[UserOverview]:
    pages = SandboxPage.objects.select_related("subscription").annotate(customer_count=Count("customers"))
    failures = SandboxSendFailure.objects.filter(remaining__gt=0)
    users = SandboxUser.objects.prefetch_related(
        Prefetch("pages", queryset=pages.prefetch_related(Prefetch("scripted_failures", queryset=failures)))
    )
    overview = []
    now = timezone.now()
    for user in users:
        tokens = list(user.tokens.select_related("page", "user").order_by("-issued_at", "-id")[:TOKENS_SHOWN_PER_USER])
        rows = []
        for token in tokens:
            problem = token_problem(token, now=now)
            rows.append(TokenRow(token, f"{problem.code}/{problem.subcode}" if problem else ""))
        overview.append(UserOverview(user=user, pages=list(user.pages.all()), tokens=rows))
    return overview


def send_log(*, limit: int = SEND_LOG_SIZE) -> list[SandboxSendCall]:
    return list(SandboxSendCall.objects.select_related("page").order_by("-created_at", "-id")[:limit])


def sandbox_sent_messages(*, page_id: str, psid: str | None = None) -> list[SandboxSendCall]:
    """Every Send API call recorded for the page (and customer), oldest first: messages,
    sender actions and refusals alike (``.succeeded``, ``.http_status``, ``.error_code``,
    ``.request_body``, ``.text``, ``.metadata``, ``.message_id``)."""
    calls = SandboxSendCall.objects.filter(page__page_id=page_id)
    if psid is not None:
        calls = calls.filter(psid=psid)
    return list(calls.order_by("created_at", "id"))


def sandbox_uploads(*, page_id: str) -> list[SandboxUpload]:
    """Every file the page uploaded (Attachment Upload API or multipart send), oldest first,
    with the bytes as they arrived (``.data``), ``.attachment_type``, ``.file_name``,
    ``.content_type`` (from the bytes) and ``.attachment_id``."""
    return list(SandboxUpload.objects.filter(page__page_id=page_id).order_by("created_at", "id"))


def webhook_counts() -> WebhookCounts:
    counts = SandboxOutboundWebhook.objects.aggregate(
        pending=Count("id", filter=Q(delivered_at__isnull=True, abandoned_at__isnull=True)),
        delivered=Count("id", filter=Q(delivered_at__isnull=False)),
        abandoned=Count("id", filter=Q(abandoned_at__isnull=False)),
    )
    return WebhookCounts(**counts)


def page_get(*, page_id: str) -> SandboxPage | None:
    return SandboxPage.objects.select_related("owner", "subscription").filter(page_id=page_id).first()


def page_customers(*, page: SandboxPage) -> list[SandboxCustomer]:
    return list(page.customers.order_by("first_name", "last_name", "id"))


@dataclass(frozen=True, slots=True)
class ThreadItem:
    outgoing: bool
    at: datetime
    text: str
    attachments: list[dict[str, Any]] = field(default_factory=list)
    sticker_id: int | None = None
    delivered: bool = False
    read: bool = False
    error: str = ""
    tag: str = ""


@dataclass(frozen=True, slots=True)
class Thread:
    items: list[ThreadItem]
    typing: bool


def _shown_attachment(attachment: dict[str, Any]) -> dict[str, Any]:
    """An uploaded file is shown from the sandbox's own copy of the bytes (its CDN stand-in)."""
    payload = attachment.get("payload")
    if not isinstance(payload, dict) or not payload.get("attachment_id"):
        return attachment
    url = reverse("sandbox:upload_file", kwargs={"attachment_id": str(payload["attachment_id"])})
    return {**attachment, "payload": {**payload, "url": url}}


def _outgoing_item(call: SandboxSendCall) -> ThreadItem:
    message = call.request_body.get("message") if isinstance(call.request_body, dict) else None
    attachment = message.get("attachment") if isinstance(message, dict) else None
    error = ""
    if not call.succeeded:
        error = f"{call.error_code or call.http_status}" + (f"/{call.error_subcode}" if call.error_subcode else "")
    return ThreadItem(
        outgoing=True,
        at=call.created_at,
        text=call.text,
        attachments=[_shown_attachment(attachment)] if isinstance(attachment, dict) else [],
        delivered=call.delivered_at is not None,
        read=call.read_at is not None,
        error=error,
        tag=call.tag,
    )


def customer_thread(*, customer: SandboxCustomer) -> Thread:
    """The customer's messages and the page's sends, in time order (latest ``THREAD_SIZE``)."""
    incoming = SandboxCustomerMessage.objects.filter(customer=customer).order_by("-sent_at", "-id")[:THREAD_SIZE]
    calls = list(
        SandboxSendCall.objects.filter(page_id=customer.page_id, psid=customer.psid).order_by("-created_at", "-id")[
            :THREAD_SIZE
        ]
    )
    items = [
        ThreadItem(
            outgoing=False,
            at=message.sent_at,
            text=message.text,
            attachments=list(message.attachments),
            sticker_id=message.sticker_id,
        )
        for message in incoming
    ]
    items += [_outgoing_item(call) for call in calls if not call.sender_action]
    items.sort(key=lambda item: item.at)
    actions = [call for call in calls if call.sender_action and call.succeeded]
    typing = bool(
        actions
        and actions[0].sender_action == "typing_on"
        and timezone.now() - actions[0].created_at < TYPING_SHOWN_FOR
        and not any(not c.sender_action and c.created_at > actions[0].created_at for c in calls)
    )
    return Thread(items=items[-THREAD_SIZE:], typing=typing)
