"""Writes on conversations: read state, assignment, forwarding, closing, blocking.

Every action leaves a system line (ConversationEvent) in the transcript. Visibility is
the caller's business (it found the conversation through ``messenger.selectors``); these
functions check what the action itself requires.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from channels.models import Channel
from helpdesk.exceptions import ChannelDeleted, InvalidInput, InvalidTransition, NotFound
from helpdesk.models import Department, Membership, Notification, Organization
from helpdesk.services import notification_create
from messenger import selectors
from messenger.models import Contact, Conversation, ConversationEvent, ConversationState
from messenger.tasks import sending as sending_tasks

logger = logging.getLogger(__name__)

NOTE_MAX_LENGTH = 1000
# At most one typing indicator per conversation in this many seconds.
TYPING_THROTTLE_SECONDS = 5


def _name(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def _event(*, conversation: Conversation, kind: str, acting_user: Any, **data: Any) -> ConversationEvent:
    return ConversationEvent.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        kind=kind,
        actor=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        data=data,
    )


def _require_channel_not_deleted(conversation: Conversation) -> None:
    if conversation.channel.deleted_at is not None:
        raise ChannelDeleted


def _check_organization(organization: Organization, conversation: Conversation) -> None:
    if conversation.organization_id != organization.pk:
        raise NotFound


def conversation_url(*, conversation: Conversation, organization: Organization) -> str:
    return reverse("messenger:conversation", kwargs={"org_slug": organization.slug, "conversation_id": conversation.pk})


# --- A channel moved to another department -----------------------------------------------------


def conversations_follow_channel(
    *, organization: Organization, acting_user: Any, channel: Channel, from_department: Department
) -> int:
    """The channel now belongs to `channel.department`: every conversation filed under it
    follows (so do the tickets they become from now on; those already made stay where they
    were made). All of them, closed ones too: a closed conversation opens again when the
    customer writes, and its next ticket belongs to the channel's department.

    Assignees who may no longer hold the channel's conversations (neither admins nor
    associated with it any more) are unassigned. Each open conversation gets a system line.
    Set-based; called inside the transaction that moved the channel. Returns how many moved.
    """
    filed = Conversation.objects.filter(organization=organization, channel=channel)
    moved = filed.exclude(department_id=channel.department_id).update(
        department_id=channel.department_id, updated_at=timezone.now()
    )
    may_hold = selectors.member_list_assignable(organization=organization, channel_id=channel.pk).values("user_id")
    open_rows = list(
        filed.filter(state=ConversationState.OPEN)
        .order_by("pk")
        .values_list("pk", "assignee_id", "assignee__first_name", "assignee__last_name", "assignee__username")
    )
    unassigned = filed.filter(assignee__isnull=False).exclude(assignee_id__in=may_hold)
    dropped = set(unassigned.values_list("assignee_id", flat=True))
    if dropped:
        unassigned.update(assignee=None, updated_at=timezone.now())
    actor = acting_user if getattr(acting_user, "is_authenticated", False) else None
    events = []
    for conversation_id, assignee_id, first_name, last_name, username in open_rows:
        data: dict[str, Any] = {
            "channel": channel.name,
            "from_department": from_department.name,
            "to_department": channel.department.name,
        }
        if assignee_id in dropped:
            data["unassigned"] = f"{first_name} {last_name}".strip() or username
        events.append(
            ConversationEvent(
                organization=organization,
                conversation_id=conversation_id,
                kind=ConversationEvent.Kind.CHANNEL_MOVED,
                actor=actor,
                data=data,
            )
        )
    ConversationEvent.objects.bulk_create(events, batch_size=500)
    return moved


# --- A member left departments -----------------------------------------------------------------

# The `reason` of an `unassigned` system line written because the assignee left the department.
UNASSIGNED_LEFT_DEPARTMENT = "left_department"


def conversations_unassign_for_departments(
    *, organization: Organization, acting_user: Any, membership: Membership, department_ids: Iterable[int]
) -> int:
    """The member no longer works in these departments: the conversations of the departments'
    channels they hold and may no longer see (channels.visibility; an admin still sees them)
    are unassigned, each with an `unassigned` system line naming them and the department.
    Set-based; named in settings.MEMBERSHIP_DEPARTMENTS_REMOVED_HOOKS. Returns how many."""
    held = Conversation.objects.filter(
        organization=organization,
        assignee_id=membership.user_id,
        channel__department_id__in=list(department_ids),
    ).exclude(selectors.visible_channel_filter(organization=organization, membership=membership))
    rows = list(held.order_by("pk").values_list("pk", "channel__department__name"))
    if not rows:
        return 0
    Conversation.objects.filter(pk__in=[pk for pk, _department in rows]).update(
        assignee=None, updated_at=timezone.now()
    )
    actor = acting_user if getattr(acting_user, "is_authenticated", False) else None
    name = _name(membership.user)
    ConversationEvent.objects.bulk_create(
        [
            ConversationEvent(
                organization=organization,
                conversation_id=conversation_id,
                kind=ConversationEvent.Kind.UNASSIGNED,
                actor=actor,
                data={"previous": name, "reason": UNASSIGNED_LEFT_DEPARTMENT, "department": department},
            )
            for conversation_id, department in rows
        ],
        batch_size=500,
    )
    return len(rows)


# --- Read state and sender actions -----------------------------------------------------------


def conversation_mark_read(*, organization: Organization, acting_user: Any, conversation: Conversation) -> bool:
    """Unread back to 0; when something was unread, tell Facebook the page has seen it.

    Returns True when the conversation had unread messages.
    """
    _check_organization(organization, conversation)
    changed = Conversation.objects.filter(pk=conversation.pk, unread_count__gt=0).update(unread_count=0)
    conversation.unread_count = 0
    if changed:
        _sender_action_on_commit(conversation=conversation, action="mark_seen")
    return bool(changed)


def conversation_typing(*, organization: Organization, acting_user: Any, conversation: Conversation) -> bool:
    """``typing_on`` for the customer, at most once per conversation every few seconds."""
    _check_organization(organization, conversation)
    try:
        first = cache.add(f"messenger:typing:{conversation.pk}", 1, TYPING_THROTTLE_SECONDS)
    except Exception:  # the cache (Redis) is down: typing_on is a courtesy, not worth an error
        logger.warning("typing_on for conversation %s skipped: the cache is unavailable", conversation.pk)
        return False
    if not first:
        return False
    _sender_action_on_commit(conversation=conversation, action="typing_on")
    return True


def _sender_action_on_commit(*, conversation: Conversation, action: str) -> None:
    conversation_id = conversation.pk

    def dispatch() -> None:
        try:
            sending_tasks.send_sender_action.delay(conversation_id, action)
        except Exception:  # a sender action is a courtesy: never fail the page for it
            logger.warning("could not queue %s for conversation %s", action, conversation_id, exc_info=True)

    transaction.on_commit(dispatch)


# --- Assignment and forwarding ---------------------------------------------------------------


@transaction.atomic
def conversation_assign(
    *,
    organization: Organization,
    acting_user: Any,
    conversation: Conversation,
    assignee_membership_id: int | None,
) -> Conversation:
    """Give the conversation to one of the channel's agents (None: nobody)."""
    _check_organization(organization, conversation)
    if assignee_membership_id is None:
        if conversation.assignee_id is None:
            return conversation
        previous = conversation.assignee
        conversation.assignee = None
        conversation.save(update_fields=["assignee", "updated_at"])
        _event(
            conversation=conversation,
            kind=ConversationEvent.Kind.UNASSIGNED,
            acting_user=acting_user,
            previous=_name(previous),
        )
        return conversation
    member = (
        selectors.member_list_assignable(organization=organization, channel_id=conversation.channel_id)
        .filter(pk=assignee_membership_id)
        .first()
    )
    if member is None:
        raise InvalidInput(
            _("This person is not an agent of the conversation's channel."),
            details={"assignee_id": [_("Choose an agent of this channel.")]},
        )
    if conversation.assignee_id == member.user_id:
        return conversation
    conversation.assignee = member.user
    conversation.save(update_fields=["assignee", "updated_at"])
    _event(
        conversation=conversation,
        kind=ConversationEvent.Kind.ASSIGNED,
        acting_user=acting_user,
        to=_name(member.user),
        to_user_id=member.user_id,
    )
    return conversation


