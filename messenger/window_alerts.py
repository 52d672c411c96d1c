"""When a reply window is "closing" on a customer nobody answered, and when it closed on them.

The windows are messenger.reply_window's (24 hours to answer freely, then the human-agent
window up to 7 days after the customer's last message); this module only adds the
organization's lead times (Settings → Organization): a conversation is flagged "window
closing" when its customer waits for an answer (``waiting_since``) and its current window
closes within that lead. It is "lost to a closed window" when the 7-day window closed with
the customer still waiting.

Pure functions, as reply_window: the inbox row, the conversation page, the inbox filter and
the beat job (messenger.services.window_alerts) all ask here, so that what is shown, what is
filtered and what is alerted never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from messenger.models import ConversationState, ReplyWindowKind
from messenger.reply_window import (
    HUMAN_AGENT_WINDOW,
    InboundRange,
    WindowState,
    open_window_ranges,
    remaining_text,
    reply_window,
)

WINDOW_OF_STATE = {WindowState.STANDARD: ReplyWindowKind.STANDARD, WindowState.HUMAN_AGENT: ReplyWindowKind.HUMAN_AGENT}


@dataclass(frozen=True, slots=True)
class AlertLeads:
    """How long before each window closes an unanswered conversation is flagged."""

    standard: timedelta
    human_agent: timedelta

    @classmethod
    def of(cls, organization: Any) -> AlertLeads:
        return cls(
            standard=timedelta(minutes=organization.response_window_alert_minutes),
            human_agent=timedelta(hours=organization.human_agent_window_alert_hours),
        )

    def lead(self, state: WindowState) -> timedelta:
        return self.standard if state == WindowState.STANDARD else self.human_agent


@dataclass(frozen=True, slots=True)
class WindowClosing:
    """A window about to close on a customer nobody answered."""

    window: ReplyWindowKind
    closes_at: datetime
    remaining: timedelta

    @property
    def label(self) -> str:
        """The conversation page's line, beside the composer's reply window line."""
        if self.window == ReplyWindowKind.STANDARD:
            return _("Window closing: the 24-hour window closes in %(left)s and the customer is unanswered") % {
                "left": remaining_text(self.remaining)
            }
        return _("Window closing: the 7-day window closes in %(left)s and the customer is unanswered") % {
            "left": remaining_text(self.remaining)
        }

    @property
    def short_label(self) -> str:
        """The conversation list's badge."""
        return _("Window closing · %(left)s") % {"left": remaining_text(self.remaining)}


def window_closing(
    *,
    last_inbound_at: datetime | None,
    waiting_since: datetime | None,
    state: str,
    leads: AlertLeads,
    now: datetime | None = None,
) -> WindowClosing | None:
    """The closing window of a conversation, or None (answered, closed, or not closing yet)."""
    if waiting_since is None or state != ConversationState.OPEN or last_inbound_at is None:
        return None
    window = reply_window(last_inbound_at, now=now)
    if not window.is_open or window.closes_at is None or window.remaining > leads.lead(window.state):
        return None
    return WindowClosing(window=WINDOW_OF_STATE[window.state], closes_at=window.closes_at, remaining=window.remaining)


def conversation_window_closing(
    conversation: Any, *, leads: AlertLeads, now: datetime | None = None
) -> WindowClosing | None:
    return window_closing(
        last_inbound_at=conversation.last_inbound_at,
        waiting_since=conversation.waiting_since,
        state=conversation.state,
        leads=leads,
        now=now,
    )


def closing_ranges(*, leads: AlertLeads, now: datetime | None = None) -> tuple[InboundRange, ...]:
    """``window_closing`` as ranges of ``last_inbound_at`` (for a query on open, waiting
    conversations): each open window's range cut to the messages whose window closes within
    the lead, soonest-closing first when ordered by ``last_inbound_at``."""
    ranges = []
    for window in open_window_ranges(now=now):
        until = window.since + leads.lead(window.state)
        if window.until is not None:
            until = min(until, window.until)
        ranges.append(InboundRange(window.state, since=window.since, until=until))
    return tuple(ranges)


def closing_filter(*, leads: AlertLeads, now: datetime | None = None) -> Q:
    """``window_closing`` as a filter on Conversation (the inbox's "Window closing")."""
    in_ranges = Q()
    for window in closing_ranges(leads=leads, now=now):
        in_ranges |= Q(last_inbound_at__gt=window.since, last_inbound_at__lte=window.until)
    return Q(state=ConversationState.OPEN, waiting_since__isnull=False) & in_ranges


def closed_until(*, now: datetime | None = None) -> datetime:
    """The customers' last messages whose 7-day window has closed at ``now``: those up to this
    time (included), as reply_window says."""
    return (now or timezone.now()) - HUMAN_AGENT_WINDOW


# A customer's message is lost when its 7-day window closes unanswered: this long after it.
LOST_AFTER = HUMAN_AGENT_WINDOW


def lost_at(last_inbound_at: datetime) -> datetime:
    """When the 7-day window of a customer's message closed."""
    return last_inbound_at + LOST_AFTER
