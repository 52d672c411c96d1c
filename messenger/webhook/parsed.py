"""What a parsed webhook event is: the kinds the event log names, why an event is ignored
as parsed, and the dataclasses of what an event says. Imports nothing of the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Event kinds as the event log names them.
MESSAGE = "message"
ECHO = "echo"
POSTBACK = "postback"
DELIVERY = "delivery"
READ = "read"
REACTION = "reaction"
MESSAGE_EDIT = "message_edit"
REFERRAL = "referral"
OPTIN = "optin"
CHANGES = "changes"
UNKNOWN = "unknown"
MALFORMED = "malformed"
OBJECT_PREFIX = "object:"

# Message kinds (messenger.models.MessageKind values; this module imports nothing of the project).
KIND_TEXT = "text"
KIND_ATTACHMENT = "attachment"
KIND_STICKER = "sticker"
KIND_POSTBACK = "postback"
KIND_REFERRAL = "referral"
KIND_OPTIN = "optin"

# Why an event was ignored (WebhookEvent.reason); the ingest adds the routing reasons.
REASON_NOT_HANDLED = "not_handled"
REASON_UNKNOWN_KIND = "unknown_kind"
REASON_DASHBOARD_TEST = "dashboard_test"
REASON_CHANGES_NOT_HANDLED = "changes_not_handled"
REASON_UNSUPPORTED_OBJECT = "unsupported_object"
REASON_MALFORMED = "malformed"
REASON_NO_SENDER = "no_sender"
REASON_NO_TARGET = "no_target"

# Kinds Facebook may send that the helpdesk knowingly does not act on (handover protocol
# control, account linking, payments, games, policy notices, feedback forms…).
IGNORED_KINDS = frozenset(
    {
        "account_linking",
        "app_roles",
        "checkout_update",
        "game_play",
        "messaging_feedback",
        "pass_thread_control",
        "payment",
        "policy_enforcement",
        "pre_checkout",
        "request_thread_control",
        "take_thread_control",
    }
)

# The "like" thumbs-up is a sticker with one of these ids (small, medium, large).
LIKE_STICKER_IDS = frozenset({"369239263222822", "369239343222814", "369239383222810"})


@dataclass(frozen=True, slots=True)
class Content:
    """What a message, echo, postback, referral or opt-in says (becomes a Message row)."""

    kind: str
    text: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    sticker_id: str = ""
    quick_reply_payload: str = ""
    reply_to_mid: str = ""
    postback_title: str = ""
    postback_payload: str = ""
    # Echoes only: the app that sent it and the Send API metadata it carried.
    app_id: str = ""
    metadata: str = ""


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery or read watermark: every message sent up to it is delivered / read."""

    watermark: datetime | None
    mids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reaction:
    action: str  # "react" or "unreact"
    reaction: str = ""
    emoji: str = ""


@dataclass(frozen=True, slots=True)
class Edit:
    text: str
    num_edit: int


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """One event of a POST. `payload` is the item exactly as received (kept in the event log)."""

    kind: str
    page_id: str
    payload: Any
    # When the POST that carried it arrived (events applied together may come from several POSTs).
    received_at: datetime
    # Facebook's timestamp, never later than the moment the body arrived; None when absent.
    occurred_at: datetime | None = None
    # Milliseconds as sent, for ordering events of the same moment and for reaction recency.
    timestamp_ms: int = 0
    # The customer: sender for inbound kinds, recipient for echoes (PSID or chat-plugin user_ref).
    customer_id: str = ""
    is_guest: bool = False
    # The message it is (message, echo, postback…) or is about (reaction, edit). For kinds
    # without a Facebook mid (referral, opt-in, old postbacks) a stable id derived from the item.
    mid: str = ""
    standby: bool = False
    detail: Content | Receipt | Reaction | Edit | None = None
    # Set when the event is recorded as ignored whatever its page.
    ignored_reason: str = ""
