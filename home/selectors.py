"""Reads of the home page: what needs the member now, and for admins the organization's
channel health and today's volume.

The home page sits above every app (helpdesk ← availability ← channels ← messenger ← tickets ← home): it
reads conversations and tickets through their apps' selectors, which apply the one
visibility rule (channels.visibility), and asks messenger.reply_window about reply windows.
Every read is a fixed number of queries with a fixed number of rows, whatever the size of
the organization.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, tzinfo

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from channels import selectors as channel_selectors
from channels.kinds import ReauthorizationAlert
from channels.models import Channel
from helpdesk.models import Membership, Organization
from messenger.models import Conversation, ConversationState, Direction
from messenger.pages import selectors as page_selectors
from messenger.reply_window import ReplyWindow, open_window_ranges, reply_window
from messenger.selectors import conversations as conversation_selectors
from messenger.selectors import filters as filter_selectors
from messenger.selectors import messages as message_selectors
from messenger.selectors import visibility as visibility_selectors
from tickets import selectors as ticket_selectors
from tickets.models import Ticket, TicketState

# Rows shown per section; each section links to the full, filtered list.
SECTION_SIZE = 5


@dataclass(frozen=True, slots=True)
class HomeConversation:
    conversation: Conversation
    window: ReplyWindow


@dataclass(frozen=True, slots=True)
class ConversationSection:
    count: int
    conversations: list[HomeConversation]


@dataclass(frozen=True, slots=True)
class TicketSection:
    count: int
    tickets: list[Ticket]


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    # How many pages need re-authorization (counted up to SECTION_SIZE + 1), and the first ones.
    reauthorization_count: int
    reauthorization_alerts: list[ReauthorizationAlert]
    disabled_channels: list[Channel]


@dataclass(frozen=True, slots=True)
class TodayVolume:
    day_start: datetime
    conversations_started: int
    messages_received: int


@dataclass(frozen=True, slots=True)
class Home:
    my_conversations: ConversationSection
    unassigned_conversations: ConversationSection
    closing_soonest: list[HomeConversation]
    my_tickets: TicketSection
    # Admins only (None for agents).
    channel_health: ChannelHealth | None
    today: TodayVolume | None


def _open_conversations(*, organization: Organization, membership: Membership) -> QuerySet[Conversation]:
    filters = filter_selectors.ConversationFilters(state=ConversationState.OPEN)
    return conversation_selectors.conversation_list(organization=organization, membership=membership, filters=filters)


def _rows(conversations: QuerySet[Conversation], *, now: datetime) -> list[HomeConversation]:
    return [
        HomeConversation(conversation, reply_window(conversation.last_inbound_at, now=now))
        for conversation in conversations.select_related("channel")[:SECTION_SIZE]
    ]


def conversation_sections(
    *, organization: Organization, membership: Membership, now: datetime
) -> tuple[ConversationSection, ConversationSection]:
    """The member's open conversations and the open ones no one holds, newest activity first
    (the inbox's order). Three queries: both counts, then each list."""
    conversations = _open_conversations(organization=organization, membership=membership)
    mine = Q(assignee_id=membership.user_id)
    unassigned = Q(assignee__isnull=True)
    counts = conversations.order_by().aggregate(
        mine=Count("pk", filter=mine), unassigned=Count("pk", filter=unassigned)
    )
    return (
        ConversationSection(counts["mine"], _rows(conversations.filter(mine), now=now)),
        ConversationSection(counts["unassigned"], _rows(conversations.filter(unassigned), now=now)),
    )


def conversations_closing_soonest(
    *, organization: Organization, membership: Membership, now: datetime, limit: int = SECTION_SIZE
) -> list[HomeConversation]:
    """The open conversations held by the member or by no one whose reply window closes
    soonest (closed windows left out), with the time left, as messenger.reply_window
    measures it. Blocked customers are left out: nobody answers them.

    One query per kind of window (messenger.reply_window.open_window_ranges): within a
    window the oldest customer message closes first, so each query reads at most `limit`
    rows; the windows are then merged by the time they have left."""
    conversations = (
        _open_conversations(organization=organization, membership=membership)
        .filter(Q(assignee_id=membership.user_id) | Q(assignee__isnull=True), contact__is_blocked=False)
        .select_related("channel")
    )
    candidates: list[HomeConversation] = []
    for window_range in open_window_ranges(now=now):
        in_range = conversations.filter(last_inbound_at__gt=window_range.since)
        if window_range.until is not None:
            in_range = in_range.filter(last_inbound_at__lte=window_range.until)
        candidates += [
            HomeConversation(conversation, reply_window(conversation.last_inbound_at, now=now))
            for conversation in in_range.order_by("last_inbound_at", "pk")[:limit]
        ]
    candidates.sort(key=lambda row: (row.window.remaining, row.conversation.pk))
    return candidates[:limit]


def my_open_tickets(*, organization: Organization, membership: Membership) -> TicketSection:
    """The open tickets the member holds, newest first (the tickets list's order). Two queries."""
    filters = ticket_selectors.TicketFilters(state=TicketState.OPEN, assignee_id=membership.user_id)
    tickets = ticket_selectors.ticket_list(organization=organization, membership=membership, filters=filters)
    return TicketSection(tickets.count(), list(tickets.defer("description")[:SECTION_SIZE]))


def channel_health(*, organization: Organization) -> ChannelHealth:
    """Pages that need re-authorization and disabled channels (deleted ones are not listed).
    Two queries; an organization has at most as many channels as departments."""
    count, alerts = page_selectors.reauthorization_alerts(organization=organization, limit=SECTION_SIZE)
    disabled = list(channel_selectors.channel_list(organization=organization).filter(is_enabled=False))
    return ChannelHealth(count, alerts, disabled)


def organization_day_start(*, organization: Organization, now: datetime) -> datetime:
    """Midnight of `now`'s day in the organization's time zone."""
    try:
        zone: tzinfo = zoneinfo.ZoneInfo(organization.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = timezone.get_current_timezone()
    local_day = timezone.localtime(now, zone).date()
    return datetime.combine(local_day, time.min, tzinfo=zone)


def today_volume(*, organization: Organization, membership: Membership, now: datetime) -> TodayVolume:
    """Conversations started and customer messages received since midnight in the
    organization's time zone, among those the member sees. Two queries."""
    day_start = organization_day_start(organization=organization, now=now)
    conversations = Conversation.objects.filter(
        visibility_selectors.visible_channel_filter(organization=organization, membership=membership),
        created_at__gte=day_start,
    )
    messages = message_selectors.message_visible_list(organization=organization, membership=membership).filter(
        direction=Direction.INBOUND, sent_at__gte=day_start
    )
    return TodayVolume(day_start, conversations.count(), messages.count())


def home_get(*, organization: Organization, membership: Membership, now: datetime | None = None) -> Home:
    """Everything the home page shows, in a fixed number of queries (more for an admin)."""
    now = now or timezone.now()
    mine, unassigned = conversation_sections(organization=organization, membership=membership, now=now)
    is_admin = membership.is_admin
    return Home(
        my_conversations=mine,
        unassigned_conversations=unassigned,
        closing_soonest=conversations_closing_soonest(organization=organization, membership=membership, now=now),
        my_tickets=my_open_tickets(organization=organization, membership=membership),
        channel_health=channel_health(organization=organization) if is_admin else None,
        today=today_volume(organization=organization, membership=membership, now=now) if is_admin else None,
    )
