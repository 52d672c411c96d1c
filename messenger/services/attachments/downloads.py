"""The download of a customer's message's files, as the task runs it: each downloadable
attachment not kept yet is fetched (`fetching`) and the outcome written onto its entry under
the message's row lock, so that two runs never keep a file twice."""

from __future__ import annotations

from datetime import datetime

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from messenger.conversation_changes import EDIT, conversation_rows_told
from messenger.models import Direction, Message
from messenger.services.attachments.entries import (
    ERROR_TOO_MANY,
    ERROR_UNAVAILABLE,
    MAX_KEPT_PER_MESSAGE,
    DownloadFailure,
    entry_not_kept,
    is_downloadable,
)
from messenger.services.attachments.fetching import Stored, TransientDownloadError, attachment_fetch, fetch_policy


def _delete_on_commit(name: str) -> None:
    transaction.on_commit(lambda: default_storage.delete(name))


def _record(
    *, message_id: int, results: dict[int, tuple[str, Stored | DownloadFailure]], now: datetime
) -> tuple[int, int]:
    """Write the results onto the entries, under the row lock; a result for an entry that
    another run filled meanwhile is dropped (its file deleted). Returns (stored, failed)."""
    stored = failed = 0
    orphans: list[str] = []
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .annotate(
                conversation_channel_id=F("conversation__channel_id"),
                conversation_assignee_id=F("conversation__assignee_id"),
            )
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            orphans = [r.stored_name for _url, r in results.values() if isinstance(r, Stored)]
        else:
            attachments = list(message.attachments) if isinstance(message.attachments, list) else []
            for index, (url, result) in results.items():
                entry = attachments[index] if index < len(attachments) else None
                if not is_downloadable(entry) or entry.get("url") != url:
                    if isinstance(result, Stored):
                        orphans.append(result.stored_name)
                    continue
                assert isinstance(entry, dict)
                if isinstance(result, Stored):
                    attachments[index] = {
                        **entry,
                        "stored_name": result.stored_name,
                        "size": result.size,
                        "content_type": result.content_type,
                    }
                    stored += 1
                else:
                    attachments[index] = entry_not_kept(entry, result)
                    failed += 1
            message.attachments = attachments
            message.attachments_tried_at = message.attachments_tried_at or now
            message.save(update_fields=["attachments", "attachments_tried_at"])
            # Its files are shown now (or said not kept): the transcript draws the message again.
            conversation_rows_told(
                [
                    (
                        message.organization_id,
                        message.conversation_channel_id,
                        message.conversation_id,
                        message.conversation_assignee_id,
                    )
                ],
                what=EDIT,
            )
    for name in orphans:
        _delete_on_commit(name)
    return stored, failed


def message_attachments_download(*, message_id: int) -> int:
    """Keep every downloadable attachment of a customer's message not kept yet. Safe to run twice.

    Permanent failures are recorded on the entry; when any download failed for a temporary
    reason the others are recorded first, then TransientDownloadError is raised for the
    task to retry. Returns how many files were stored.
    """
    message = (
        Message.objects.filter(pk=message_id, direction=Direction.INBOUND)
        .values("organization_id", "attachments", "attachments_tried_at")
        .first()
    )
    if message is None:
        return 0
    now = timezone.now()
    if message["attachments_tried_at"] is None:
        Message.objects.filter(pk=message_id, attachments_tried_at__isnull=True).update(attachments_tried_at=now)
    attachments = message["attachments"] if isinstance(message["attachments"], list) else []
    results: dict[int, tuple[str, Stored | DownloadFailure]] = {}
    transient: list[str] = []
    policy = fetch_policy()
    # The cap holds here too, whatever stored the message.
    room = MAX_KEPT_PER_MESSAGE - sum(1 for a in attachments if isinstance(a, dict) and a.get("stored_name"))
    for index, attachment in enumerate(attachments):
        if not is_downloadable(attachment):
            continue
        if room <= 0:
            results[index] = (attachment["url"], DownloadFailure(ERROR_TOO_MANY))
            continue
        room -= 1
        try:
            results[index] = (
                attachment["url"],
                attachment_fetch(
                    attachment,
                    policy=policy,
                    organization_id=message["organization_id"],
                    message_id=message_id,
                    index=index,
                ),
            )
        except TransientDownloadError as error:
            transient.append(f"{index}: {error}")
    stored = 0
    if results:
        stored, _failed = _record(message_id=message_id, results=results, now=now)
    if transient:
        raise TransientDownloadError(f"message {message_id}: " + ", ".join(transient))
    return stored


def message_attachments_give_up(*, message_id: int) -> int:
    """After the last retry: the entries still not kept are marked unavailable."""
    message = Message.objects.filter(pk=message_id).values("attachments").first()
    attachments = message["attachments"] if message and isinstance(message["attachments"], list) else []
    failure = DownloadFailure(ERROR_UNAVAILABLE)
    results: dict[int, tuple[str, Stored | DownloadFailure]] = {
        index: (entry["url"], failure) for index, entry in enumerate(attachments) if is_downloadable(entry)
    }
    if not results:
        return 0
    return _record(message_id=message_id, results=results, now=timezone.now())[1]
