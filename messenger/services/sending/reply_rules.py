"""The rules a reply must pass before it is stored, and again before it is sent: whether
the conversation can be answered now, and what a text may be."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from channels import message_text
from helpdesk.exceptions import (
    ChannelDeleted,
    ChannelDisabled,
    ColleagueReplied,
    ContactBlocked,
    HelpdeskError,
    InvalidInput,
    MessageTooLong,
    PageReauthorizationRequired,
    ReplyWindowClosed,
)
from helpdesk.models import Organization
from helpdesk.names import user_name
from messenger.models import Conversation, FacebookPage, MessageSource, PageStatus
from messenger.reply_window import ReplyWindow, WindowState, reply_window
from messenger.selectors import messages as message_selectors

# The longest reply: the product's one rule of a message's length (channels.message_text),
# read through this module's name so that the reply checks, the API's schema and the
# composers ask one place.
MAX_TEXT_LENGTH = message_text.MAX_TEXT_LENGTH
text_length = message_text.text_length
normalize_text = message_text.normalize_text

# A colleague's reply asks for confirmation when it was sent after the agent's page showed
# the conversation (or after their own last reply from it) and at most this long ago: older
# than that, it has been on their screen (the transcript is live) long enough to be read.
COLLISION_WINDOW_SECONDS = 120


def colleague_reply_check(
    *,
    organization: Organization,
    conversation: Conversation,
    acting_user: Any,
    seen_at: datetime,
    now: datetime | None = None,
) -> None:
    """Raise ColleagueReplied when another member replied after ``seen_at`` (when the agent's
    page showed the conversation, their last reply from it, or their confirmation) within
    COLLISION_WINDOW_SECONDS."""
    now = now or timezone.now()
    after = max(seen_at, now - timedelta(seconds=COLLISION_WINDOW_SECONDS))
    found = message_selectors.colleague_reply_latest(
        organization=organization, conversation=conversation, user_id=getattr(acting_user, "pk", 0) or 0, after=after
    )
    if found is not None:
        seconds = max(0, int((now - found.sent_at).total_seconds()))
        raise ColleagueReplied(name=user_name(found.author), seconds=seconds)


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


def outbound_window_check(
    *,
    conversation: Conversation,
    source: str,
    page: FacebookPage | None = None,
    now: datetime | None = None,
) -> ReplyWindow:
    """`conversation_reply_check` for a message of this source (``MessageSource``).

    An automatic message (the out-of-hours reply) goes out only inside the standard 24-hour
    window, as ``RESPONSE``: Meta forbids the ``HUMAN_AGENT`` tag for automated messages, so
    after 24 hours it is refused (``reply_window_closed``), never tagged. The delivery asks
    this again before sending, so an automatic message queued at 23 h 59 min and sent later
    fails instead of going out with the tag.
    """
    window = conversation_reply_check(conversation=conversation, page=page, now=now)
    if source == MessageSource.AUTOMATIC and window.state != WindowState.STANDARD:
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