@transaction.atomic
def conversation_forward(
    *,
    organization: Organization,
    acting_user: Any,
    conversation: Conversation,
    to_membership_id: int | None = None,
    to_channel_id: int | None = None,
    note: str = "",
) -> Conversation:
    """Transfer to another agent (who is notified), or file it under another channel.

    Forwarding to a channel moves the conversation to that channel and its department and
    clears the assignee; replies still go out through the same Facebook Page.
    """
    _check_organization(organization, conversation)
    _require_channel_not_deleted(conversation)
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
            selectors.channel_list_forward_targets(organization=organization, conversation=conversation)
            .filter(pk=to_channel_id)
            .first()
        )
        if target is None:
            raise InvalidInput(
                _("This channel cannot receive the conversation."),
                details={"to_channel_id": [_("Choose another channel.")]},
            )
        source = conversation.channel
        conversation.channel = target
        conversation.department = target.department
        conversation.assignee = None
        conversation.save(update_fields=["channel", "department", "assignee", "updated_at"])
        _event(
            conversation=conversation,
            kind=ConversationEvent.Kind.FORWARDED,
            acting_user=acting_user,
            from_channel=source.name,
            to_channel=target.name,
            to_channel_id=target.pk,
            to_department=target.department.name,
            note=note,
        )
        return conversation

    assert to_membership_id is not None  # exactly one of the two targets, checked above
    member = (
        selectors.member_list_assignable(organization=organization, channel_id=conversation.channel_id)
        .filter(pk=to_membership_id)
        .first()
    )
    if member is None:
        raise InvalidInput(
            _("This person is not an agent of the conversation's channel."),
            details={"to_membership_id": [_("Choose an agent of this channel.")]},
        )
    conversation.assignee = member.user
    conversation.save(update_fields=["assignee", "updated_at"])
    _event(
        conversation=conversation,
        kind=ConversationEvent.Kind.FORWARDED,
        acting_user=acting_user,
        to=_name(member.user),
        to_user_id=member.user_id,
        note=note,
    )
    if member.user_id != getattr(acting_user, "pk", None):
        contact = conversation.contact
        # Written in the language the recipient reads the helpdesk in, not the sender's.
        with translation.override(member.language or organization.language):
            title = _("%(agent)s forwarded you a conversation with %(contact)s") % {
                "agent": _name(acting_user),
                "contact": str(contact),
            }
        notification_create(
            organization=organization,
            user_ids=[member.user_id],
            kind=Notification.Kind.CONVERSATION_FORWARDED,
            title=title,
            body=note,
            url=conversation_url(conversation=conversation, organization=organization),
        )
    return conversation


