"""The rules a reply must pass before it is stored, and again before it is sent: whether
the conversation can be answered now, and what a text may be."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext as _

from helpdesk.exceptions import (
    ChannelDeleted,
    ChannelDisabled,
    ContactBlocked,
    HelpdeskError,
    InvalidInput,
    MessageTooLong,
    PageReauthorizationRequired,
    ReplyWindowClosed,
)
from messenger.models import Conversation, FacebookPage, PageStatus
from messenger.reply_window import ReplyWindow, reply_window

# The longest reply an agent may send, in Unicode code points (the Send API itself takes more).
# The one place of this rule: the service, its error, the API's schema, the composers'
# counters and hints all read it here.
MAX_TEXT_LENGTH = 1600


def text_length(text: str) -> int:
    """Characters as the product counts them: Unicode code points (JS ``[...text].length``)."""
    return len(text)


def normalize_text(text: str) -> str:
    # Browsers submit a textarea's line breaks as CRLF; the counter in the page sees LF.
    # NUL is no character of a message (and PostgreSQL text cannot hold it): it is dropped.
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()


def conversation_reply_check(
    *, conversation: Conversation, page: FacebookPage | None = None, now: datetime | None = None
) -> ReplyWindow:
    """Raise the reason this conversation cannot be answered now, or return its window."""
    channel = conversation.channel
    if channel.deleted_at is not None:
        raise ChannelDeleted
    if not channel.is_enabled:
        raise ChannelDisabled
    page = page or conversation.page
    if page.unlinked_at is not None or page.status == PageStatus.REAUTHORIZATION_REQUIRED:
        raise PageReauthorizationRequired
    if conversation.contact.is_blocked:
        raise ContactBlocked
    window = reply_window(conversation.last_inbound_at, now=now)
    if not window.is_open:
        raise ReplyWindowClosed
    return window


def reply_refusal(*, conversation: Conversation) -> HelpdeskError | None:
    """The refusal the composer should show before the agent types (None: may reply)."""
    try:
        conversation_reply_check(conversation=conversation)
    except HelpdeskError as refusal:
        return refusal
    return None


def validate_text(text: str) -> str:
    text = normalize_text(text)
    if not text:
        raise InvalidInput(_("Write a message first."), details={"text": [_("This field is required.")]})
    if text_length(text) > MAX_TEXT_LENGTH:
        raise MessageTooLong(
            limit=MAX_TEXT_LENGTH,
            details={
                "text": [_("%(count)d of %(max)d characters.") % {"count": text_length(text), "max": MAX_TEXT_LENGTH}]
            },
        )
    return text
