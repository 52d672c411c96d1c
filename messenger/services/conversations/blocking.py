"""Blocking a conversation's customer: their new messages are still stored, but hidden
(webhook side), and no reply goes out to them."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.exceptions import InvalidTransition
from helpdesk.models import Organization
from messenger.models import Contact, Conversation, ConversationEvent
from messenger.services.conversations.events import check_organization, event_record, require_channel_not_deleted


@transaction.atomic
def contact_block(*, organization: Organization, acting_user: Any, conversation: Conversation) -> Contact:
    """Block the customer: their new messages are still stored, but hidden (webhook side)."""
    check_organization(organization, conversation)
    require_channel_not_deleted(conversation)
    contact = conversation.contact
    changed = Contact.objects.filter(pk=contact.pk, is_blocked=False).update(is_blocked=True, blocked_at=timezone.now())
    if not changed:
        raise InvalidTransition(_("This customer is already blocked."))
    contact.refresh_from_db(fields=["is_blocked", "blocked_at"])
    event_record(
        conversation=conversation, kind=ConversationEvent.Kind.BLOCKED, acting_user=acting_user, contact=str(contact)
    )
    return contact


@transaction.atomic
def contact_unblock(*, organization: Organization, acting_user: Any, conversation: Conversation) -> Contact:
    check_organization(organization, conversation)
    contact = conversation.contact
    changed = Contact.objects.filter(pk=contact.pk, is_blocked=True).update(is_blocked=False, blocked_at=None)
    if not changed:
        raise InvalidTransition(_("This customer is not blocked."))
    contact.is_blocked, contact.blocked_at = False, None
    event_record(
        conversation=conversation, kind=ConversationEvent.Kind.UNBLOCKED, acting_user=acting_user, contact=str(contact)
    )
    return contact
