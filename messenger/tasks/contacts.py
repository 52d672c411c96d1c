"""Tasks of contacts' profiles (messenger.services.contacts): names asked again on their
schedule, profile pictures copied into our storage and refreshed."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

logger = logging.getLogger(__name__)

AVATAR_COPY = "messenger.contacts.avatar_copy"
PROFILES_RETRY = "messenger.contacts.profiles_retry"
AVATARS_REFRESH = "messenger.contacts.avatars_refresh"
AVATAR_MAX_RETRIES = 4


@shared_task(name=AVATAR_COPY, bind=True, ignore_result=True, max_retries=AVATAR_MAX_RETRIES)
def contact_avatar_copy(self: Any, contact_id: int) -> None:
    """Copy a contact's profile picture (on the `downloads` queue, CELERY_TASK_ROUTES);
    network failures tried again with backoff, then left to the weekly refresh."""
    from helpdesk import netfetch
    from messenger.services import contacts

    try:
        contacts.contact_avatar_copy(contact_id=contact_id)
    except netfetch.FetchUnavailable as error:
        if self.request.retries >= self.max_retries:
            logger.info("avatar of contact %s: %s; the weekly refresh tries again", contact_id, error)
            return
        raise self.retry(countdown=min(60 * 2**self.request.retries, 30 * 60)) from error


@shared_task(name=PROFILES_RETRY, ignore_result=True)
def contacts_profiles_retry() -> int:
    """Hourly (CELERY_BEAT_SCHEDULE): names Facebook did not give, asked again when due."""
    from messenger.services import contacts

    return contacts.contacts_profiles_retry()


@shared_task(name=AVATARS_REFRESH, ignore_result=True)
def contacts_avatars_refresh() -> int:
    """Hourly: profile pictures copied a week ago or more, copied again from a fresh URL."""
    from messenger.services import contacts

    return contacts.contacts_avatars_refresh()
