"""Labels on conversations: added and removed for one conversation or many at once (the bulk
actions), set-based (labels.links), with one system line per conversation that changed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from helpdesk.models import Organization
from labels import links
from labels.models import Label
from messenger.conversation_changes import LABELS, conversations_told
from messenger.models import Conversation, ConversationEvent, ConversationLabel


@transaction.atomic
def conversations_label_add(
    *, organization: Organization, acting_user: Any, conversations: Sequence[Conversation], label: Label
) -> list[int]:
    """Put ``label`` on the conversations; those that had it already are left as they were.
    Returns the ids of the conversations that changed. Visibility is the caller's."""
    changed = links.links_add(
        ConversationLabel,
        "conversation",
        organization=organization,
        things=conversations,
        label=label,
        acting_user=acting_user,
    )
    _events(organization, changed, kind=ConversationEvent.Kind.LABEL_ADDED, acting_user=acting_user, label=label)
    _told(conversations, changed)
    return changed


@transaction.atomic
def conversations_label_remove(
    *, organization: Organization, acting_user: Any, conversations: Sequence[Conversation], label: Label
) -> list[int]:
    """Take ``label`` off the conversations. Returns the ids of those that had it."""
    changed = links.links_remove(
        ConversationLabel, "conversation", organization=organization, things=conversations, label=label
    )
    _events(organization, changed, kind=ConversationEvent.Kind.LABEL_REMOVED, acting_user=acting_user, label=label)
    _told(conversations, changed)
    return changed


def _told(conversations: Sequence[Conversation], changed: list[int]) -> None:
    ids = set(changed)
    conversations_told([c for c in conversations if c.pk in ids], what=LABELS)


def _events(
    organization: Organization, conversation_ids: list[int], *, kind: str, acting_user: Any, label: Label
) -> None:
    ConversationEvent.objects.bulk_create(
        [
            ConversationEvent(
                organization=organization,
                conversation_id=conversation_id,
                kind=kind,
                actor=links.acting(acting_user),
                data=links.change_data(label),
            )
            for conversation_id in conversation_ids
        ]
    )
