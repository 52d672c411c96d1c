"""How a conversation changed, as the pages are told (live.publish): the codes of a conversation
event's `what`, which code each system line is, and the helpers the services call. Events are
sent after commit and carry ids and codes only; they are addressed to the conversation's own
channel (the visibility rule), with its assignee's user id for alerts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from helpdesk import signals
from live.publish import conversation_changed, publish
from messenger.models import ConversationEvent

CREATED = "created"  # a new conversation
CUSTOMER_MESSAGE = "customer_message"
AGENT_MESSAGE = "agent_message"  # a reply or an echo stored or sent
STATUS = "status"  # delivery, read, failed ticks
REACTION = "reaction"
EDIT = "edit"
STATE = "state"  # closed, reopened, made a ticket
ASSIGNMENT = "assignment"
LABELS = "labels"
NOTE = "note"
CONTACT = "contact"  # the customer's name, blocked or not
EVENT = "event"  # any other system line
WINDOW_CLOSING = "window_closing"  # a reply window about to close on an unanswered customer

_Kind = ConversationEvent.Kind
SYSTEM_LINE_CHANGES: dict[str, str] = {
    _Kind.ASSIGNED: ASSIGNMENT,
    _Kind.UNASSIGNED: ASSIGNMENT,
    _Kind.FORWARDED: ASSIGNMENT,
    _Kind.REQUEUED: ASSIGNMENT,
    _Kind.CLOSED: STATE,
    _Kind.REOPENED: STATE,
    _Kind.CONVERTED: STATE,
    _Kind.BLOCKED: CONTACT,
    _Kind.UNBLOCKED: CONTACT,
    _Kind.LABEL_ADDED: LABELS,
    _Kind.LABEL_REMOVED: LABELS,
}


def system_line_change(kind: str) -> str:
    return SYSTEM_LINE_CHANGES.get(kind, EVENT)


# The system lines that API clients hear of (outgoing webhooks, helpdesk.signals.domain_events).
SIGNALLED_KINDS: dict[str, str] = {
    _Kind.ASSIGNED: signals.CONVERSATION_ASSIGNED,
    _Kind.CLOSED: signals.CONVERSATION_CLOSED,
}


def conversations_signalled(*, organization_id: int, type: str, conversation_ids: Iterable[int]) -> None:
    """Tell the apps above (in the transaction of the change) that these conversations changed."""
    signals.domain_events_send(
        organization_id=organization_id,
        type=type,
        resource=signals.CONVERSATION,
        subjects=[(conversation_id, conversation_id) for conversation_id in conversation_ids],
    )


def system_lines_signalled(*, organization_id: int, kind: str, conversation_ids: Iterable[int]) -> None:
    """`conversations_signalled` for system lines of a kind API clients hear of."""
    type = SIGNALLED_KINDS.get(kind)
    if type is not None:
        conversations_signalled(organization_id=organization_id, type=type, conversation_ids=conversation_ids)


class _AsItIs:
    pass


AS_IT_IS: Any = _AsItIs()


def conversation_told(conversation: Any, *, what: str, channel_id: int | None = None) -> None:
    """Tell who sees the conversation (or the channel `channel_id`: the one it left) how it changed."""
    conversations_told([conversation], what=what, channel_id=channel_id)


def conversations_told(
    conversations: Iterable[Any], *, what: str, assignee_id: Any = AS_IT_IS, channel_id: int | None = None
) -> None:
    """One event per conversation (instances, or anything with organization_id, channel_id,
    pk and assignee_id); `assignee_id` when the instances still hold the old one."""
    publish(
        conversation_changed(
            organization_id=conversation.organization_id,
            channel_id=channel_id or conversation.channel_id,
            conversation_id=conversation.pk,
            what=what,
            assignee=conversation.assignee_id if assignee_id is AS_IT_IS else assignee_id,
        )
        for conversation in conversations
    )


def conversation_rows_told(rows: Iterable[tuple[int, int, int, int | None]], *, what: str) -> None:
    """One event per (organization id, channel id, conversation id, assignee id)."""
    publish(
        conversation_changed(
            organization_id=organization_id,
            channel_id=channel_id,
            conversation_id=conversation_id,
            what=what,
            assignee=assignee_id,
        )
        for organization_id, channel_id, conversation_id, assignee_id in dict.fromkeys(rows)
    )
