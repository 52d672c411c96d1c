"""The inbox search's copy of message texts (messenger.models.MessageSearchText).

The webhook inserts messages at every customer's word; a search index on the message table
would be written each time, on the path Facebook waits on. Instead a periodic job copies
the texts of the messages that arrived, in id order, a minute behind (a transaction still
open when the job runs commits well within it), and the search reads what is newer than the
last copied message from the messages themselves: nothing is ever missed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Max, Q
from django.utils import timezone

from helpdesk.models import Organization
from messenger.models import Message, MessageSearchText

INDEX_LAG = timedelta(minutes=1)
INDEX_BATCH = 10_000


def message_search_index(*, now: datetime | None = None, batch_size: int = INDEX_BATCH) -> int:
    """Copy the texts of up to `batch_size` messages past the last copied one that arrived at
    least INDEX_LAG ago (in id order, stopping at the first younger one). Returns how many
    messages it read; safe to run concurrently (a second copy of a row is ignored)."""
    cutoff = (now or timezone.now()) - INDEX_LAG
    last = MessageSearchText.objects.aggregate(last=Max("message_id"))["last"] or 0
    rows = list(
        Message.objects.filter(pk__gt=last)
        .order_by("pk")
        .values_list("pk", "organization_id", "conversation_id", "text", "received_at")[:batch_size]
    )
    copies = []
    for pk, organization_id, conversation_id, text, received_at in rows:
        if received_at >= cutoff:
            break
        if text:
            copies.append(
                MessageSearchText(
                    message_id=pk, organization_id=organization_id, conversation_id=conversation_id, text=text
                )
            )
    MessageSearchText.objects.bulk_create(copies, ignore_conflicts=True)
    return len(rows)


def message_search_texts_refresh(messages: Iterable[Message]) -> None:
    """After messages were edited: their copies say what they say now (not yet copied: the job will)."""
    for message in messages:
        MessageSearchText.objects.filter(message_id=message.pk).update(text=message.text)


def search_copied_until() -> int:
    """The last message whose text is copied (the copy's end); newer ones are read directly."""
    return MessageSearchText.objects.aggregate(last=Max("message_id"))["last"] or 0


def conversations_with_text(*, organization: Organization, term: str, copied_until: int | None = None) -> Q:
    """A filter of conversations: those of the organization with a shown message containing
    `term` (case-insensitive). The copied texts are read through their index, the messages
    newer than the last copy directly (a range of the primary key). One query to find where
    the copy ends, unless the caller read it already (``copied_until``, search_copied_until)."""
    copied = MessageSearchText.objects.filter(
        organization=organization, text__icontains=term, message__is_hidden=False
    ).values("conversation_id")
    # Read first (a primary key's end): with the number in the query, the planner reads just
    # that range of messages; as a subquery it would plan for a third of the table.
    last_copied = search_copied_until() if copied_until is None else copied_until
    recent = Message.objects.filter(
        pk__gt=last_copied, organization=organization, is_hidden=False, text__icontains=term
    ).values("conversation_id")
    return Q(pk__in=copied) | Q(pk__in=recent)
