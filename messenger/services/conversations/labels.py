"""Labels on conversations: added and removed for one conversation or many at once (the bulk
actions), set-based, with one system line per conversation that changed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from helpdesk.exceptions import NotFound
from helpdesk.models import Organization
from labels.models import Label
from messenger.models import Conversation, ConversationEvent, ConversationLabel


def _actor(acting_user: Any) -> Any:
    return acting_user if getattr(acting_user, "is_authenticated", False) else None


@transaction.atomic
def conversations_label_add(
    *, organization: Organization, acting_user: Any, conversations: Sequence[Conversation], label: Label
) -> list[int]:
    """Put ``label`` on the conversations; those that had it already are left as they were.
    Returns the ids of the conversations that changed. Visibility is the caller's."""
    if label.organization_id != organization.pk or any(c.organization_id != organization.pk for c in conversations):
        raise NotFound
    ids = [conversation.pk for conversation in conversations]
    had = set(
        ConversationLabel.objects.filter(organization=organization, label=label, conversation_id__in=ids).values_list(
            "conversation_id", flat=True
        )
    )
    changed = [conversation_id for conversation_id in ids if conversation_id not in had]
    actor = _actor(acting_user)
    ConversationLabel.objects.bulk_create(
        [
            ConversationLabel(organization=organization, conversation_id=conversation_id, label=label, added_by=actor)
            for conversation_id in changed
        ],
        ignore_conflicts=True,
    )
    _events(organization, changed, kind=ConversationEvent.Kind.LABEL_ADDED, actor=actor, label=label)
    return changed


@transaction.atomic
def conversations_label_remove(
    *, organization: Organization, acting_user: Any, conversations: Sequence[Conversation], label: Label
) -> list[int]:
    """Take ``label`` off the conversations. Returns the ids of those that had it."""
    if label.organization_id != organization.pk or any(c.organization_id != organization.pk for c in conversations):
        raise NotFound
    links = ConversationLabel.objects.filter(
        organization=organization, label=label, conversation_id__in=[c.pk for c in conversations]
    )
    changed = sorted(links.values_list("conversation_id", flat=True))
    links.delete()
    _events(organization, changed, kind=ConversationEvent.Kind.LABEL_REMOVED, actor=_actor(acting_user), label=label)
    return changed


def _events(organization: Organization, conversation_ids: list[int], *, kind: str, actor: Any, label: Label) -> None:
    if not conversation_ids:
        return
    ConversationEvent.objects.bulk_create(
        [
            ConversationEvent(
                organization=organization,
                conversation_id=conversation_id,
                kind=kind,
                actor=actor,
                data={"label": label.name, "label_id": label.pk},
            )
            for conversation_id in conversation_ids
        ]
    )
