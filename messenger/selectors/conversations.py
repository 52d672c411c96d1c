"""The conversations a member sees: the inbox's list (in the filters' view and sort), the
counts of its views, one conversation (whole, or with its channel only), and keyset pages of
the list whose cost does not grow with their depth, each page with its labels; and, for one
conversation, its labels and the referrals its customer came through.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Sum, prefetch_related_objects
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from channels import visibility
from channels.models import Channel
from helpdesk.converters import parse_id
from helpdesk.exceptions import NotFound
from helpdesk.models import Membership, Organization
from labels import links as label_links
from labels.models import Label
from messenger import conversation_order
from messenger.conversation_order import ConversationSort
from messenger.models import (
    Conversation,
    ConversationLabel,
    ConversationReferral,
    Message,
    OpenConversationCount,
)
from messenger.selectors.filters import ConversationFilters, conversation_filter
from messenger.selectors.visibility import visible_channel_filter

# Newest activity first. A conversation with no message yet (NULL) is the newest of all:
# NULLS FIRST is also PostgreSQL's own order for DESC, so the index serves it as it is.
CONVERSATION_ORDER = (F("last_message_at").desc(nulls_first=True), F("id").desc())
MAX_PAGE_SIZE = 100


def conversation_list(
    *,
    organization: Organization,
    membership: Membership,
    filters: ConversationFilters | None = None,
) -> QuerySet[Conversation]:
    """The conversations the member sees, in the filters' view and sort (newest activity first
    by default), filtered, with their contact, their SLA's kept times (one-to-one) and their
    assignee.

    Channels are not joined here: `conversation_page` fetches those of a page apart (few rows,
    by primary key), or takes them from the channels the caller read already. The assignee's
    join costs PostgreSQL less to plan than a query of its own costs Django to build."""
    filters = filters or ConversationFilters()
    conversations = Conversation.objects.filter(
        visible_channel_filter(organization=organization, membership=membership)
    ).filter(conversation_filter(organization=organization, membership=membership, filters=filters))
    return conversations.select_related("contact", "sla", "assignee").order_by(
        *_order(filters.sort, now=timezone.now())
    )


def _order(sort: ConversationSort, *, now: Any) -> tuple[Any, ...]:
    if sort == ConversationSort.NEWEST:
        return CONVERSATION_ORDER
    return conversation_order.sort_order(sort, now=now)


@dataclass(frozen=True, slots=True)
class ConversationCounts:
    """The open conversations of each view of the inbox."""

    mine: int
    unassigned: int
    all: int


def conversation_counts(*, organization: Organization, membership: Membership) -> ConversationCounts:
    """How many open conversations each view holds, for this member (the visibility rule:
    an agent's "all" is their channels'); the list's other filters do not change them.

    One query of a few rows per channel: the sums the database keeps per (channel, assignee)
    (messenger.open_counts), not a count of every open conversation at each poll."""
    counts = OpenConversationCount.objects.filter(organization_id=organization.pk).filter(
        visibility.visible_channel_id_filter(organization=organization, membership=membership)
    )
    mine = unassigned = total = 0
    for assignee_id, count in (
        counts.values("assignee_id").annotate(count=Sum("delta")).values_list("assignee_id", "count")
    ):
        total += count
        if assignee_id is None:
            unassigned += count
        elif assignee_id == membership.user_id:
            mine += count
    return ConversationCounts(mine=mine, unassigned=unassigned, all=total)


def with_last_message_status(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Each conversation with ``last_message_status``: the status of its newest visible message
    (the inbox marks a conversation whose last reply failed). Part of the same statement: one
    probe of the (conversation, sent_at) index per row of the page, no query more."""
    newest = (
        Message.objects.filter(conversation=OuterRef("pk"), is_hidden=False)
        .order_by("-sent_at", "-id")
        .values("status")[:1]
    )
    return conversations.annotate(last_message_status=Subquery(newest))


def conversation_get_bare(*, organization: Organization, membership: Membership, conversation_id: Any) -> Conversation:
    """One conversation the member may see, with its channel only, or NotFound: for a request
    that needs its place (channel, department), not the page (the composer's searches, polled
    as the agent types; five joins fewer to plan)."""
    conversation = (
        Conversation.objects.filter(visible_channel_filter(organization=organization, membership=membership))
        .filter(pk=parse_id(conversation_id))
        .select_related("channel")
        .first()
    )
    if conversation is None:
        raise NotFound
    return conversation


def conversation_get(
    *,
    organization: Organization,
    membership: Membership,
    conversation_id: Any,
) -> Conversation:
    """One conversation the member may see, or NotFound (never a hint that it exists)."""
    conversation = (
        Conversation.objects.filter(visible_channel_filter(organization=organization, membership=membership))
        .filter(pk=parse_id(conversation_id))
        .select_related("contact", "channel", "channel__department", "department", "page", "assignee", "sla")
        .first()
    )
    if conversation is None:
        raise NotFound
    return conversation


