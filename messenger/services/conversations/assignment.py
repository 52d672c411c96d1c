"""Who holds a conversation and where it is filed: assigning it to an agent of its channel,
forwarding it to another agent (who is notified) or to another channel.

Automatic assignment (messenger.routing) follows: a manual assignment takes the conversation
out of the queue; the agent who lost it may take from the queue (drained on commit); a
conversation left without an agent in a channel whose assignment is on is routed again.
Assigning an agent beyond their capacity is allowed, and said (``Assignment.over_capacity``).
A deleted channel's conversation is given to nobody. The rules are functions the bulk
actions (``bulk``) call too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from helpdesk.exceptions import InvalidInput
from helpdesk.models import Notification, Organization
from helpdesk.names import user_name
from helpdesk.services import notification_create
from messenger import notification_texts
from messenger.conversation_changes import ASSIGNMENT, conversation_told
from messenger.models import Conversation, ConversationEvent, ConversationState
from messenger.routing.candidates import capacity_of, open_load
from messenger.routing.drain import room_freed, rooms_freed
from messenger.routing.rules import ASSIGNING_MODES
from messenger.routing.triggers import route_on_commit
from messenger.selectors import visibility as visibility_selectors
from messenger.services.conversations.events import (
    check_organization,
    event_record,
    member_name,
    require_channel_not_deleted,
)

NOTE_MAX_LENGTH = 1000


def conversation_url(*, conversation: Conversation, organization: Organization) -> str:
    return reverse("messenger:conversation", kwargs={"org_slug": organization.slug, "conversation_id": conversation.pk})


@dataclass(frozen=True, slots=True)
class OverCapacity:
    """The assignee now holds more open conversations than their capacity."""

    load: int
    capacity: int


@dataclass(frozen=True, slots=True)
class Assignment:
    conversation: Conversation
    over_capacity: OverCapacity | None = None


def over_capacity_message(assignment: Assignment) -> str:
    """The warning of an assignment beyond the agent's capacity (it was made all the same)."""
    assert assignment.over_capacity is not None  # asked only of an assignment over capacity
    return over_capacity_text(agent=assignment.conversation.assignee, over_capacity=assignment.over_capacity)


def over_capacity_text(*, agent: Any, over_capacity: OverCapacity) -> str:
    return _("%(agent)s now holds %(load)d open conversations, more than their capacity of %(capacity)d.") % {
        "agent": user_name(agent),
        "load": over_capacity.load,
        "capacity": over_capacity.capacity,
    }


def over_capacity_of(*, organization: Organization, member: Any) -> OverCapacity | None:
    """Whether the member, once given conversations, holds more than their capacity."""
    load = open_load(organization_id=organization.pk, user_id=member.user_id)
    capacity = capacity_of(organization_id=organization.pk, membership_id=member.pk)
    return OverCapacity(load=load, capacity=capacity) if load > capacity else None


def require_may_be_given(conversation: Conversation) -> None:
    """A conversation of a deleted channel is given to nobody: it could not be answered
    (it may still be unassigned)."""
    require_channel_not_deleted(conversation)


def left_without_agent(*, organization: Organization, conversations: Sequence[tuple[Conversation, Any]]) -> None:
    """These conversations (each with the user who held it) lost their agent: the agents may
    take from the queue, and the open ones are routed again in channels that assign
    automatically. One conversation or many (the bulk actions)."""
    still_open = [(c, previous) for c, previous in conversations if c.state == ConversationState.OPEN]
    rooms_freed(organization_id=organization.pk, user_ids=[previous for _c, previous in still_open])
    route_on_commit(c.pk for c, _previous in still_open if c.channel.assignment_mode in ASSIGNING_MODES)


def taken_from(*, organization: Organization, conversations: Sequence[tuple[Conversation, Any]]) -> None:
    """These conversations were given to someone else than the user who held each: who held
    an open one has room again."""
    rooms_freed(
        organization_id=organization.pk,
        user_ids=[previous for c, previous in conversations if c.state == ConversationState.OPEN],
    )


