"""What every action on a conversation shares: the system line it leaves in the transcript
(and the pages told of it), the name it shows of a member, and the checks it starts with."""

from __future__ import annotations

from typing import Any

from helpdesk.exceptions import ChannelDeleted, NotFound
from helpdesk.models import Organization
from helpdesk.names import name_parts
from messenger.conversation_changes import conversation_told, system_line_change, system_lines_signalled
from messenger.models import Conversation, ConversationEvent


def member_name(user: Any) -> dict[str, str]:
    """A member's name as a system line keeps it (helpdesk.names.name_parts)."""
    return name_parts(user)


def _actor(acting_user: Any) -> Any:
    return acting_user if getattr(acting_user, "is_authenticated", False) else None


def event_record(*, conversation: Conversation, kind: str, acting_user: Any, **data: Any) -> ConversationEvent:
    """The system line of a change made to `conversation` (as it is now); the pages that show
    it are told after commit."""
    event = ConversationEvent.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        kind=kind,
        actor=_actor(acting_user),
        data=data,
    )
    conversation_told(conversation, what=system_line_change(kind))
    system_lines_signalled(organization_id=conversation.organization_id, kind=kind, conversation_ids=[conversation.pk])
    return event


def events_record(
    *, organization: Organization, kind: str, acting_user: Any, data_by_conversation: dict[int, dict[str, Any]]
) -> list[ConversationEvent]:
    """``event_record`` for many conversations at once (a bulk action): one INSERT, one
    system line per conversation, each with its own data, returned with their ids. The caller tells the pages
    (messenger.conversation_changes), knowing the conversations as they are now."""
    if not data_by_conversation:
        return []
    actor = _actor(acting_user)
    system_lines_signalled(organization_id=organization.pk, kind=kind, conversation_ids=list(data_by_conversation))
    return ConversationEvent.objects.bulk_create(
        [
            ConversationEvent(
                organization=organization, conversation_id=conversation_id, kind=kind, actor=actor, data=data
            )
            for conversation_id, data in data_by_conversation.items()
        ]
    )


def require_channel_not_deleted(conversation: Conversation) -> None:
    if conversation.channel.deleted_at is not None:
        raise ChannelDeleted


def check_organization(organization: Organization, conversation: Conversation) -> None:
    if conversation.organization_id != organization.pk:
        raise NotFound
