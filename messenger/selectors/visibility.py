"""Who sees what, as the inbox reads it: the rule (``channels.visibility``) as filters on
conversations, messages and contacts, which every other read of the inbox applies; the one
contact a member may open; the channels a member sees, or may forward a conversation to; and
members: who may hold or be mentioned in a channel's conversations (whoever sees them: the
rule read from the other side), and the active members among some users (for their names).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from channels import visibility
from channels.models import Channel
from helpdesk.converters import parse_id
from helpdesk.exceptions import NotFound
from helpdesk.models import Membership, Organization
from messenger.models import Contact, Conversation

# --- The rule, as filters --------------------------------------------------------------------


def visible_channel_filter(*, organization: Organization, membership: Membership) -> Q:
    """The rule (channels.visibility), as a filter on Conversation."""
    return visibility.visible_filter(organization=organization, membership=membership)


def message_visible_filter(*, organization: Organization, membership: Membership) -> Q:
    """The rule as a filter on Message (through its conversation's channel); hidden
    messages (a blocked customer's) are never shown either."""
    return visibility.visible_filter(organization=organization, membership=membership, prefix="conversation__") & Q(
        organization=organization, is_hidden=False
    )


def contact_visible_filter(*, organization: Organization, membership: Membership) -> Q:
    """The rule as a filter on Contact: a contact is seen when one of their conversations is."""
    conversations = Conversation.objects.filter(
        visible_channel_filter(organization=organization, membership=membership)
    )
    return Q(organization=organization, pk__in=conversations.values("contact_id"))


# --- Contacts --------------------------------------------------------------------------------


def contact_get(*, organization: Organization, membership: Membership, contact_id: Any) -> Contact:
    """A contact the member talks to in one of the conversations they see, or NotFound."""
    contact = (
        Contact.objects.filter(contact_visible_filter(organization=organization, membership=membership))
        .filter(pk=parse_id(contact_id))
        .first()
    )
    if contact is None:
        raise NotFound
    return contact


# --- Channels --------------------------------------------------------------------------------


def channel_list_visible(*, organization: Organization, membership: Membership) -> QuerySet[Channel]:
    channels = visibility.visible_channel_list(organization=organization, membership=membership)
    return channels.select_related("department").order_by("deleted_at", "name")


def channel_list_forward_targets(*, organization: Organization, conversation: Conversation) -> QuerySet[Channel]:
    """Channels a conversation may be forwarded to: any other channel that is not deleted."""
    return (
        Channel.objects.filter(organization=organization, deleted_at__isnull=True)
        .exclude(pk=conversation.channel_id)
        .select_related("department")
        .order_by("department__name", "name")
    )


# --- Members ---------------------------------------------------------------------------------


def member_list_assignable(*, organization: Organization, channel_id: int) -> QuerySet[Membership]:
    """Who may hold a conversation of this channel: whoever sees it (channels.visibility)."""
    return (
        Membership.objects.filter(visibility.members_filter(organization=organization, channel_id=channel_id))
        .select_related("user")
        .order_by("user__first_name", "user__username")
    )


def channel_ids_member_may_hold(*, organization: Organization, membership: Membership, channel_ids: Any) -> set[int]:
    """Of these channels, those whose conversations the member may hold: the rule of
    ``member_list_assignable`` read from the member's side (who may hold a channel's
    conversations is who sees them, channels.visibility). One query, whatever the number."""
    channels = visibility.visible_channel_list(organization=organization, membership=membership)
    return set(channels.filter(pk__in=list(channel_ids)).values_list("pk", flat=True))


def member_list_assignable_somewhere(*, organization: Organization, membership: Membership) -> QuerySet[Membership]:
    """Who may hold the conversations of at least one live channel this member sees (the bulk
    "Assign to" menu; what they may hold is checked per conversation when assigning)."""
    channel_ids = channel_list_visible(organization=organization, membership=membership).filter(deleted_at__isnull=True)
    condition = visibility.NOTHING
    for channel_id in channel_ids.values_list("pk", flat=True):
        condition |= visibility.members_filter(organization=organization, channel_id=channel_id)
    return Membership.objects.filter(condition).select_related("user").order_by("user__first_name", "user__username")


def member_list_mentionable(
    *, organization: Organization, conversation: Conversation, term: str = ""
) -> QuerySet[Membership]:
    """Who may be mentioned in a note of the conversation: whoever may see it (the rule the
    other way round, as for assigning), optionally those whose username or name starts with
    ``term``."""
    members = member_list_assignable(organization=organization, channel_id=conversation.channel_id)
    if term:
        members = members.filter(
            Q(user__username__istartswith=term)
            | Q(user__first_name__istartswith=term)
            | Q(user__last_name__istartswith=term)
        )
    return members


def member_list_by_user(*, organization: Organization, user_ids: Any) -> QuerySet[Membership]:
    """The organization's active members among these users, with their user (for names)."""
    return Membership.objects.filter(
        organization=organization, user_id__in=list(user_ids), is_active=True
    ).select_related("user")
