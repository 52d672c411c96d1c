"""Closing and reopening a conversation (the customer's next message also reopens it,
webhook side).

Closing leaves the queue of automatic assignment and frees room: the queue drains to its
agent once committed (messenger.routing). Reopening an unassigned conversation routes it;
a deleted channel's conversation is not reopened. The rules are functions the bulk actions
(``bulk``) call too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.exceptions import InvalidTransition
from helpdesk.models import Organization
from helpdesk.signals import FINISHED_CONVERSATION_CLOSED, conversation_finished_send
from messenger.models import Conversation, ConversationEvent, ConversationState
from messenger.routing.drain import rooms_freed
from messenger.routing.rules import ASSIGNING_MODES
from messenger.routing.triggers import route_on_commit
from messenger.services.conversations.events import check_organization, event_record, require_channel_not_deleted

# The system line each change of state leaves.
TRANSITION_EVENTS: dict[str, str] = {
    ConversationState.CLOSED: ConversationEvent.Kind.CLOSED,
    ConversationState.OPEN: ConversationEvent.Kind.REOPENED,
}


def state_changes(to: str) -> dict[str, Any]:
    """The columns a change of state to ``to`` writes: closing also leaves the queue."""
    changes: dict[str, Any] = {"state": to, "updated_at": timezone.now()}
    if to == ConversationState.CLOSED:
        changes["queued_at"] = None
    return changes


def require_may_change_state(conversation: Conversation, *, to: str) -> None:
    """A conversation of a deleted channel may still be closed (tidying up), not reopened:
    it could not be answered."""
    if to == ConversationState.OPEN:
        require_channel_not_deleted(conversation)


def state_changed(*, organization: Organization, conversations: Sequence[Conversation], to: str) -> None:
    """What follows once these conversations changed to ``to`` (one or many, as loaded before
    the change): closing frees their agents' room, the queue drains to them on commit;
    reopening routes those nobody holds in channels that assign automatically."""
    if to == ConversationState.CLOSED:
        rooms_freed(organization_id=organization.pk, user_ids=[c.assignee_id for c in conversations])
    else:
        route_on_commit(
            c.pk for c in conversations if c.assignee_id is None and c.channel.assignment_mode in ASSIGNING_MODES
        )


def _set_state(*, organization: Organization, acting_user: Any, conversation: Conversation, to: str) -> Conversation:
    check_organization(organization, conversation)
    require_may_change_state(conversation, to=to)
    changed = Conversation.objects.filter(pk=conversation.pk).exclude(state=to).update(**state_changes(to))
    if not changed:
        raise InvalidTransition(
            _("The conversation is already closed.")
            if to == ConversationState.CLOSED
            else _("The conversation is already open.")
        )
    conversation.state = to
    event = event_record(conversation=conversation, kind=TRANSITION_EVENTS[to], acting_user=acting_user)
    if to == ConversationState.CLOSED:
        conversation.queued_at = None
    state_changed(organization=organization, conversations=[conversation], to=to)
    if to == ConversationState.CLOSED:
        closed_by_agent(organization=organization, acting_user=acting_user, close_events={conversation.pk: event.pk})
    return conversation


def closed_by_agent(*, organization: Organization, acting_user: Any, close_events: dict[int, int]) -> None:
    """Tell the apps above (helpdesk.signals.conversation_finished) that an agent closed these
    conversations: {conversation id: its close's event id}. Inside the closing transaction."""
    user_id = getattr(acting_user, "pk", None) if getattr(acting_user, "is_authenticated", False) else None
    conversation_finished_send(
        organization_id=organization.pk,
        acting_user_id=user_id,
        occasion=FINISHED_CONVERSATION_CLOSED,
        occasion_ids=close_events,
    )


@transaction.atomic
def conversation_close(*, organization: Organization, acting_user: Any, conversation: Conversation) -> Conversation:
    return _set_state(
        organization=organization,
        acting_user=acting_user,
        conversation=conversation,
        to=ConversationState.CLOSED,
    )


@transaction.atomic
def conversation_reopen(*, organization: Organization, acting_user: Any, conversation: Conversation) -> Conversation:
    return _set_state(
        organization=organization,
        acting_user=acting_user,
        conversation=conversation,
        to=ConversationState.OPEN,
    )
