"""The inbox's views (whose conversations) and sorts (in which order), and the keyset of each sort.

Views: ``mine`` (assigned to the member), ``unassigned`` (the queue: open and held by no one),
``all`` (everything the member sees: the whole organization for an admin, their channels for an
agent; channels.visibility decides, this module never widens it).

Sorts, each a total order (ties broken by id) so that a keyset page never shows a row twice
nor skips one:

- ``newest``: newest activity first (``selectors.conversations.CONVERSATION_ORDER``, the
  inbox's own order);
- ``waiting``: the customer waiting longest first (``waiting_since`` ascending), conversations
  nobody waits in last;
- ``window_closing``: open reply windows by the time they next close (within 24 hours of the
  customer's last message: at that message + 24 h; from 24 hours to 7 days: at + 7 days, as
  messenger.reply_window says), closed windows last. What is "open" depends on the time, so
  the cursor carries the time of the first page and every later page is classified at it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db.models import Case, DateTimeField, ExpressionWrapper, F, OrderBy, Q, Value, When
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from helpdesk.converters import parse_id
from helpdesk.exceptions import InvalidInput
from messenger.models import Conversation, ConversationState
from messenger.reply_window import InboundRange, open_window_ranges, reply_window


class ConversationView(StrEnum):
    MINE = "mine"
    UNASSIGNED = "unassigned"
    ALL = "all"


class ConversationSort(StrEnum):
    NEWEST = "newest"
    WAITING = "waiting"
    WINDOW_CLOSING = "window_closing"


# Today's inbox: everything the member sees, newest first. Agents are not sent to "Mine" by
# default: with automatic assignment off (each channel's default) nothing is assigned until
# someone takes it, and "Mine" would hide every new conversation.
DEFAULT_VIEW = ConversationView.ALL
DEFAULT_SORT = ConversationSort.NEWEST


class InvalidView(InvalidInput):
    code = "invalid_view"
    default_message = _("Unknown view: choose mine, unassigned or all.")


class InvalidSort(InvalidInput):
    code = "invalid_sort"
    default_message = _("Unknown sort: choose newest, waiting or window_closing.")


def view_parse(value: Any, *, strict: bool = False) -> ConversationView:
    """The view named by a query parameter; empty is the default. Anything else is the
    default too, or ``InvalidView`` when ``strict`` (the API refuses what the inbox ignores)."""
    if not value:
        return DEFAULT_VIEW
    if value in ConversationView._value2member_map_:
        return ConversationView(value)
    if strict:
        raise InvalidView(details={"view": [str(InvalidView.default_message)]})
    return DEFAULT_VIEW


def sort_parse(value: Any, *, strict: bool = False) -> ConversationSort:
    """As ``view_parse``, for the sort (``InvalidSort``)."""
    if not value:
        return DEFAULT_SORT
    if value in ConversationSort._value2member_map_:
        return ConversationSort(value)
    if strict:
        raise InvalidSort(details={"sort": [str(InvalidSort.default_message)]})
    return DEFAULT_SORT


def view_filter(view: ConversationView, *, user_id: int) -> Q:
    """The view as a filter on Conversation (on top of the visibility rule, never instead)."""
    if view == ConversationView.MINE:
        return Q(assignee_id=user_id)
    if view == ConversationView.UNASSIGNED:
        return Q(state=ConversationState.OPEN, assignee__isnull=True)
    return Q()


# --- Window closing: the rule of messenger.reply_window in SQL ---------------------------------


def _in_range(window_range: InboundRange) -> Q:
    condition = Q(last_inbound_at__gt=window_range.since)
    if window_range.until is not None:
        condition &= Q(last_inbound_at__lte=window_range.until)
    return condition


def _window_closed(ranges: tuple[InboundRange, ...]) -> Q:
    # The open ranges follow each other: below the earliest one, or no message, the window is closed.
    return Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lte=min(r.since for r in ranges))


def window_closes_at(*, now: datetime) -> Case:
    """When the conversation's reply window next closes, as seen at ``now`` (NULL: closed)."""
    whens = [
        When(
            _in_range(window_range),
            then=ExpressionWrapper(F("last_inbound_at") + Value(window_range.length), output_field=DateTimeField()),
        )
        for window_range in open_window_ranges(now=now)
    ]
    return Case(*whens, default=Value(None, output_field=DateTimeField()), output_field=DateTimeField())


def _closes_at(conversation: Conversation, *, now: datetime) -> datetime | None:
    window = reply_window(conversation.last_inbound_at, now=now)
    return window.closes_at if window.is_open else None


# --- Orders and keysets --------------------------------------------------------------------


def sort_order(sort: ConversationSort, *, now: datetime) -> tuple[OrderBy, ...]:
    """The ORDER BY of the sort (``now``: when window_closing classifies the windows).
    ``newest`` is the caller's own order (selectors.conversations.CONVERSATION_ORDER)."""
    if sort == ConversationSort.WAITING:
        return (F("waiting_since").asc(nulls_last=True), F("id").asc())
    if sort == ConversationSort.WINDOW_CLOSING:
        return (window_closes_at(now=now).asc(nulls_last=True), F("id").asc())
    raise ValueError(f"{sort} is ordered by selectors.conversations.CONVERSATION_ORDER")


@dataclass(frozen=True, slots=True)
class SortPosition:
    """Where a page of a sort ended: the sort key of its last row (None: the row is among those
    sorted last, the not waiting or the closed windows), its id, and for window_closing the
    time of the first page."""

    now: datetime
    key: datetime | None
    pk: int


def _stamp(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "-"


def cursor_encode(sort: ConversationSort, *, now: datetime, conversation: Conversation) -> str:
    if sort == ConversationSort.WAITING:
        key = conversation.waiting_since
    else:
        key = _closes_at(conversation, now=now)
    raw = f"{sort.value}|{_stamp(now)}|{_stamp(key)}|{conversation.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(sort: ConversationSort, cursor: str) -> SortPosition | None:
    """None for a cursor that is unreadable or of another sort (the list starts from the top)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    parts = raw.split("|")
    if len(parts) != 4 or parts[0] != sort.value:
        return None
    _sort, now_text, key_text, pk_text = parts
    try:
        now = parse_datetime(now_text)
        key = None if key_text == "-" else parse_datetime(key_text)
    except ValueError:
        return None
    pk = parse_id(pk_text)
    if now is None or now.tzinfo is None or (key_text != "-" and (key is None or key.tzinfo is None)) or pk < 0:
        return None
    return SortPosition(now, key, pk)


def after(sort: ConversationSort, position: SortPosition) -> Q:
    """The rows that come after ``position`` in the sort.

    Written on the columns themselves (the window's closing time is turned back into the
    customer's message time, range by range), so that it reads the same on every database."""
    key, pk = position.key, position.pk
    if sort == ConversationSort.WAITING:
        if key is None:
            return Q(waiting_since__isnull=True, pk__gt=pk)
        return Q(waiting_since__gt=key) | Q(waiting_since=key, pk__gt=pk) | Q(waiting_since__isnull=True)
    ranges = open_window_ranges(now=position.now)
    closed = _window_closed(ranges)
    if key is None:
        return closed & Q(pk__gt=pk)
    condition = closed
    for window_range in ranges:
        inbound = key - window_range.length
        condition |= _in_range(window_range) & (Q(last_inbound_at__gt=inbound) | Q(last_inbound_at=inbound, pk__gt=pk))
    return condition
