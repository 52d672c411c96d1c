"""Reads of the inbox: which conversations a member sees, their transcripts, and the
keyset pages of the conversation list.

Who sees what is one rule, ``channels.visibility`` (admins: the whole organization; agents:
the channels they are associated with, in departments they work in); the HTML inbox and the
REST API read conversations, messages and contacts only through the filters below, which
apply it. Anything else is "not found".
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery, prefetch_related_objects
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from channels import visibility
from channels.models import Channel
from helpdesk.converters import parse_id, search_term
from helpdesk.exceptions import NotFound
from helpdesk.models import Membership, Organization
from labels import links as label_links
from labels.models import Label
from messenger import conversation_order, window_alerts
from messenger.conversation_order import ConversationSort, ConversationView
from messenger.models import (
    Contact,
    Conversation,
    ConversationEvent,
    ConversationLabel,
    ConversationReferral,
    ConversationState,
    Direction,
    Message,
    MessageSource,
    Note,
    NoteMention,
    ReferralKind,
    WindowLoss,
)
from messenger.services import search
from sla.state import SlaStatus
from sla.state import status_filter as sla_status_filter
from sla.state import status_parse as sla_status_parse

# Newest activity first. A conversation with no message yet (NULL) is the newest of all:
# NULLS FIRST is also PostgreSQL's own order for DESC, so the index serves it as it is.
CONVERSATION_ORDER = (F("last_message_at").desc(nulls_first=True), F("id").desc())
TRANSCRIPT_LIMIT = 150
MAX_PAGE_SIZE = 100
# At most this many labels in one filter (each is one probe of the conversation_label index).
MAX_FILTER_LABELS = 10
# The `referral` filter's value for "came through any referral".
REFERRAL_ANY = "any"
MAX_REF = 250


def _as_id(value: Any) -> int:
    return parse_id(value)


# --- Channels ------------------------------------------------------------------------------


def visible_channel_filter(*, organization: Organization, membership: Membership) -> Q:
    """The rule (channels.visibility), as a filter on Conversation."""
    return visibility.visible_filter(organization=organization, membership=membership)


def message_visible_filter(*, organization: Organization, membership: Membership) -> Q:
    """The rule as a filter on Message (through its conversation's channel); hidden
    messages (a blocked customer's) are never shown either."""
    return visibility.visible_filter(organization=organization, membership=membership, prefix="conversation__") & Q(
        organization=organization, is_hidden=False
    )


def contact_visible_filter(*, organization: Organization, membership: Membership) -> Q:
    """The rule as a filter on Contact: a contact is seen when one of their conversations is."""
    conversations = Conversation.objects.filter(
        visible_channel_filter(organization=organization, membership=membership)
    )
    return Q(organization=organization, pk__in=conversations.values("contact_id"))


def channel_list_visible(*, organization: Organization, membership: Membership) -> QuerySet[Channel]:
    channels = visibility.visible_channel_list(organization=organization, membership=membership)
    return channels.select_related("department").order_by("deleted_at", "name")


def channel_list_forward_targets(*, organization: Organization, conversation: Conversation) -> QuerySet[Channel]:
    """Channels a conversation may be forwarded to: any other channel that is not deleted."""
    return (
        Channel.objects.filter(organization=organization, deleted_at__isnull=True)
        .exclude(pk=conversation.channel_id)
        .select_related("department")
        .order_by("department__name", "name")
    )


def member_list_assignable(*, organization: Organization, channel_id: int) -> QuerySet[Membership]:
    """Who may hold a conversation of this channel: whoever sees it (channels.visibility)."""
    return (
        Membership.objects.filter(visibility.members_filter(organization=organization, channel_id=channel_id))
        .select_related("user")
        .order_by("user__first_name", "user__username")
    )


def channel_ids_member_may_hold(*, organization: Organization, membership: Membership, channel_ids: Any) -> set[int]:
    """Of these channels, those whose conversations the member may hold: the rule of
    ``member_list_assignable`` read from the member's side (who may hold a channel's
    conversations is who sees them, channels.visibility). One query, whatever the number."""
    channels = visibility.visible_channel_list(organization=organization, membership=membership)
    return set(channels.filter(pk__in=list(channel_ids)).values_list("pk", flat=True))


def member_list_assignable_somewhere(*, organization: Organization, membership: Membership) -> QuerySet[Membership]:
    """Who may hold the conversations of at least one live channel this member sees (the bulk
    "Assign to" menu; what they may hold is checked per conversation when assigning)."""
    channel_ids = channel_list_visible(organization=organization, membership=membership).filter(deleted_at__isnull=True)
    condition = visibility.NOTHING
    for channel_id in channel_ids.values_list("pk", flat=True):
        condition |= visibility.members_filter(organization=organization, channel_id=channel_id)
    return Membership.objects.filter(condition).select_related("user").order_by("user__first_name", "user__username")


# --- Conversations ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConversationFilters:
    channel_id: int | None = None
    state: str | None = None
    assigned_to_me: bool = False
    unassigned: bool = False
    search: str = ""
    # The inbox's view and sort (messenger.conversation_order).
    view: ConversationView = conversation_order.DEFAULT_VIEW
    sort: ConversationSort = conversation_order.DEFAULT_SORT
    # Conversations that have every one of these labels (param `label`, repeatable).
    label_ids: tuple[int, ...] = ()
    # Only conversations flagged "window closing" (param `window=closing`, messenger.window_alerts).
    window_closing: bool = False
    # The SLA of the customer's wait (param `sla`: on_track, at_risk, breached).
    sla: SlaStatus | None = None
    # Where the customer came from (param `referral`: ad, link, plugin, other, or any) and an
    # m.me link's or ad's `ref` (param `ref`, exact).
    referral: str = ""
    ref: str = ""

    @classmethod
    def from_params(cls, params: Any, *, strict: bool = False) -> ConversationFilters:
        """From a QueryDict (HTML) or request.query_params (API); junk is ignored, not an error,
        except an unknown view or sort when ``strict`` (the API: InvalidView, InvalidSort)."""
        channel = params.get("channel") or ""
        state = params.get("state") or ""
        assignee = params.get("assignee") or ""
        return cls(
            channel_id=parse_id(channel) if parse_id(channel) > 0 else None,
            state=state if state in ConversationState.values else None,
            assigned_to_me=assignee == "me",
            unassigned=assignee == "none",
            search=search_term(params.get("q")),
            view=conversation_order.view_parse(params.get("view"), strict=strict),
            sort=conversation_order.sort_parse(params.get("sort"), strict=strict),
            label_ids=_label_ids(params),
            window_closing=params.get("window") == "closing",
            sla=sla_status_parse(params.get("sla")),
            referral=referral_filter_parse(params.get("referral")),
            ref=search_term(params.get("ref"), max_length=MAX_REF),
        )

    def as_params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        if self.channel_id:
            params["channel"] = str(self.channel_id)
        if self.state:
            params["state"] = self.state
        if self.assigned_to_me:
            params["assignee"] = "me"
        elif self.unassigned:
            params["assignee"] = "none"
        if self.search:
            params["q"] = self.search
        if self.view != conversation_order.DEFAULT_VIEW:
            params["view"] = self.view.value
        if self.sort != conversation_order.DEFAULT_SORT:
            params["sort"] = self.sort.value
        if self.label_ids:
            # One value, comma-separated: the parameters stay a flat dict of strings (saved views
            # store them as they are) and from_params reads both forms.
            params["label"] = ",".join(str(label_id) for label_id in self.label_ids)
        if self.window_closing:
            params["window"] = "closing"
        if self.sla:
            params["sla"] = self.sla.value
        if self.referral:
            params["referral"] = self.referral
        if self.ref:
            params["ref"] = self.ref
        return params

    @property
    def narrowed(self) -> bool:
        """Whether a filter (not the view or the sort) leaves conversations out."""
        return bool(
            self.channel_id
            or self.state
            or self.assigned_to_me
            or self.unassigned
            or self.search
            or self.label_ids
            or self.window_closing
            or self.sla
            or self.referral
            or self.ref
        )


def _label_ids(params: Any) -> tuple[int, ...]:
    """The `label` parameter: repeated (`?label=3&label=7`, a form's checkboxes) or
    comma-separated (`?label=3,7`, as_params); junk is left out; sorted, without repeats."""
    if hasattr(params, "getlist"):
        raw = params.getlist("label")
    else:
        value = params.get("label")
        raw = value if isinstance(value, list | tuple) else [value]
    ids = {parse_id(part) for value in raw if isinstance(value, str | int) for part in str(value).split(",")}
    return tuple(sorted(label_id for label_id in ids if label_id > 0))[:MAX_FILTER_LABELS]


def conversation_filter(
    *,
    organization: Organization,
    membership: Membership,
    filters: ConversationFilters,
    search_copied_until: int | None = None,
) -> Q:
    """The filters (view included, sort aside) as one condition on Conversation, on top of the
    visibility rule, never instead of it. The list filters by it, and the saved views count by
    it (one conditional count each, messenger.saved_views): a filter added here counts too.
    ``search_copied_until``: the search index's end, read once by a caller that builds many."""
    condition = conversation_order.view_filter(filters.view, user_id=membership.user_id)
    if filters.channel_id:
        condition &= Q(channel_id=filters.channel_id)
    if filters.state:
        condition &= Q(state=filters.state)
    if filters.assigned_to_me:
        condition &= Q(assignee_id=membership.user_id)
    elif filters.unassigned:
        condition &= Q(assignee__isnull=True)
    if filters.window_closing:
        condition &= window_alerts.closing_filter(leads=window_alerts.AlertLeads.of(organization))
    if filters.sla is not None:
        condition &= sla_filter(filters.sla, now=timezone.now())
    for label_id in filters.label_ids:
        # One semi-join per label, each read from the (organization, label, conversation)
        # index: the conversation must have all of them. Another organization's label matches
        # nothing.
        condition &= Q(
            pk__in=ConversationLabel.objects.filter(organization=organization, label_id=label_id).values(
                "conversation_id"
            )
        )
    if filters.referral or filters.ref:
        condition &= referral_filter(organization=organization, referral=filters.referral, ref=filters.ref)
    if filters.search:
        # Each side found once through its trigram index on PostgreSQL (names: migration 0006;
        # message texts: their copy, messenger.services.search), rather than looked up
        # conversation by conversation for every visible one.
        names = Contact.objects.filter(organization=organization, display_name__icontains=filters.search)
        condition &= Q(contact_id__in=names.values("pk")) | search.conversations_with_text(
            organization=organization, term=filters.search, copied_until=search_copied_until
        )
    return condition


def referral_filter_parse(value: Any) -> str:
    """The `referral` parameter: a kind (ReferralKind) or "any"; anything else is no filter."""
    value = str(value or "").strip().lower()
    return value if value == REFERRAL_ANY or value in ReferralKind.values else ""


def referral_filter(*, organization: Organization, referral: str = "", ref: str = "") -> Q:
    """Conversations a customer entered through a referral of this kind ("any": any kind)
    and/or with this `ref`: one semi-join on the referral's (organization, kind|ref) index."""
    referrals = ConversationReferral.objects.filter(organization=organization)
    if referral and referral != REFERRAL_ANY:
        referrals = referrals.filter(kind=referral)
    if ref:
        referrals = referrals.filter(ref=ref)
    return Q(pk__in=referrals.values("conversation_id"))


def sla_filter(status: SlaStatus, *, now: datetime) -> Q:
    """Open conversations whose customer's wait is in this SLA state at ``now`` (the rule of
    Conversation.response_sla, in SQL: times kept for another wait count as none)."""
    running = Q(state=ConversationState.OPEN, waiting_since__isnull=False, sla__started_at=F("waiting_since"))
    return running & sla_status_filter(status, now=now, due="sla__due_at", warn="sla__warn_at")


def conversation_list(
    *,
    organization: Organization,
    membership: Membership,
    filters: ConversationFilters | None = None,
) -> QuerySet[Conversation]:
    """The conversations the member sees, in the filters' view and sort (newest activity first
    by default), filtered, with their contact and their SLA's kept times (one-to-one).

    Channels and assignees are not joined here: `conversation_page` fetches those of a page
    apart (few rows, by primary key). Three more joins cost PostgreSQL more to plan than the
    whole page costs to read."""
    filters = filters or ConversationFilters()
    conversations = Conversation.objects.filter(
        visible_channel_filter(organization=organization, membership=membership)
    ).filter(conversation_filter(organization=organization, membership=membership, filters=filters))
    return conversations.select_related("contact", "sla").order_by(*_order(filters.sort, now=timezone.now()))


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
    an agent's "all" is their channels'). One query: conditional counts over the visible open
    conversations; the list's other filters do not change them."""
    view_filter = conversation_order.view_filter
    counts = (
        Conversation.objects.filter(visible_channel_filter(organization=organization, membership=membership))
        .filter(state=ConversationState.OPEN)
        .aggregate(
            mine=Count("pk", filter=view_filter(ConversationView.MINE, user_id=membership.user_id)),
            unassigned=Count("pk", filter=view_filter(ConversationView.UNASSIGNED, user_id=membership.user_id)),
            all=Count("pk"),
        )
    )
    return ConversationCounts(mine=counts["mine"], unassigned=counts["unassigned"], all=counts["all"])


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
        .filter(pk=_as_id(conversation_id))
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
        .filter(pk=_as_id(conversation_id))
        .select_related("contact", "channel", "channel__department", "department", "page", "assignee", "sla")
        .first()
    )
    if conversation is None:
        raise NotFound
    return conversation


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
) -> ConversationPage:
    """A keyset page of ``conversation_list`` in ``sort`` (the sort it was listed in): the cost
    does not grow with how deep it is.

    The cursor is the sort key and id of the last row shown (newest: its last_message_at; the
    other sorts: messenger.conversation_order); an unreadable cursor, or one of another sort,
    starts from the top.
    """
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    if sort != ConversationSort.NEWEST:
        return _sorted_page(conversations, cursor=cursor, page_size=page_size, sort=sort)
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
    prefetch_related_objects(rows, "channel", "assignee")
    with_labels(rows)
    return ConversationPage(rows, _encode_cursor(rows[-1]) if more and rows else None)


