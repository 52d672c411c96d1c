"""The caps on the customers' files kept (MAX_KEPT_PER_MESSAGE of a message,
MAX_KEPT_PER_DELIVERY of a webhook POST), applied by the webhook to a POST's message rows
before they are stored, and which of the inserted messages then have a file to download."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from messenger.models import Direction, MessageKind
from messenger.services.attachments.entries import (
    ERROR_TOO_MANY,
    MAX_KEPT_PER_DELIVERY,
    MAX_KEPT_PER_MESSAGE,
    DownloadFailure,
    entry_not_kept,
    has_downloadable,
    is_downloadable,
)


def attachments_cap(rows: Sequence[dict[str, Any]]) -> list[bool]:
    """Mark the files over the caps as not kept, in the message rows of one webhook POST
    (in the order received), before they are stored: the first MAX_KEPT_PER_MESSAGE of a
    message and MAX_KEPT_PER_DELIVERY of the POST are left to download. Only customers'
    (inbound) messages count. Returns, for each row, whether a file of it was marked."""
    budget = MAX_KEPT_PER_DELIVERY
    capped: list[bool] = []
    for row in rows:
        attachments = row.get("attachments")
        marked = False
        if row.get("direction") == Direction.INBOUND and has_downloadable(attachments):
            assert isinstance(attachments, list)
            kept_here = 0
            entries = []
            for entry in attachments:
                if is_downloadable(entry):
                    if kept_here < MAX_KEPT_PER_MESSAGE and budget > 0:
                        kept_here += 1
                        budget -= 1
                    else:
                        entry = entry_not_kept(entry, DownloadFailure(ERROR_TOO_MANY))
                        marked = True
                entries.append(entry)
            if marked:
                row["attachments"] = entries
        capped.append(marked)
    return capped


def attachments_over_delivery_cap(rows: Sequence[dict[str, Any]]) -> bool:
    """Whether the customers' files of one POST's message rows are more than
    MAX_KEPT_PER_DELIVERY once each message's are cut to MAX_KEPT_PER_MESSAGE: then which
    files `attachments_cap` keeps depends on which of the rows are stored at all."""
    wanted = 0
    for row in rows:
        attachments = row.get("attachments")
        if row.get("direction") == Direction.INBOUND and isinstance(attachments, list):
            wanted += min(MAX_KEPT_PER_MESSAGE, sum(1 for entry in attachments if is_downloadable(entry)))
    return wanted > MAX_KEPT_PER_DELIVERY


def downloadable_message_ids(inserted: Iterable[tuple[Mapping[str, Any], int | None]]) -> list[int]:
    """Of (message row, its id when this batch inserted it, else None), the ids of the
    customers' messages that carry something to download (no query). The rows went through
    `attachments_cap` before they were stored: what is over the caps is not downloadable."""
    return [
        message_id
        for row, message_id in inserted
        if message_id is not None
        and row["direction"] == Direction.INBOUND
        and row["kind"] == MessageKind.ATTACHMENT
        and has_downloadable(row["attachments"])
    ]
