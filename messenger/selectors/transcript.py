"""A conversation's transcript: its messages with the system lines (ConversationEvent) and
private notes of the same period, oldest first, the whole thread or a ticket's part of it;
and the private notes themselves, with the members mentioned in them (the notes of a
conversation, or of a ticket's part). The notes' period and their mentions are read by the
same code for the transcript and for the notes' lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Prefetch, Q, QuerySet

from channels import visibility
from helpdesk.models import Organization
from messenger.models import Conversation, ConversationEvent, Message, Note, NoteMention
from messenger.selectors.messages import MessageRange, message_list, message_range_filter

TRANSCRIPT_LIMIT = 150


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


# --- Private notes ---------------------------------------------------------------------------


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
