"""The transcript of one conversation as the inbox shows it: its lines (messages, and system
lines in words), the reply window and why a reply would be refused, and the version its
polled partial answers 204 for. Reads go through ``messenger.selectors``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from helpdesk import datetimes
from helpdesk.models import Organization
from helpdesk.names import person_name, stored_name, user_name
from helpdesk.tenancy import TenantRequest
from messenger import mentions
from messenger.models import Conversation, ConversationEvent, Message, Note
from messenger.reply_window import reply_window
from messenger.routing import rules as routing_rules
from messenger.selectors import messages as message_selectors
from messenger.selectors import transcript as transcript_selectors
from messenger.send_failures import send_failure
from messenger.services.conversations.reorganization import UNASSIGNED_LEFT_DEPARTMENT
from messenger.services.sending import reply_rules
from messenger.views.attachments import display_attachments
from messenger.views.polling import POLL_SECONDS, digest
from messenger.window_alerts import AlertLeads, conversation_window_closing


def describe_event(event: ConversationEvent) -> str:
    """A system line, with names as they were at the time."""
    data = event.data or {}
    actor = user_name(event.actor) or _("The system")
    Kind = ConversationEvent.Kind
    if event.kind == Kind.ASSIGNED and data.get("by"):
        return _automatic_assignment(data)
    if event.kind == Kind.REQUEUED:
        return _("Returned to the queue: %(agent)s went offline.") % {"agent": stored_name(data.get("previous"), "?")}
    if event.kind == Kind.ASSIGNED:
        return _("%(actor)s assigned the conversation to %(to)s.") % {
            "actor": actor,
            "to": stored_name(data.get("to"), "?"),
        }
    if event.kind == Kind.UNASSIGNED:
        if data.get("reason") == UNASSIGNED_LEFT_DEPARTMENT:
            return _(
                "%(actor)s removed %(agent)s from the department %(department)s: the conversation was unassigned."
            ) % {
                "actor": actor,
                "agent": stored_name(data.get("previous"), "?"),
                "department": data.get("department", "?"),
            }
        return _("%(actor)s unassigned the conversation.") % {"actor": actor}
    if event.kind == Kind.FORWARDED:
        if data.get("to_channel"):
            line = _("%(actor)s forwarded the conversation to the channel %(channel)s (%(department)s).") % {
                "actor": actor,
                "channel": data["to_channel"],
                "department": data.get("to_department", ""),
            }
        else:
            line = _("%(actor)s forwarded the conversation to %(to)s.") % {
                "actor": actor,
                "to": stored_name(data.get("to"), "?"),
            }
        if data.get("note"):
            line += " " + _("Note: “%(note)s”") % {"note": data["note"]}
        return line
    if event.kind == Kind.CLOSED:
        return _("%(actor)s closed the conversation.") % {"actor": actor}
    if event.kind == Kind.REOPENED:
        return _("%(actor)s reopened the conversation.") % {"actor": actor}
    if event.kind == Kind.BLOCKED:
        return _("%(actor)s blocked the customer.") % {"actor": actor}
    if event.kind == Kind.UNBLOCKED:
        return _("%(actor)s unblocked the customer.") % {"actor": actor}
    if event.kind == Kind.CHANNEL_MOVED:
        line = _("%(actor)s moved the channel %(channel)s from the department %(from)s to %(to)s.") % {
            "actor": actor,
            "channel": data.get("channel", "?"),
            "from": data.get("from_department", "?"),
            "to": data.get("to_department", "?"),
        }
        if data.get("unassigned"):
            line += " " + _("%(agent)s does not answer this channel any more and was unassigned.") % {
                "agent": stored_name(data["unassigned"])
            }
        return line
    if event.kind == Kind.CONVERTED:
        return _("%(actor)s converted the conversation to a ticket.") % {"actor": actor}
    if event.kind == Kind.OUT_OF_HOURS_REPLY:
        return _("The out-of-hours reply was sent.")
    if event.kind == Kind.LABEL_ADDED:
        return _("%(actor)s added the label %(label)s.") % {"actor": actor, "label": data.get("label", "?")}
    if event.kind == Kind.LABEL_REMOVED:
        return _("%(actor)s removed the label %(label)s.") % {"actor": actor, "label": data.get("label", "?")}
    return str(event.get_kind_display())


def _automatic_assignment(data: dict[str, Any]) -> str:
    """An assignment by messenger.routing: by the channel's rule, or from the queue."""
    agent = stored_name(data.get("to"), "?")
    by = data.get("by")
    if by == routing_rules.BY_ROUND_ROBIN:
        return _("Assigned to %(agent)s by round robin.") % {"agent": agent}
    if by == routing_rules.BY_LEAST_LOADED:
        return _("Assigned to %(agent)s as the least loaded agent.") % {"agent": agent}
    return _("Assigned to %(agent)s from the queue.") % {"agent": agent}