# --- State -------------------------------------------------------------------------------------


def _set_state(
    *, organization: Organization, acting_user: Any, conversation: Conversation, to: str, kind: str
) -> Conversation:
    _check_organization(organization, conversation)
    changed = (
        Conversation.objects.filter(pk=conversation.pk).exclude(state=to).update(state=to, updated_at=timezone.now())
    )
    if not changed:
        raise InvalidTransition(
            _("The conversation is already closed.")
            if to == ConversationState.CLOSED
            else _("The conversation is already open.")
        )
    conversation.state = to
    _event(conversation=conversation, kind=kind, acting_user=acting_user)
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


# --- Blocking ----------------------------------------------------------------------------------


@transaction.atomic
def contact_block(*, organization: Organization, acting_user: Any, conversation: Conversation) -> Contact:
    """Block the customer: their new messages are still stored, but hidden (webhook side)."""
    _check_organization(organization, conversation)
    _require_channel_not_deleted(conversation)
    contact = conversation.contact
    changed = Contact.objects.filter(pk=contact.pk, is_blocked=False).update(is_blocked=True, blocked_at=timezone.now())
    if not changed:
        raise InvalidTransition(_("This customer is already blocked."))
    contact.refresh_from_db(fields=["is_blocked", "blocked_at"])
    _event(
        conversation=conversation, kind=ConversationEvent.Kind.BLOCKED, acting_user=acting_user, contact=str(contact)
    )
    return contact


@transaction.atomic
def contact_unblock(*, organization: Organization, acting_user: Any, conversation: Conversation) -> Contact:
    _check_organization(organization, conversation)
    contact = conversation.contact
    changed = Contact.objects.filter(pk=contact.pk, is_blocked=True).update(is_blocked=False, blocked_at=None)
    if not changed:
        raise InvalidTransition(_("This customer is not blocked."))
    contact.is_blocked, contact.blocked_at = False, None
    _event(
        conversation=conversation, kind=ConversationEvent.Kind.UNBLOCKED, acting_user=acting_user, contact=str(contact)
    )
    return contact
