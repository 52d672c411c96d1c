"""Tasks of inbound attachments (messenger.services.attachments.downloads)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

logger = logging.getLogger(__name__)

DOWNLOAD = "messenger.attachments.download"
ATTACHMENT_MAX_RETRIES = 6


@shared_task(name=DOWNLOAD, bind=True, ignore_result=True, max_retries=ATTACHMENT_MAX_RETRIES)
def attachments_download(self: Any, message_id: int) -> None:
    """Keep a customer's message's attachments in our storage. Runs on the `downloads`
    queue (CELERY_TASK_ROUTES), whose workers never send replies. Timeouts and 5xx are tried
    again with backoff (30 s doubling, at most 15 min); after the last retry the files still
    missing are marked unavailable."""
    from messenger.services.attachments import downloads, fetching

    try:
        downloads.message_attachments_download(message_id=message_id)
    except fetching.TransientDownloadError as error:
        if self.request.retries >= self.max_retries:
            logger.warning("attachments of message %s: %s; giving up", message_id, error)
            downloads.message_attachments_give_up(message_id=message_id)
            return
        logger.info("attachments of message %s: %s; retrying", message_id, error)
        raise self.retry(countdown=min(30 * 2**self.request.retries, 15 * 60)) from error
