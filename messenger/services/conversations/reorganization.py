"""What follows when the desk is reorganized around conversations: a channel moved to another
department, a member left departments. Set-based; called inside the transaction of the
change that caused it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from channels.models import Channel
from helpdesk.models import Department, Membership, Organization
from messenger.conversation_changes import ASSIGNMENT, EVENT, conversation_rows_told
from messenger.models import Conversation, ConversationEvent, ConversationState
from messenger.selectors import visibility as visibility_selectors
from messenger.services.conversations.events import member_name


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
    may_hold = visibility_selectors.member_list_assignable(organization=organization, channel_id=channel.pk).values(
        "user_id"
    )
    open_rows = list(
        filed.filter(state=ConversationState.OPEN)
        .order_by("pk")
        .values_list("pk", "assignee_id", "assignee__first_name", "assignee__last_name", "assignee__username")
    )
    unassigned = filed.filter(assignee__isnull=False).exclude(assignee_id__in=may_hold)
    dropped = set(unassigned.values_list("assignee_id", flat=True))
    if dropped:
        unassigned.update(assignee=None, updated_at=timezone.now())
    # Its open conversations' lists and transcripts change (a system line, maybe an assignee);
    # who sees the channel changes too (the channel's agents' scope: channels.services).
    conversation_rows_told(
        (
            (organization.pk, channel.pk, pk, None if assignee_id in dropped else assignee_id)
            for pk, assignee_id, *_name in open_rows
        ),
        what=EVENT,
    )
    actor = acting_user if getattr(acting_user, "is_authenticated", False) else None
    events = []
    for conversation_id, assignee_id, first_name, last_name, username in open_rows:
        data: dict[str, Any] = {
            "channel": channel.name,
            "from_department": from_department.name,
            "to_department": channel.department.name,
        }
        if assignee_id in dropped:
            data["unassigned"] = {"first_name": first_name, "last_name": last_name, "username": username}
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
    ).exclude(visibility_selectors.visible_channel_filter(organization=organization, membership=membership))
    rows = list(held.order_by("pk").values_list("pk", "channel__department__name", "channel_id"))
    if not rows:
        return 0
    conversation_rows_told(
        ((organization.pk, channel_id, pk, None) for pk, _department, channel_id in rows), what=ASSIGNMENT
    )
    Conversation.objects.filter(pk__in=[pk for pk, _department, _channel_id in rows]).update(
        assignee=None, updated_at=timezone.now()
    )
    actor = acting_user if getattr(acting_user, "is_authenticated", False) else None
    name = member_name(membership.user)
    ConversationEvent.objects.bulk_create(
        [
            ConversationEvent(
                organization=organization,
                conversation_id=conversation_id,
                kind=ConversationEvent.Kind.UNASSIGNED,
                actor=actor,
                data={"previous": name, "reason": UNASSIGNED_LEFT_DEPARTMENT, "department": department},
            )
            for conversation_id, department, _channel_id in rows
        ],
        batch_size=500,
    )
    return len(rows)
