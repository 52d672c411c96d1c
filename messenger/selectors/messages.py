"""A conversation's messages (a blocked customer's hidden ones left out), every message a
member sees and one of them, a colleague's latest reply (asked before a reply goes out), and
runs of a conversation's messages by id (``MessageRange``: a ticket's part of the thread).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from helpdesk.converters import parse_id
from helpdesk.exceptions import NotFound
from helpdesk.models import Membership, Organization
from messenger.models import Conversation, Direction, Message, MessageSource
from messenger.selectors.visibility import message_visible_filter


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


def message_visible_list(*, organization: Organization, membership: Membership) -> QuerySet[Message]:
    """Every message the member may see (of the conversations they see, hidden ones left out)."""
    return Message.objects.filter(message_visible_filter(organization=organization, membership=membership))


def message_get(*, organization: Organization, membership: Membership, message_id: Any) -> Message:
    """One message the member may see, or NotFound; its attachments are served on the same terms."""
    message = (
        message_visible_list(organization=organization, membership=membership)
        .filter(pk=parse_id(message_id))
        .select_related("conversation")
        .first()
    )
    if message is None:
        raise NotFound
    return message


# --- Ranges ----------------------------------------------------------------------------------


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
