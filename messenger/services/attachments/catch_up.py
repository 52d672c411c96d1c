"""The catch-up of the downloads: a message whose download no task ever took up (broker
down, worker lost before starting) is queued again by the webhook's periodic catch-up."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from messenger.models import Direction, Message, MessageKind
from messenger.services.attachments.entries import has_downloadable
from messenger.tasks import attachments as attachment_tasks

logger = logging.getLogger(__name__)

# One catch-up for every follow-up of the webhook (downloads here, profiles and notices in
# messenger.webhook.followups): it leaves recent rows to the queued task, gives up on old
# ones, and takes a batch at a time.
CATCH_UP_AFTER = timedelta(seconds=60)
CATCH_UP_WINDOW = timedelta(days=1)
CATCH_UP_BATCH = 50


def attachments_catch_up(*, now: datetime | None = None) -> int:
    """Queue the downloads no task ever took up (broker down, worker lost before starting).

    Messages with attachments received between a day and a minute ago that were never
    tried; those with nothing to download are only marked. Returns how many were queued.
    """
    now = now or timezone.now()
    rows = list(
        Message.objects.filter(
            # Only customers' files: an agent's upload is already ours.
            direction=Direction.INBOUND,
            kind=MessageKind.ATTACHMENT,
            attachments_tried_at__isnull=True,
            received_at__range=(now - CATCH_UP_WINDOW, now - CATCH_UP_AFTER),
        )
        .order_by("received_at")
        .values_list("pk", "attachments")[:CATCH_UP_BATCH]
    )
    marked: list[int] = []
    queued = 0
    for pk, attachments in rows:
        if has_downloadable(attachments):
            try:
                attachment_tasks.attachments_download.delay(pk)
            except Exception:
                logger.warning("could not queue the download of message %s; next run", pk, exc_info=True)
                break
            queued += 1
        marked.append(pk)
    if marked:
        Message.objects.filter(pk__in=marked, attachments_tried_at__isnull=True).update(attachments_tried_at=now)
    return queued
