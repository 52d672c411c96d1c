"""What every action on a conversation shares: the system line it leaves in the transcript,
the name it shows of a member, and the checks it starts with."""

from __future__ import annotations

from typing import Any

from helpdesk.exceptions import ChannelDeleted, NotFound
from helpdesk.models import Organization
from helpdesk.names import name_parts
from messenger.models import Conversation, ConversationEvent


def member_name(user: Any) -> dict[str, str]:
    """A member's name as a system line keeps it (helpdesk.names.name_parts)."""
    return name_parts(user)


def event_record(*, conversation: Conversation, kind: str, acting_user: Any, **data: Any) -> ConversationEvent:
    return ConversationEvent.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        kind=kind,
        actor=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        data=data,
    )


def require_channel_not_deleted(conversation: Conversation) -> None:
    if conversation.channel.deleted_at is not None:
        raise ChannelDeleted


def check_organization(organization: Organization, conversation: Conversation) -> None:
    if conversation.organization_id != organization.pk:
        raise NotFound
