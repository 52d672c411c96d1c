"""What the page alerts a member of (helpdesk.alerts holds their choices): a conversation's
live event asked about by the page, and the count in the tab's title.

A live event carries ids and codes only; the page asks `conversation_alert` what, if
anything, to show for it, under the visibility rule and the member's Preferences, in their
language.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from helpdesk import alerts
from helpdesk.models import Membership, Organization
from helpdesk.selectors import notification_unread_count
from messenger.contact_names import contact_name
from messenger.models import Conversation, ConversationState
from messenger.selectors import conversations as conversation_selectors
from messenger.selectors import visibility as visibility_selectors

# The conversation events (`what` of a live event) that may alert, and of which event.
EVENT_OF_CHANGE = {
    "created": alerts.NEW_CONVERSATION,
    "customer_message": alerts.CUSTOMER_MESSAGE,
}
# What a desktop notification quotes of the customer's last message.
BODY_LENGTH = 120


@dataclass(frozen=True)
class Alert:
    title: str
    body: str
    url: str
    desktop: bool
    sound: bool


def _concerns(*, event: str, conversation: Conversation, user_id: int) -> bool:
    """Whether the member is concerned: a new conversation in their queue (nobody holds it)
    or their own; a customer's message in a conversation assigned to them."""
    if event == alerts.NEW_CONVERSATION:
        return conversation.assignee_id in (None, user_id)
    return conversation.assignee_id == user_id and conversation.state == ConversationState.OPEN


def conversation_alert(
    *, organization: Organization, membership: Membership, conversation_id: int, what: str
) -> Alert | None:
    """The alert of this change of a conversation the member may see (NotFound otherwise),
    or None when there is nothing to alert of (a change that never alerts, a conversation
    that is not theirs, an event or ways turned off)."""
    conversation = conversation_selectors.conversation_get(
        organization=organization, membership=membership, conversation_id=conversation_id
    )
    event = EVENT_OF_CHANGE.get(what)
    if event is None or not _concerns(event=event, conversation=conversation, user_id=membership.user_id):
        return None
    choices = alerts.choices_of(membership)
    desktop, sound = choices.wants(event, alerts.DESKTOP), choices.wants(event, alerts.SOUND)
    if not desktop and not sound:
        return None
    name = contact_name(conversation.contact)
    if event == alerts.NEW_CONVERSATION:
        title = _("New conversation with %(name)s") % {"name": name}
    else:
        title = _("New message from %(name)s") % {"name": name}
    body = " ".join(conversation.last_message_preview.split())
    if len(body) > BODY_LENGTH:
        body = body[: BODY_LENGTH - 1].rstrip() + "…"
    url = reverse("messenger:conversation", kwargs={"org_slug": organization.slug, "conversation_id": conversation.pk})
    return Alert(title=title, body=body, url=url, desktop=desktop, sound=sound)


@dataclass(frozen=True)
class TitleCount:
    """The tab title's count: the member's unread notifications plus the open conversations
    assigned to them with messages they have not read."""

    notifications: int
    conversations: int

    @property
    def total(self) -> int:
        return self.notifications + self.conversations


def title_count(*, organization: Organization, membership: Membership) -> TitleCount:
    conversations = (
        Conversation.objects.filter(
            visibility_selectors.visible_channel_filter(organization=organization, membership=membership)
        )
        .filter(assignee_id=membership.user_id, state=ConversationState.OPEN, unread_count__gt=0)
        .count()
    )
    return TitleCount(
        notifications=notification_unread_count(organization=organization, user_id=membership.user_id),
        conversations=conversations,
    )