def _entry_key(entry: transcript_selectors.TranscriptEntry) -> str:
    """The transcript line's key: "m<message id>", "n<note id>" for a note, or "e<event id>"
    for a system line."""
    if entry.message is not None:
        return f"m{entry.message.pk}"
    if entry.note is not None:
        return f"n{entry.note.pk}"
    return f"e{entry.event.pk}" if entry.event is not None else ""


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One line of the transcript as the template shows it: the selector's entry with the
    words and addresses worked out (a system line's sentence, a message's attachments to
    show, why a reply failed and what the agent can do: ``messenger.send_failures``). A system
    line of a higher layer (a ticket's event) has neither message nor event, only ``at`` and
    ``description``."""

    at: datetime
    message: Message | None
    event: ConversationEvent | None
    quoted: Message | None
    description: str = ""
    attachments: tuple[dict[str, Any], ...] = ()
    failure_reason: str = ""
    failure_advice: str = ""
    # On the first line of each day (in the reader's time zone): the day separator's words.
    day_label: str = ""
    day_iso: str = ""
    # A private note, and its text as HTML: escaped, its mentions highlighted (note_html).
    note: Note | None = None
    note_html: str = ""


def note_html(body: str, mentioned: Sequence[transcript_selectors.MentionedMember]) -> SafeString:
    """A note's text, escaped, each mention of a member named in it shown as their name
    (``@Aiko Tanaka``, the username in its title). Nothing of the text is taken as HTML."""
    by_username = {member.username.lower(): member for member in mentioned}
    parts: list[str] = []
    position = 0
    for span in mentions.mention_spans(body, usernames=by_username):
        member = by_username[span.username.lower()]
        parts.append(conditional_escape(body[position : span.start]))
        parts.append(
            format_html(
                '<span class="hd-mention" title="@{}">@{}</span>',
                member.username,
                person_name(member.first_name, member.last_name) or member.username,
            )
        )
        position = span.end
    parts.append(conditional_escape(body[position:]))
    return mark_safe("".join(parts))  # noqa: S308 (every part escaped above)


def _transcript_line(entry: transcript_selectors.TranscriptEntry, *, organization: Organization) -> TranscriptLine:
    line = TranscriptLine(at=entry.at, message=entry.message, event=entry.event, quoted=entry.quoted)
    if entry.note is not None:
        return replace(line, note=entry.note, note_html=note_html(entry.note.body, entry.mentions))
    if entry.event is not None:
        return replace(line, description=describe_event(entry.event))
    if entry.message is None:
        return line
    message = entry.message
    failure = send_failure(message)
    return replace(
        line,
        attachments=tuple(
            display_attachments(message.attachments, organization_slug=organization.slug, message_id=message.pk)
        ),
        failure_reason=failure.reason if failure else "",
        failure_advice=failure.advice if failure else "",
    )


def with_day_separators(lines: list[TranscriptLine]) -> list[TranscriptLine]:
    """The lines, the first of each day carrying that day's label: the transcript shows the
    date once per day and each bubble only its time."""
    today = timezone.localdate()
    grouped: list[TranscriptLine] = []
    previous: date | None = None
    for line in lines:
        day = datetimes.local_day(line.at)
        if day != previous:
            line = replace(line, day_label=datetimes.day_label(day, today=today), day_iso=day.isoformat())
            previous = day
        grouped.append(line)
    return grouped


def system_line(*, at: datetime, description: str) -> TranscriptLine:
    """A system line of a higher layer, in words already (the reader's language)."""
    return TranscriptLine(at=at, message=None, event=None, quoted=None, description=description)


def transcript_context(
    request: TenantRequest,
    conversation: Conversation,
    *,
    part: message_selectors.MessageRange | None = None,
    extra_lines: Sequence[TranscriptLine] = (),
) -> dict[str, Any]:
    """What the transcript's templates show (the whole conversation page and the polled
    partial), with ``transcript_version``: the digest of all of it that can change.

    ``part``: only that run of the conversation (a ticket's); ``extra_lines``: system lines
    of a higher layer, merged in by time."""
    organization = request.organization
    transcript = transcript_selectors.conversation_transcript(
        organization=organization, conversation=conversation, part=part
    )
    lines = [_transcript_line(entry, organization=organization) for entry in transcript.entries]
    if extra_lines:
        # Stable: at the same instant the conversation's own lines come first.
        lines = sorted([*lines, *extra_lines], key=lambda line: line.at)
    lines = with_day_separators(lines)
    window = reply_window(conversation.last_inbound_at)
    closing = conversation_window_closing(conversation, leads=AlertLeads.of(organization))
    refusal = reply_rules.reply_refusal(conversation=conversation)
    contact = conversation.contact
    version = digest(
        [
            (
                e.message.pk,
                e.message.status,
                e.message.text,
                e.message.edit_count,
                e.message.reactions,
                e.message.attempts,
                e.message.error_code,
                e.message.attachments_tried_at,
                [a.get("stored_name") for a in e.message.attachments if isinstance(a, dict)]
                if isinstance(e.message.attachments, list)
                else None,
            )
            if e.message
            else ("n", e.note.pk, e.note.body, e.note.edited_at)
            if e.note
            else ("e", e.event.pk if e.event else None)
            for e in transcript.entries
        ]
        + [
            conversation.state,
            conversation.assignee_id,
            conversation.channel_id,
            contact.is_blocked,
            window.label,
            closing.label if closing else None,
            refusal.code if refusal else None,
            # "Today" becomes "Yesterday" at midnight.
            timezone.localdate().isoformat(),
        ]
        + [(line.at, line.description) for line in extra_lines]
    )
    last = transcript.entries[-1] if transcript.entries else None
    return {
        "conversation": conversation,
        "contact": contact,
        "transcript": transcript,
        "lines": lines,
        "window": window,
        "window_closing": closing,
        "refusal": refusal,
        "transcript_version": version,
        "last_entry_key": _entry_key(last) if last else "",
        "max_length": reply_rules.MAX_TEXT_LENGTH,
        # Facebook's own words for a failed send are developer text: admins only.
        "show_failure_details": request.membership.is_admin,
        "poll_seconds": POLL_SECONDS,
    }
