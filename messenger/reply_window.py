"""Messenger's reply windows, measured from the customer's last message.

Within 24 hours of it the page may answer freely (``messaging_type=RESPONSE``); from 24
hours to 7 days only a human agent may answer, and the message carries the
``HUMAN_AGENT`` tag; after 7 days the page must wait for the customer to write again.
The time is Facebook's timestamp of the customer's message (``Conversation.last_inbound_at``).

Pure functions: the inbox, the API and the sending task all ask the same question here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)

MESSAGING_TYPE_RESPONSE = "RESPONSE"
MESSAGING_TYPE_MESSAGE_TAG = "MESSAGE_TAG"
TAG_HUMAN_AGENT = "HUMAN_AGENT"


class WindowState(StrEnum):
    STANDARD = "standard"
    HUMAN_AGENT = "human_agent"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ReplyWindow:
    state: WindowState
    # When the current window ends (None when the customer never wrote).
    closes_at: datetime | None
    remaining: timedelta

    @property
    def is_open(self) -> bool:
        return self.state != WindowState.CLOSED

    @property
    def messaging_type(self) -> str:
        """What a human agent's reply is sent as (meaningless when closed)."""
        return MESSAGING_TYPE_MESSAGE_TAG if self.state == WindowState.HUMAN_AGENT else MESSAGING_TYPE_RESPONSE

    @property
    def tag(self) -> str:
        return TAG_HUMAN_AGENT if self.state == WindowState.HUMAN_AGENT else ""

    @property
    def label(self) -> str:
        """The composer's line: "Reply window: 5 h left", "Human agent window: 3 days left"…"""
        if self.state == WindowState.STANDARD:
            return _("Reply window: %(left)s left") % {"left": remaining_text(self.remaining)}
        if self.state == WindowState.HUMAN_AGENT:
            return _("Human agent window: %(left)s left") % {"left": remaining_text(self.remaining)}
        return _("Window closed: the customer must write first")

    @property
    def short_label(self) -> str:
        """The conversation list's badge."""
        if self.state == WindowState.STANDARD:
            return remaining_text(self.remaining)
        if self.state == WindowState.HUMAN_AGENT:
            return _("Agent · %(left)s") % {"left": remaining_text(self.remaining)}
        # The window's state, not the conversation's (an open conversation can have a closed
        # window, and a closed conversation shows its own "Closed" badge beside this one).
        return pgettext("reply window", "Window closed")


def reply_window(last_inbound_at: datetime | None, *, now: datetime | None = None) -> ReplyWindow:
    """The window a reply written at ``now`` falls into."""
    if last_inbound_at is None:
        return ReplyWindow(WindowState.CLOSED, None, timedelta(0))
    now = now or timezone.now()
    # A timestamp slightly in the future (clock skew) counts as "just now".
    elapsed = max(now - last_inbound_at, timedelta(0))
    if elapsed < STANDARD_WINDOW:
        closes_at = last_inbound_at + STANDARD_WINDOW
        return ReplyWindow(WindowState.STANDARD, closes_at, STANDARD_WINDOW - elapsed)
    if elapsed < HUMAN_AGENT_WINDOW:
        closes_at = last_inbound_at + HUMAN_AGENT_WINDOW
        return ReplyWindow(WindowState.HUMAN_AGENT, closes_at, HUMAN_AGENT_WINDOW - elapsed)
    return ReplyWindow(WindowState.CLOSED, last_inbound_at + HUMAN_AGENT_WINDOW, timedelta(0))


@dataclass(frozen=True, slots=True)
class InboundRange:
    """The customers' last messages (``last_inbound_at``) that a reply written at one moment
    answers in ``state``: later than ``since``, up to ``until`` included (None: no end, since
    a timestamp in the future counts as "just now"). Within a range, the window of an earlier
    message closes earlier: ordered by ``last_inbound_at``, the rows come soonest-closing first."""

    state: WindowState
    since: datetime
    until: datetime | None

    @property
    def length(self) -> timedelta:
        """How long after the customer's message a window of this kind closes: a message at
        ``last_inbound_at`` in this range has its window close at ``last_inbound_at + length``."""
        return STANDARD_WINDOW if self.state == WindowState.STANDARD else HUMAN_AGENT_WINDOW


def open_window_ranges(*, now: datetime | None = None) -> tuple[InboundRange, ...]:
    """The rule of ``reply_window`` as ranges of ``last_inbound_at``, for a query: the
    conversations that may still be answered at ``now``, window by window."""
    now = now or timezone.now()
    return (
        InboundRange(WindowState.HUMAN_AGENT, since=now - HUMAN_AGENT_WINDOW, until=now - STANDARD_WINDOW),
        InboundRange(WindowState.STANDARD, since=now - STANDARD_WINDOW, until=None),
    )


def remaining_text(remaining: timedelta) -> str:
    """Rounded down, so that the composer never promises more time than there is."""
    seconds = int(remaining.total_seconds())
    days, hours, minutes = seconds // 86400, seconds // 3600, seconds // 60
    if days >= 1:
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    if hours >= 1:
        return _("%(count)d h") % {"count": hours}
    return _("%(count)d min") % {"count": max(minutes, 1)}