def _sorted_page(
    conversations: QuerySet[Conversation], *, cursor: str | None, page_size: int, sort: ConversationSort
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
    prefetch_related_objects(rows, "channel", "assignee")
    with_labels(rows)
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


# --- Messages and the transcript -------------------------------------------------------------


def message_list(*, organization: Organization, conversation: Conversation) -> QuerySet[Message]:
    """The visible messages of a conversation (a blocked customer's hidden ones left out)."""
    return Message.objects.filter(organization=organization, conversation=conversation, is_hidden=False)


def colleague_reply_latest(
    *, organization: Organization, conversation: Conversation, user_id: int, after: datetime
) -> Message | None:
    """The newest reply another member sent in the conversation after ``after`` (with its
    author), or None: what messenger.services.sending.reply_rules asks before a reply."""
    return (
        Message.objects.filter(
            organization=organization,
            conversation=conversation,
            direction=Direction.OUTBOUND,
            source=MessageSource.AGENT,
            sent_at__gt=after,
            author__isnull=False,
        )
        .exclude(author_id=user_id)
        .select_related("author")
        .order_by("-sent_at")
        .first()
    )


def member_list_by_user(*, organization: Organization, user_ids: Any) -> QuerySet[Membership]:
    """The organization's active members among these users, with their user (for names)."""
    return Membership.objects.filter(
        organization=organization, user_id__in=list(user_ids), is_active=True
    ).select_related("user")


def message_visible_list(*, organization: Organization, membership: Membership) -> QuerySet[Message]:
    """Every message the member may see (of the conversations they see, hidden ones left out)."""
    return Message.objects.filter(message_visible_filter(organization=organization, membership=membership))


def message_get(*, organization: Organization, membership: Membership, message_id: Any) -> Message:
    """One message the member may see, or NotFound; its attachments are served on the same terms."""
    message = (
        message_visible_list(organization=organization, membership=membership)
        .filter(pk=_as_id(message_id))
        .select_related("conversation")
        .first()
    )
    if message is None:
        raise NotFound
    return message


# --- Referrals ---------------------------------------------------------------------------------


def conversation_referral_list(
    *, organization: Organization, conversation: Conversation, limit: int = 5
) -> list[ConversationReferral]:
    """Where the customer came from in this conversation, newest first (the card)."""
    return list(
        ConversationReferral.objects.filter(organization=organization, conversation=conversation).order_by(
            "-occurred_at", "-pk"
        )[:limit]
    )


# --- Contacts ----------------------------------------------------------------------------------


def contact_get(*, organization: Organization, membership: Membership, contact_id: Any) -> Contact:
    """A contact the member talks to in one of the conversations they see, or NotFound."""
    contact = (
        Contact.objects.filter(contact_visible_filter(organization=organization, membership=membership))
        .filter(pk=_as_id(contact_id))
        .first()
    )
    if contact is None:
        raise NotFound
    return contact


@dataclass(frozen=True, slots=True)
class MessageRange:
    """A run of one conversation's messages by id, such as a ticket's part; ``last_id`` None:
    open-ended (every later message belongs to it)."""

    first_id: int
    last_id: int | None = None


def message_range_filter(message_range: MessageRange) -> Q:
    condition = Q(id__gte=message_range.first_id)
    if message_range.last_id is not None:
        condition &= Q(id__lte=message_range.last_id)
    return condition


@dataclass(frozen=True, slots=True)
class MentionedMember:
    """A member named in a note, as the transcript shows them."""

    user_id: int
    username: str
    first_name: str
    last_name: str


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One line of the transcript: a message, a system line or a private note."""

    at: datetime
    message: Message | None = None
    event: ConversationEvent | None = None
    # For a quoted reply: the quoted message, when it is in this conversation and visible.
    quoted: Message | None = None
    note: Note | None = None
    # A note's mentions (its own rows: the members named in it).
    mentions: tuple[MentionedMember, ...] = ()


@dataclass(frozen=True, slots=True)
class Transcript:
    entries: list[TranscriptEntry]
    has_earlier: bool


def conversation_transcript(
    *,
    organization: Organization,
    conversation: Conversation,
    limit: int = TRANSCRIPT_LIMIT,
    part: MessageRange | None = None,
) -> Transcript:
    """The latest ``limit`` messages with the system lines and private notes of the same
    period, oldest first.

    With ``part``, only its messages, and the system lines and notes from its first message
    until the message after it (a ticket's part of the thread). Four queries whatever the
    length (five with a bounded part): messages, events, notes with their mentions, quoted
    messages.
    """
    visible = message_list(organization=organization, conversation=conversation)
    if part is not None:
        visible = visible.filter(message_range_filter(part))
    newest = list(visible.select_related("author").order_by("-sent_at", "-id")[: limit + 1])
    has_earlier = len(newest) > limit
    messages = list(reversed(newest[:limit]))
    # The period the system lines and notes are taken from: that of the messages shown.
    period = Q()
    if (has_earlier or part is not None) and messages:
        period &= Q(created_at__gte=messages[0].sent_at)
    elif part is not None:
        period = visibility.NOTHING
    if part is not None:
        period &= _before_next_part(organization=organization, conversation=conversation, part=part)
    events = (
        ConversationEvent.objects.filter(organization=organization, conversation=conversation)
        .filter(period)
        .select_related("actor")
    )
    quoted_mids = {m.reply_to_mid for m in messages if m.reply_to_mid}
    quoted = {}
    if quoted_mids:
        quoted = {
            m.mid: m
            for m in message_list(organization=organization, conversation=conversation).filter(mid__in=quoted_mids)
        }
    entries = [TranscriptEntry(at=m.sent_at, message=m, quoted=quoted.get(m.reply_to_mid)) for m in messages]
    entries += [TranscriptEntry(at=e.created_at, event=e) for e in events.order_by("created_at", "id")]
    notes = note_list(organization=organization, conversation=conversation).filter(period)
    entries += [
        TranscriptEntry(at=note.created_at, note=note, mentions=mentions) for note, mentions in _with_mentions(notes)
    ]
    # Stable: a message and an event (or a note) at the same instant keep the message first.
    entries.sort(key=lambda entry: entry.at)
    return Transcript(entries, has_earlier)


# --- Private notes -----------------------------------------------------------------------------


def note_list(*, organization: Organization, conversation: Conversation) -> QuerySet[Note]:
    """The notes of a conversation the caller found through the rule (conversation_get),
    oldest first."""
    return Note.objects.filter(organization=organization, conversation=conversation).order_by("created_at", "id")


def _before_next_part(*, organization: Organization, conversation: Conversation, part: MessageRange) -> Q:
    """Until the message after the part (nothing when the part is the thread's last)."""
    if part.last_id is None:
        return Q()
    following = (
        message_list(organization=organization, conversation=conversation)
        .filter(id__gt=part.last_id)
        .order_by("id")
        .values_list("sent_at", flat=True)
        .first()
    )
    return Q(created_at__lt=following) if following is not None else Q()


def part_note_list(*, organization: Organization, conversation: Conversation, part: MessageRange) -> QuerySet[Note]:
    """The notes of a ticket's part of the thread (as its page shows them): from the part's
    first message until the message after it, with their mentions."""
    first = (
        message_list(organization=organization, conversation=conversation)
        .filter(message_range_filter(part))
        .order_by("sent_at", "id")
        .values_list("sent_at", flat=True)
        .first()
    )
    if first is None:
        return Note.objects.none()
    period = Q(created_at__gte=first) & _before_next_part(
        organization=organization, conversation=conversation, part=part
    )
    return note_list_with_mentions(organization=organization, conversation=conversation).filter(period)


def note_list_with_mentions(*, organization: Organization, conversation: Conversation) -> QuerySet[Note]:
    """``note_list`` with each note's mentions and their members (one query more per page)."""
    return note_list(organization=organization, conversation=conversation).prefetch_related(
        Prefetch("mentions", queryset=NoteMention.objects.select_related("user").order_by("id"))
    )


def _with_mentions(notes: QuerySet[Note]) -> list[tuple[Note, tuple[MentionedMember, ...]]]:
    """The notes, each with its mentioned members, in ONE query: a row per note and mention
    (a note without any: one row, the mention columns empty), grouped here."""
    rows = notes.annotate(
        mentioned_user_id=F("mentions__user_id"),
        mentioned_username=F("mentions__user__username"),
        mentioned_first_name=F("mentions__user__first_name"),
        mentioned_last_name=F("mentions__user__last_name"),
    ).order_by("created_at", "id", "mentions__id")
    grouped: dict[int, tuple[Note, list[MentionedMember]]] = {}
    for row in rows:
        _first, mentions = grouped.setdefault(row.pk, (row, []))
        user_id = getattr(row, "mentioned_user_id", None)
        if user_id is not None:
            mentions.append(
                MentionedMember(
                    user_id=user_id,
                    username=row.mentioned_username,
                    first_name=row.mentioned_first_name,
                    last_name=row.mentioned_last_name,
                )
            )
    return [(note, tuple(mentions)) for note, mentions in grouped.values()]


def member_list_mentionable(
    *, organization: Organization, conversation: Conversation, term: str = ""
) -> QuerySet[Membership]:
    """Who may be mentioned in a note of the conversation: whoever may see it (the rule the
    other way round, as for assigning), optionally those whose username or name starts with
    ``term``."""
    members = member_list_assignable(organization=organization, channel_id=conversation.channel_id)
    if term:
        members = members.filter(
            Q(user__username__istartswith=term)
            | Q(user__first_name__istartswith=term)
            | Q(user__last_name__istartswith=term)
        )
    return members


# --- Conversations lost to a closed window (for the reports) ------------------------------

WINDOW_LOSS_GROUPS = {"channel": "channel_id", "department": "department_id", "agent": "assignee_id"}


@dataclass(frozen=True, slots=True)
class WindowLossCount:
    """How many conversations were lost to a closed window: in one group (a channel,
    department or agent id; None: no agent, or the total when not grouped)."""

    key: int | None
    count: int


def window_loss_counts(
    *,
    organization: Organization,
    since: datetime,
    until: datetime,
    by: str | None = None,
    channel_ids: Any = None,
    agent_id: int | None = None,
) -> list[WindowLossCount]:
    """Conversations whose customer's last message was never answered before the 7-day window
    closed, counted by when it closed (``since`` included, ``until`` excluded), where they stood
    then: in total (``by`` None) or by ``channel``, ``department`` or ``agent`` (the assignee at
    that time; None for nobody), largest first. ``channel_ids`` and ``agent_id`` narrow the
    count (an agent's own report: the caller decides). One query, on (organization, lost_at)."""
    losses = WindowLoss.objects.filter(organization=organization, lost_at__gte=since, lost_at__lt=until)
    if channel_ids is not None:
        losses = losses.filter(channel_id__in=list(channel_ids))
    if agent_id is not None:
        losses = losses.filter(assignee_id=agent_id)
    if by is None:
        return [WindowLossCount(key=None, count=losses.count())]
    field = WINDOW_LOSS_GROUPS[by]
    grouped = losses.values(field).annotate(count=Count("pk")).order_by("-count", field)
    return [WindowLossCount(key=row[field], count=row["count"]) for row in grouped]