@transaction.atomic
def conversation_assign(
    *,
    organization: Organization,
    acting_user: Any,
    conversation: Conversation,
    assignee_membership_id: int | None,
) -> Assignment:
    """Give the conversation to one of the channel's agents (None: nobody)."""
    check_organization(organization, conversation)
    if assignee_membership_id is None:
        if conversation.assignee_id is None:
            return Assignment(conversation)
        previous, previous_user_id = conversation.assignee, conversation.assignee_id
        conversation.assignee = None
        conversation.save(update_fields=["assignee", "updated_at"])
        event_record(
            conversation=conversation,
            kind=ConversationEvent.Kind.UNASSIGNED,
            acting_user=acting_user,
            previous=member_name(previous),
        )
        left_without_agent(organization=organization, conversations=[(conversation, previous_user_id)])
        return Assignment(conversation)
    require_may_be_given(conversation)
    member = (
        visibility_selectors.member_list_assignable(organization=organization, channel_id=conversation.channel_id)
        .filter(pk=assignee_membership_id)
        .first()
    )
    if member is None:
        raise InvalidInput(
            _("This person is not an agent of the conversation's channel."),
            details={"assignee_id": [_("Choose an agent of this channel.")]},
        )
    if conversation.assignee_id == member.user_id:
        return Assignment(conversation)
    replaced_user_id = conversation.assignee_id
    conversation.assignee = member.user
    conversation.queued_at = None
    conversation.save(update_fields=["assignee", "queued_at", "updated_at"])
    event_record(
        conversation=conversation,
        kind=ConversationEvent.Kind.ASSIGNED,
        acting_user=acting_user,
        to=member_name(member.user),
        to_user_id=member.user_id,
    )
    taken_from(organization=organization, conversations=[(conversation, replaced_user_id)])
    return Assignment(conversation, over_capacity_of(organization=organization, member=member))


@transaction.atomic
def conversation_forward(
    *,
    organization: Organization,
    acting_user: Any,
    conversation: Conversation,
    to_membership_id: int | None = None,
    to_channel_id: int | None = None,
    note: str = "",
) -> Assignment:
    """Transfer to another agent (who is notified), or file it under another channel.

    Forwarding to a channel moves the conversation to that channel and its department and
    clears the assignee; replies still go out through the same Facebook Page. Forwarding to
    an agent beyond their capacity is allowed, and said, as assigning is.
    """
    check_organization(organization, conversation)
    require_channel_not_deleted(conversation)
    note = note.strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise InvalidInput(
            _("A note can be at most %(max)d characters.") % {"max": NOTE_MAX_LENGTH},
            details={"note": [_("Too long.")]},
        )
    if (to_membership_id is None) == (to_channel_id is None):
        raise InvalidInput(
            _("Forward to an agent or to a channel."),
            details={"to": [_("Choose exactly one agent or one channel.")]},
        )
    if to_channel_id is not None:
        target = (
            visibility_selectors.channel_list_forward_targets(organization=organization, conversation=conversation)
            .filter(pk=to_channel_id)
            .first()
        )
        if target is None:
            raise InvalidInput(
                _("This channel cannot receive the conversation."),
                details={"to_channel_id": [_("Choose another channel.")]},
            )
        source = conversation.channel
        previous_user_id = conversation.assignee_id
        # Those who saw it in the channel it leaves are told too (it leaves their list).
        conversation_told(conversation, what=ASSIGNMENT, channel_id=source.pk)
        conversation.channel = target
        conversation.department = target.department
        conversation.assignee = None
        # It joins the new channel's queue, if any, when routed there.
        conversation.queued_at = None
        conversation.save(update_fields=["channel", "department", "assignee", "queued_at", "updated_at"])
        event_record(
            conversation=conversation,
            kind=ConversationEvent.Kind.FORWARDED,
            acting_user=acting_user,
            from_channel=source.name,
            to_channel=target.name,
            to_channel_id=target.pk,
            to_department=target.department.name,
            note=note,
        )
        left_without_agent(organization=organization, conversations=[(conversation, previous_user_id)])
        return Assignment(conversation)

    assert to_membership_id is not None  # exactly one of the two targets, checked above
    member = (
        visibility_selectors.member_list_assignable(organization=organization, channel_id=conversation.channel_id)
        .filter(pk=to_membership_id)
        .first()
    )
    if member is None:
        raise InvalidInput(
            _("This person is not an agent of the conversation's channel."),
            details={"to_membership_id": [_("Choose an agent of this channel.")]},
        )
    previous_user_id = conversation.assignee_id
    conversation.assignee = member.user
    conversation.queued_at = None
    conversation.save(update_fields=["assignee", "queued_at", "updated_at"])
    if conversation.state == ConversationState.OPEN and previous_user_id != member.user_id:
        room_freed(organization_id=organization.pk, user_id=previous_user_id)
    event_record(
        conversation=conversation,
        kind=ConversationEvent.Kind.FORWARDED,
        acting_user=acting_user,
        to=member_name(member.user),
        to_user_id=member.user_id,
        note=note,
    )
    if member.user_id != getattr(acting_user, "pk", None):
        params = notification_texts.conversation_forwarded_params(
            agent=member_name(acting_user), contact=conversation.contact, note=note
        )
        # Written when read, in the reader's language (messenger.notification_texts); the
        # stored fallback in the language the recipient reads the helpdesk in, not the sender's.
        with translation.override(member.language or organization.language):
            text = notification_texts.conversation_forwarded(params)
        notification_create(
            organization=organization,
            user_ids=[member.user_id],
            kind=Notification.Kind.CONVERSATION_FORWARDED,
            params=params,
            title=text.title,
            body=note,
            url=conversation_url(conversation=conversation, organization=organization),
        )
    return Assignment(conversation, over_capacity_of(organization=organization, member=member))
