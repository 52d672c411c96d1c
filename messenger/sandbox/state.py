"""The sandbox's Python API, for tests, ``seed_demo`` and the controls page.

Every function is keyword-only. Page ids and PSIDs are strings, as on Facebook's wire.
Functions that post webhooks go to ``settings.SANDBOX_WEBHOOK_URL`` unless given a
``webhook_url``; they never raise when the product cannot be reached (status 0).

People and pages::

    user = sandbox_user_create(name="Ann")                      # all LOGIN_SCOPES granted
    page = sandbox_page_create(user=user, name="Ann's shop")    # page_id generated
    token = sandbox_page_token_issue(page_id=page.page_id)      # long-lived, no OAuth dance

What goes wrong on Facebook's side::

    sandbox_tokens_expire(page_id=...)        # calls then fail with 190/463
    sandbox_password_change(user=user)        # 190/460
    sandbox_app_remove(user=user)             # 190/458
    sandbox_permission_revoke(user=user, permission="pages_messaging")   # Send API: code 10
    sandbox_send_failures_script(page_id=..., http_status=500, code=2, is_transient=True, times=2)

Customers::

    customer = sandbox_customer_create(page_id=..., first_name="Bo", last_name="Li")
    sandbox_customer_message(page_id=..., psid=customer.psid, text="Hello")   # signed webhook
    sandbox_sent_messages(page_id=..., psid=customer.psid)   # what the product sent back
    flush_webhooks()                                          # echoes and deliveries owed
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from messenger.graph import LOGIN_SCOPES
from messenger.sandbox import errors, webhooks
from messenger.sandbox.models import (
    SandboxAuthCode,
    SandboxCustomer,
    SandboxCustomerMessage,
    SandboxOutboundWebhook,
    SandboxPage,
    SandboxSendCall,
    SandboxSendFailure,
    SandboxSubscription,
    SandboxToken,
    SandboxUpload,
    SandboxUser,
    TokenKind,
)
from messenger.sandbox.tokens import (
    LONG_LIVED_SECONDS,
    SHORT_LIVED_SECONDS,
    SUBCODE_APP_REMOVED,
    app_removed_message,
    token_issue,
)

ALL_PERMISSIONS: tuple[str, ...] = LOGIN_SCOPES
# What the dialog accepts in ``scope`` (anything else is refused as Facebook does).
KNOWN_PERMISSIONS: tuple[str, ...] = (
    *LOGIN_SCOPES,
    "business_management",
    "pages_read_user_content",
    "pages_manage_posts",
    "public_profile",
    "email",
)
LIKE_STICKER_ID = 369239263222822

DEFAULT_USER_ID = "100000000000010"
DEFAULT_USER_NAME = "Sandbox Admin"
DEFAULT_PAGES: tuple[tuple[str, str], ...] = (
    ("100000000000101", "Demo Page"),
    ("100000000000102", "Second Page"),
    ("100000000000103", "Third Page"),
)
# Per page: two customers with a profile, one without (profile lookups answer 2018218).
DEFAULT_CUSTOMERS: tuple[tuple[tuple[str, str], tuple[str, str]], ...] = (
    (("Aiko", "Tanaka"), ("Ben", "Carter")),
    (("Chloé", "Martin"), ("Diego", "Alvarez")),
    (("Emma", "Schmidt"), ("Farid", "Haddad")),
)


# --------------------------------------------------------------------------- people and pages


def _digits(count: int) -> str:
    return str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(count - 1))


def sandbox_user_create(
    *, name: str, permissions: Sequence[str] = ALL_PERMISSIONS, facebook_id: str | None = None
) -> SandboxUser:
    """A Facebook person who has already granted the app ``permissions`` (none: not installed)."""
    return SandboxUser.objects.create(
        facebook_id=facebook_id or _digits(15),
        name=name,
        granted_permissions=list(dict.fromkeys(permissions)),
        app_installed=bool(permissions),
    )


def sandbox_page_create(
    *, user: SandboxUser, name: str, page_id: str | None = None, category: str = "Business"
) -> SandboxPage:
    """A page ``user`` administers (all tasks, MESSAGING included)."""
    return SandboxPage.objects.create(page_id=page_id or _digits(15), name=name, category=category, owner=user)


def sandbox_page_token_issue(*, page_id: str) -> str:
    """A valid long-lived page token for the page's owner, as if linked through OAuth.

    It never expires by itself; it dies like any other (expire, password, app removal).
    """
    page = SandboxPage.objects.select_related("owner").get(page_id=page_id)
    _token, raw = token_issue(kind=TokenKind.PAGE, user=page.owner, page=page)
    return raw


def sandbox_user_token_issue(*, user: SandboxUser, long_lived: bool = True) -> str:
    """A user token without the dialog (for tests of ``/me/accounts`` and ``debug_token``)."""
    kind, lifetime = (
        (TokenKind.USER_LONG, LONG_LIVED_SECONDS) if long_lived else (TokenKind.USER_SHORT, SHORT_LIVED_SECONDS)
    )
    _token, raw = token_issue(kind=kind, user=user, lifetime_seconds=lifetime)
    return raw


# --------------------------------------------------------------------------- what goes wrong


def sandbox_tokens_expire(*, user: SandboxUser | None = None, page_id: str | None = None) -> int:
    """Expire tokens now (then 190/463): a person's (user and page tokens alike), a page's,
    or, with neither argument, every token. Returns how many expired."""
    tokens = SandboxToken.objects.all()
    if user is not None:
        tokens = tokens.filter(user=user)
    if page_id is not None:
        tokens = tokens.filter(page__page_id=page_id)
    now = timezone.now()
    alive = tokens.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    return alive.update(expires_at=now - timedelta(seconds=1))


@transaction.atomic
def sandbox_permission_revoke(*, user: SandboxUser, permission: str) -> None:
    """The person removes one permission in their settings: tokens stay valid, calls that
    need it fail (Send API and profiles: code 10; page metadata and accounts: code 200)."""
    user.refresh_from_db()
    user.granted_permissions = [p for p in user.granted_permissions if p != permission]
    if permission not in user.declined_permissions:
        user.declined_permissions = [*user.declined_permissions, permission]
    user.save(update_fields=["granted_permissions", "declined_permissions"])


@transaction.atomic
def sandbox_app_remove(*, user: SandboxUser) -> None:
    """The person removes the app: every token dies for good (190/458), grants and the
    app's page subscriptions go; logging in again installs it afresh."""
    now = timezone.now()
    SandboxToken.objects.filter(user=user, invalid_code__isnull=True).update(
        invalid_code=190, invalid_subcode=SUBCODE_APP_REMOVED, invalid_message=app_removed_message(), invalidated_at=now
    )
    SandboxSubscription.objects.filter(page__owner=user).delete()
    SandboxUser.objects.filter(pk=user.pk).update(app_installed=False, granted_permissions=[])
    user.refresh_from_db()