# --- Pages -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConversationPage:
    conversations: list[Conversation]
    next_cursor: str | None


def _encode_cursor(conversation: Conversation) -> str:
    stamp = conversation.last_message_at.isoformat() if conversation.last_message_at else "-"
    return base64.urlsafe_b64encode(f"{stamp}|{conversation.pk}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime | None, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _sep, pk = raw.partition("|")
        when = None if stamp == "-" else parse_datetime(stamp)
        if (stamp != "-" and when is None) or parse_id(pk) < 0:
            return None
        return when, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def conversation_page(
    conversations: QuerySet[Conversation],
    *,
    cursor: str | None,
    page_size: int,
    sort: ConversationSort = ConversationSort.NEWEST,
    channels: Iterable[Channel] = (),
) -> ConversationPage:
    """A keyset page of ``conversation_list`` in ``sort`` (the sort it was listed in): the cost
    does not grow with how deep it is.

    The cursor is the sort key and id of the last row shown (newest: its last_message_at; the
    other sorts: messenger.conversation_order); an unreadable cursor, or one of another sort,
    starts from the top. ``channels``: the member's channels when the caller has read them
    already (the inbox's channel menu): the rows take theirs from it instead of a query.
    """
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    if sort != ConversationSort.NEWEST:
        return _sorted_page(conversations, cursor=cursor, page_size=page_size, sort=sort, channels=channels)
    position = _decode_cursor(cursor) if cursor else None
    if position is not None:
        when, pk = position
        if when is None:
            conversations = conversations.filter(
                Q(last_message_at__isnull=True, pk__lt=pk) | Q(last_message_at__isnull=False)
            )
        else:
            conversations = conversations.filter(Q(last_message_at__lt=when) | Q(last_message_at=when, pk__lt=pk))
    rows = list(conversations[: page_size + 1])
    more = len(rows) > page_size
    rows = rows[:page_size]
    _with_relations(rows, channels=channels)
    return ConversationPage(rows, _encode_cursor(rows[-1]) if more and rows else None)


def _with_relations(rows: list[Conversation], *, channels: Iterable[Channel]) -> None:
    """Each row's channel (from ``channels`` when there, else fetched) and labels: a query
    each at most, whatever the page's size (the assignee came with the row)."""
    known = {channel.pk: channel for channel in channels}
    for row in rows:
        channel = known.get(row.channel_id)
        if channel is not None:
            Conversation.channel.field.set_cached_value(row, channel)
    prefetch_related_objects(rows, "channel")
    with_labels(rows)


def _sorted_page(
    conversations: QuerySet[Conversation],
    *,
    cursor: str | None,
    page_size: int,
    sort: ConversationSort,
    channels: Iterable[Channel],
) -> ConversationPage:
    position = conversation_order.cursor_decode(sort, cursor) if cursor else None
    # Every page of a window_closing list classifies the windows at the time of its first page.
    now = position.now if position is not None else timezone.now()
    conversations = conversations.order_by(*_order(sort, now=now))
    if position is not None:
        conversations = conversations.filter(conversation_order.after(sort, position))
    rows = list(conversations[: page_size + 1])
    more = len(rows) > page_size
    rows = rows[:page_size]
    _with_relations(rows, channels=channels)
    next_cursor = conversation_order.cursor_encode(sort, now=now, conversation=rows[-1]) if more and rows else None
    return ConversationPage(rows, next_cursor)


# --- Labels ----------------------------------------------------------------------------------


def with_labels(conversations: list[Conversation]) -> None:
    """Sets ``label_list`` (its labels, by name) on each conversation of a page: one query
    whatever the page's size, none for an empty page."""
    if not conversations:
        return
    by_conversation = label_links.labels_by_owner(
        ConversationLabel,
        "conversation",
        organization_id=conversations[0].organization_id,
        owner_ids=[conversation.pk for conversation in conversations],
    )
    for conversation in conversations:
        conversation.label_list = by_conversation[conversation.pk]  # type: ignore[attr-defined]


def conversation_label_list(*, organization: Organization, conversation: Conversation) -> list[Label]:
    """The conversation's labels, by name (the conversation is one the caller may see)."""
    cached = getattr(conversation, "label_list", None)
    if cached is not None:
        return list(cached)
    return list(
        Label.objects.filter(
            organization=organization,
            pk__in=ConversationLabel.objects.filter(organization=organization, conversation=conversation).values(
                "label_id"
            ),
        ).order_by("name", "id")
    )


# --- Referrals -------------------------------------------------------------------------------


def conversation_referral_list(
    *, organization: Organization, conversation: Conversation, limit: int = 5
) -> list[ConversationReferral]:
    """Where the customer came from in this conversation, newest first (the card)."""
    return list(
        ConversationReferral.objects.filter(organization=organization, conversation=conversation).order_by(
            "-occurred_at", "-pk"
        )[:limit]
    )
