"""Closing and reopening a conversation (the customer's next message also reopens it,
webhook side).

Closing leaves the queue of automatic assignment and frees room: the queue drains to its
agent once committed (messenger.routing). Reopening an unassigned conversation routes it."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.exceptions import InvalidTransition
from helpdesk.models import Organization
from messenger.models import Conversation, ConversationEvent, ConversationState
from messenger.routing.drain import room_freed
from messenger.routing.rules import ASSIGNING_MODES
from messenger.routing.triggers import route_on_commit
from messenger.services.conversations.events import check_organization, event_record


def _set_state(
    *, organization: Organization, acting_user: Any, conversation: Conversation, to: str, kind: str
) -> Conversation:
    check_organization(organization, conversation)
    changes: dict[str, Any] = {"state": to, "updated_at": timezone.now()}
    if to == ConversationState.CLOSED:
        changes["queued_at"] = None
    changed = Conversation.objects.filter(pk=conversation.pk).exclude(state=to).update(**changes)
    if not changed:
        raise InvalidTransition(
            _("The conversation is already closed.")
            if to == ConversationState.CLOSED
            else _("The conversation is already open.")
        )
    conversation.state = to
    event_record(conversation=conversation, kind=kind, acting_user=acting_user)
    if to == ConversationState.CLOSED:
        conversation.queued_at = None
        room_freed(organization_id=organization.pk, user_id=conversation.assignee_id)
    elif conversation.assignee_id is None and conversation.channel.assignment_mode in ASSIGNING_MODES:
        route_on_commit([conversation.pk])
    return conversation


@transaction.atomic
def conversation_close(*, organization: Organization, acting_user: Any, conversation: Conversation) -> Conversation:
    return _set_state(
        organization=organization,
        acting_user=acting_user,
        conversation=conversation,
        to=ConversationState.CLOSED,
        kind=ConversationEvent.Kind.CLOSED,
    )


@transaction.atomic
def conversation_reopen(*, organization: Organization, acting_user: Any, conversation: Conversation) -> Conversation:
    return _set_state(
        organization=organization,
        acting_user=acting_user,
        conversation=conversation,
        to=ConversationState.OPEN,
        kind=ConversationEvent.Kind.REOPENED,
    )