def sandbox_password_change(*, user: SandboxUser) -> None:
    """Tokens issued before now fail with 190/460."""
    SandboxUser.objects.filter(pk=user.pk).update(password_generation=F("password_generation") + 1)
    user.refresh_from_db()


@dataclass(frozen=True, slots=True)
class FailurePreset:
    label: str
    http_status: int
    code: int
    subcode: int | None = None
    is_transient: bool = False
    delay_seconds: float | None = None


def failure_presets() -> dict[str, FailurePreset]:
    """The rows of MESSENGER.md's error table the controls page offers."""
    return {
        "token_expired": FailurePreset("190 / 463 — token expired", 400, 190, 463),
        "window_closed": FailurePreset("10 / 2018278 — outside the messaging window", 400, 10, 2018278),
        "unavailable": FailurePreset("551 — this person isn't available right now", 400, 551, 1545041),
        "rate_limited": FailurePreset("613 — rate limited", 400, 613),
        "server_error": FailurePreset("HTTP 500 — unexpected error (transient)", 500, 2, None, True),
        "timeout": FailurePreset(
            "Timeout — no answer before the client gives up", 500, 2, None, True, settings.FB_GRAPH_TIMEOUT + 5
        ),
    }


_FAILURE_MESSAGES = {
    1: "An unknown error occurred",
    2: "An unexpected error has occurred. Please retry your request later.",
    4: "(#4) Application request limit reached",
    10: errors.WINDOW_MESSAGE,
    190: "Error validating access token: Session has expired.",
    551: "(#551) This person isn't available right now.",
    613: "(#613) Calls to this api have exceeded the rate limit.",
}


def sandbox_send_failures_script(
    *,
    page_id: str,
    http_status: int,
    code: int,
    subcode: int | None = None,
    is_transient: bool = False,
    times: int = 1,
    delay_seconds: float | None = None,
    message: str | None = None,
) -> SandboxSendFailure:
    """The next ``times`` Send API calls of the page answer this Graph error.

    With ``delay_seconds`` the sandbox first sleeps that long (longer than the client's
    timeout: a timeout). With an ``http_status`` below 400 the call is only slow and then
    goes through (sent, echoed), like a send that timed out on the client's side.
    """
    if times < 1:
        raise ValueError("times must be at least 1")
    page = SandboxPage.objects.get(page_id=page_id)
    return SandboxSendFailure.objects.create(
        page=page,
        http_status=http_status,
        code=code,
        subcode=subcode,
        is_transient=is_transient,
        message=message or _FAILURE_MESSAGES.get(code, f"(#{code}) Scripted sandbox failure"),
        remaining=times,
        delay_seconds=delay_seconds,
    )


