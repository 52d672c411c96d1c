"""Celery tasks of the messenger app. Tasks take plain ids and are safe to run twice."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from celery import shared_task

from messenger.graph import RateLimitedError, TransientGraphError

logger = logging.getLogger(__name__)


# --- Webhook ingestion (messenger.webhook) ------------------------------------------------


@shared_task(name="messenger.webhook_followups", ignore_result=True)
def webhook_followups(contact_ids: list[int], conversation_ids: list[int]) -> None:
    """After a webhook POST committed: profiles of its new contacts, then new-conversation notices."""
    from messenger.webhook.followups import followups_run

    followups_run(contact_ids=contact_ids, conversation_ids=conversation_ids)


@shared_task(
    name="messenger.webhook_contact_profile_fetch",
    ignore_result=True,
    autoretry_for=(RateLimitedError, TransientGraphError),
    retry_backoff=30,
    retry_backoff_max=15 * 60,
    max_retries=6,
)
def webhook_contact_profile_fetch(contact_id: int) -> None:
    from messenger.services.contacts import contact_profile_fetch

    contact_profile_fetch(contact_id=contact_id)


@shared_task(name="messenger.webhook_events_process_pending", ignore_result=True)
def webhook_events_process_pending() -> None:
    """Every minute: events stored but not applied (a failure, a crash), then the follow-ups
    and attachment downloads that could not be queued (broker down)."""
    from messenger.services.attachments import attachments_catch_up
    from messenger.webhook.followups import followups_catch_up
    from messenger.webhook.ingest import webhook_events_retry_pending

    report = webhook_events_retry_pending()
    fetched, announced = followups_catch_up()
    downloads = attachments_catch_up()
    if report.retried or report.still_pending or report.failed or fetched or announced or downloads:
        logger.info(
            "webhook catch-up: %d event(s) applied, %d still pending, %d given up; %d profile(s), %d notice(s), "
            "%d attachment download(s) queued",
            report.retried,
            report.still_pending,
            report.failed,
            fetched,
            announced,
            downloads,
        )


@shared_task(name="messenger.webhook_events_prune", ignore_result=True)
def webhook_events_prune() -> None:
    """Daily: forget the raw event log older than WEBHOOK_EVENT_RETENTION_DAYS."""
    from messenger.webhook.ingest import webhook_events_prune as prune

    deleted = prune()
    logger.info("webhook event log: %d event(s) older than the retention deleted", deleted)


# --- The inbox search (messenger.services.search) ----------------------------------------------


@shared_task(name="messenger.message_search_index", ignore_result=True)
def message_search_index() -> None:
    """Copy new message texts for the inbox search (messenger.services.search), a batch at a time."""
    from messenger.services.search import message_search_index as index

    index()


# --- Inbound attachments (messenger.services.attachments) ---------------------------------

ATTACHMENT_MAX_RETRIES = 6


@shared_task(name="messenger.attachments_download", bind=True, ignore_result=True, max_retries=ATTACHMENT_MAX_RETRIES)
def attachments_download(self: Any, message_id: int) -> None:
    """Keep a customer's message's attachments in our storage. Runs on the `downloads`
    queue (CELERY_TASK_ROUTES), whose workers never send replies. Timeouts and 5xx are tried
    again with backoff (30 s doubling, at most 15 min); after the last retry the files still
    missing are marked unavailable."""
    from messenger.services import attachments

    try:
        attachments.message_attachments_download(message_id=message_id)
    except attachments.TransientDownloadError as error:
        if self.request.retries >= self.max_retries:
            logger.warning("attachments of message %s: %s; giving up", message_id, error)
            attachments.message_attachments_give_up(message_id=message_id)
            return
        logger.info("attachments of message %s: %s; retrying", message_id, error)
        raise self.retry(countdown=min(30 * 2**self.request.retries, 15 * 60)) from error


# --- Page authorization (messenger.pages) -------------------------------------------------


@shared_task(name="messenger.tasks.token_expiry_sweep", ignore_result=True)
def token_expiry_sweep() -> dict[str, int]:
    """Hourly (CELERY_BEAT_SCHEDULE): pages near or past their reauthorize-by time, and a
    bounded batch of /debug_token checks. Set-based and safe to run twice."""
    from messenger import pages

    return asdict(pages.token_expiry_sweep())
