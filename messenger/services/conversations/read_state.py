"""Read state and what the customer sees of it: unread counts, ``mark_seen`` and
``typing_on`` (sent by a task after commit, never failing the agent's page)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from django.db import transaction

from helpdesk.models import Organization
from messenger.conversation_changes import EVENT, conversation_told
from messenger.models import Conversation
from messenger.services.conversations.events import check_organization
from messenger.services.sending.reply_rules import reply_refusal
from messenger.tasks import sending as sending_tasks

logger = logging.getLogger(__name__)

# At most one typing indicator per conversation in this many seconds.
TYPING_THROTTLE_SECONDS = 5


def conversation_mark_read(*, organization: Organization, acting_user: Any, conversation: Conversation) -> bool:
    """Unread back to 0; when something was unread, tell Facebook the page has seen it.

    Returns True when the conversation had unread messages.
    """
    check_organization(organization, conversation)
    changed = Conversation.objects.filter(pk=conversation.pk, unread_count__gt=0).update(unread_count=0)
    conversation.unread_count = 0
    if changed:
        # The unread count is everyone's: the lists that show it are told.
        conversation_told(conversation, what=EVENT)
        _sender_action_on_commit(conversation=conversation, action="mark_seen")
    return bool(changed)


def conversation_typing(*, organization: Organization, acting_user: Any, conversation: Conversation) -> bool:
    """``typing_on`` for the customer, at most once per conversation every few seconds, and
    only while a reply could be sent (nothing goes to Facebook otherwise)."""
    check_organization(organization, conversation)
    if reply_refusal(conversation=conversation) is not None:
        return False
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