def sandbox_sent_messages(*, page_id: str, psid: str | None = None) -> list[SandboxSendCall]:
    """Every Send API call recorded for the page (and customer), oldest first: messages,
    sender actions and refusals alike (``.succeeded``, ``.http_status``, ``.error_code``,
    ``.request_body``, ``.text``, ``.metadata``, ``.message_id``)."""
    calls = SandboxSendCall.objects.filter(page__page_id=page_id)
    if psid is not None:
        calls = calls.filter(psid=psid)
    return list(calls.order_by("created_at", "id"))


# --------------------------------------------------------------------------- customers


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
        psid=psid or _digits(16),
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
) -> dict[str, Any]:
    message: dict[str, Any] = {"mid": mid}
    if text is not None:
        message["text"] = text
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
) -> dict[str, Any]:
    """The customer writes to the page: moves the sandbox's window clock, then posts the
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
        page_id=page_id, sender=_sender(customer), mid=mid, text=text, attachments=attachments, moment_ms=moment_ms
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
    status = sandbox_webhook_post(payload=payload, webhook_url=webhook_url)
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
    return {"payload": payload, "status": sandbox_webhook_post(payload=payload, webhook_url=webhook_url)}


# --------------------------------------------------------------------------- webhooks


def sandbox_webhook_post(*, payload: dict[str, Any], webhook_url: str | None = None) -> int:
    """Sign any payload with the app secret and POST it; the HTTP status (0: unreachable)."""
    return webhooks.post_body(webhooks.encode_body(payload), webhook_url=webhook_url)


def sandbox_uploads(*, page_id: str) -> list[SandboxUpload]:
    """Every file the page uploaded (Attachment Upload API or multipart send), oldest first,
    with the bytes as they arrived (``.data``), ``.attachment_type``, ``.file_name``,
    ``.content_type`` (from the bytes) and ``.attachment_id``."""
    return list(SandboxUpload.objects.filter(page__page_id=page_id).order_by("created_at", "id"))


def flush_webhooks(*, webhook_url: str | None = None) -> int:
    """Send the echoes and deliveries owed for past sends; how many the product accepted."""
    return webhooks.outbound_flush(webhook_url=webhook_url)


# --------------------------------------------------------------------------- setup


def sandbox_reset() -> None:
    """Forget everything (tests)."""
    with transaction.atomic():
        for model in (
            SandboxOutboundWebhook,
            SandboxSendCall,
            SandboxUpload,
            SandboxSendFailure,
            SandboxCustomerMessage,
            SandboxCustomer,
            SandboxSubscription,
            SandboxAuthCode,
            SandboxToken,
            SandboxPage,
            SandboxUser,
        ):
            model.objects.all().delete()


def _default_psid(page_id: str, number: int) -> str:
    return f"7{page_id[-3:]}{number:012d}"


def sandbox_bootstrap() -> SandboxUser:
    """Idempotent: "Sandbox Admin" with Demo Page (100000000000101), Second Page (…102) and
    Third Page (…103), each with two customers with profiles and one without."""
    try:
        with transaction.atomic():
            return _bootstrap()
    except IntegrityError:  # a concurrent bootstrap won the race: its rows are ours
        return SandboxUser.objects.get(facebook_id=DEFAULT_USER_ID)


def _bootstrap() -> SandboxUser:
    user, _ = SandboxUser.objects.get_or_create(
        facebook_id=DEFAULT_USER_ID,
        defaults={"name": DEFAULT_USER_NAME, "granted_permissions": list(ALL_PERMISSIONS), "app_installed": True},
    )
    for (page_id, name), people in zip(DEFAULT_PAGES, DEFAULT_CUSTOMERS, strict=True):
        page, _ = SandboxPage.objects.get_or_create(page_id=page_id, defaults={"name": name, "owner": user})
        for number, (first_name, last_name) in enumerate(people, start=1):
            SandboxCustomer.objects.get_or_create(
                page=page,
                psid=_default_psid(page_id, number),
                defaults={"first_name": first_name, "last_name": last_name},
            )
        SandboxCustomer.objects.get_or_create(
            page=page,
            psid=_default_psid(page_id, 3),
            defaults={"first_name": "Private", "last_name": "Person", "has_profile": False},
        )
    return user
