"""Tasks of webhook ingestion (messenger.webhook): follow-ups of a committed POST, the
catch-up of what could not be applied or queued, and the event log's retention."""

from __future__ import annotations

import logging

from celery import shared_task

from messenger.graph import RateLimitedError, TransientGraphError

logger = logging.getLogger(__name__)

FOLLOWUPS = "messenger.webhook.followups"
CONTACT_PROFILE_FETCH = "messenger.webhook.contact_profile_fetch"
EVENTS_PROCESS_PENDING = "messenger.webhook.events_process_pending"
EVENTS_PRUNE = "messenger.webhook.events_prune"
RECEIVED_POSTS_APPLY = "messenger.webhook.received_posts_apply"


@shared_task(name=RECEIVED_POSTS_APPLY, ignore_result=True)
def received_posts_apply() -> None:
    """The POSTs kept to apply later (settings.WEBHOOK_APPLY_LATER), joined into batches."""
    from messenger.webhook.later import LINGER_SECONDS
    from messenger.webhook.later import received_posts_apply as apply

    apply(linger=LINGER_SECONDS)


@shared_task(name=FOLLOWUPS, ignore_result=True)
def webhook_followups(contact_ids: list[int], conversation_ids: list[int]) -> None:
    """After a webhook POST committed: profiles of its new contacts, then new-conversation notices."""
    from messenger.webhook.followups import followups_run

    followups_run(contact_ids=contact_ids, conversation_ids=conversation_ids)


@shared_task(
    name=CONTACT_PROFILE_FETCH,
    ignore_result=True,
    autoretry_for=(RateLimitedError, TransientGraphError),
    retry_backoff=30,
    retry_backoff_max=15 * 60,
    max_retries=6,
)
def webhook_contact_profile_fetch(contact_id: int) -> None:
    from messenger.services.contacts import contact_profile_fetch

    contact_profile_fetch(contact_id=contact_id)


@shared_task(name=EVENTS_PROCESS_PENDING, ignore_result=True)
def webhook_events_process_pending() -> None:
    """Every minute: POSTs kept to apply later that no wake-up reached, events stored but not
    applied (a failure, a crash), then the follow-ups and attachment downloads that could not
    be queued (broker down)."""
    from messenger.services.attachments.catch_up import attachments_catch_up
    from messenger.webhook.followups import followups_catch_up
    from messenger.webhook.later import received_posts_apply as apply
    from messenger.webhook.receive import webhook_events_retry_pending

    posts = apply()
    report = webhook_events_retry_pending()
    fetched, announced = followups_catch_up()
    downloads = attachments_catch_up()
    if posts or report.retried or report.still_pending or report.failed or fetched or announced or downloads:
        logger.info(
            "webhook catch-up: %d kept POST(s) applied, %d event(s) applied, %d still pending, %d given up; "
            "%d profile(s), %d notice(s), "
            "%d attachment download(s) queued",
            posts,
            report.retried,
            report.still_pending,
            report.failed,
            fetched,
            announced,
            downloads,
        )


@shared_task(name=EVENTS_PRUNE, ignore_result=True)
def webhook_events_prune() -> None:
    """Daily: forget the raw event log older than WEBHOOK_EVENT_RETENTION_DAYS."""
    from messenger.webhook.receive import webhook_events_prune as prune

    deleted = prune()
    logger.info("webhook event log: %d event(s) older than the retention deleted", deleted)
