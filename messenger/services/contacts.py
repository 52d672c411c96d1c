"""Contacts: the readable fallback name, the profile fetched from the Graph API after the
webhook has committed (never while Facebook waits for its answer) and asked again on a
schedule while Facebook gives no name, and the profile picture kept in our storage.

- A name is Facebook's `first_name`/`last_name`, else its `name`; an empty one or a
  placeholder ("John Doe", "Facebook User": messenger.contact_names.is_placeholder_name) is
  no name. Without a name the stored placeholder stays (shown in each reader's language as
  "Unnamed customer (…0003)") and the profile is asked again after PROFILE_RETRY_DELAYS
  (1 h, 6 h, 24 h, then weekly).
- Facebook's `profile_pic` URL expires within days: the picture is copied through the safe
  downloader (helpdesk.netfetch; a raster image of at most AVATAR_MAX_BYTES, decided from
  its bytes) and copied again from a fresh URL every AVATAR_REFRESH_AFTER.
"""

from __future__ import annotations

import dataclasses
import logging
import mimetypes
import tempfile
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from helpdesk import files, netfetch
from messenger.client import call_with_page
from messenger.contact_names import STORED_PLACEHOLDERS, is_placeholder_name, placeholder_suffix
from messenger.conversation_changes import CONTACT, conversation_rows_told
from messenger.crypto import TokenDecryptionError
from messenger.graph import GraphError, NoProfileError, PermissionMissingError, Profile, TokenInvalidError
from messenger.models import Contact, Conversation, PageStatus
from messenger.services.attachments.fetching import fetch_policy
from messenger.tasks import contacts as contact_tasks

logger = logging.getLogger(__name__)

_AVATAR_MAX_LENGTH = 1000
# After the n-th lookup without a name, the next one waits PROFILE_RETRY_DELAYS[n - 1] (the
# last delay repeats).
PROFILE_RETRY_DELAYS = (timedelta(hours=1), timedelta(hours=6), timedelta(hours=24), timedelta(weeks=1))
AVATAR_MAX_BYTES = 5 * 1024 * 1024
AVATAR_REFRESH_AFTER = timedelta(weeks=1)
AVATAR_PREFIX = "messenger/avatars"
BATCH = 200


def contact_fallback_name(*, psid: str, is_guest: bool) -> str:
    """ "Messenger customer 1234" from the id's last digits, until (or when) Facebook gives no
    name; stored, and shown as a friendlier name in the reader's language (messenger.contact_names)."""
    return gettext(STORED_PLACEHOLDERS[is_guest]) % {"suffix": placeholder_suffix(psid)}


def profile_retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th lookup that gave no name (attempts ≥ 1)."""
    return PROFILE_RETRY_DELAYS[min(max(attempts, 1), len(PROFILE_RETRY_DELAYS)) - 1]


@dataclasses.dataclass(frozen=True, slots=True)
class ProfileName:
    first_name: str
    last_name: str
    # The whole name when Facebook gave it without its parts; "" otherwise.
    full_name: str

    @property
    def is_known(self) -> bool:
        return bool(self.first_name or self.last_name or self.full_name)

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.full_name


NO_NAME = ProfileName("", "", "")


def profile_name(profile: Profile) -> ProfileName:
    """The name in Facebook's answer, placeholders dropped."""
    first_name, last_name = profile.first_name.strip()[:100], profile.last_name.strip()[:100]
    if (first_name or last_name) and not is_placeholder_name(f"{first_name} {last_name}"):
        return ProfileName(first_name, last_name, "")
    full_name = profile.name.strip()[:200]
    if full_name and not is_placeholder_name(full_name):
        return ProfileName("", "", full_name)
    return NO_NAME


def _due(now: datetime) -> Q:
    return Q(profile_fetched_at__isnull=True) | Q(profile_retry_at__lte=now)


def contact_profile_fetch(*, contact_id: int, now: datetime | None = None) -> bool:
    """Fetch the customer's name and picture when due (never fetched, or its retry time
    came); True when the contact was updated.

    Called from Celery with a plain id (the contact's organization comes with it). No
    profile (2018218), an empty or placeholder name and other permanent refusals keep the
    fallback name and schedule the next lookup; a dead page token marks the page
    (call_with_page) and leaves the contact for after re-authorization; rate limits and
    transient errors are raised for the task to retry.
    """
    now = now or timezone.now()
    contact = Contact.objects.select_related("page", "organization").filter(_due(now), pk=contact_id).first()
    if contact is None:
        return False
    page = contact.page
    name, avatar_url = NO_NAME, contact.avatar_url
    if not contact.is_guest:
        if page.unlinked_at is not None or page.status == PageStatus.REAUTHORIZATION_REQUIRED:
            return False
        try:
            profile = call_with_page(
                page, lambda client, token: client.get_profile(psid=contact.psid, page_token=token)
            )
        except NoProfileError:
            pass
        except (TokenInvalidError, PermissionMissingError, TokenDecryptionError):
            return False
        except GraphError as error:
            if error.retryable:
                raise
            logger.info("profile of contact %s not available: %s", contact.pk, error.reason)
        else:
            name = profile_name(profile)
            if profile.profile_pic and len(profile.profile_pic) <= _AVATAR_MAX_LENGTH:
                avatar_url = profile.profile_pic
    changes: dict[str, object] = {"profile_fetched_at": now, "avatar_url": avatar_url}
    if name.is_known:
        changes.update(
            display_name=name.display_name[:200],
            first_name=name.first_name,
            last_name=name.last_name,
            profile_retry_at=None,
        )
    else:
        if not contact.display_name or is_placeholder_name(contact.display_name):
            changes["display_name"] = contact_fallback_name(psid=contact.psid, is_guest=contact.is_guest)
        changes.update(first_name="", last_name="")
        # A chat-plugin guest has no profile to ask for, ever.
        if not contact.is_guest:
            attempts = contact.profile_attempts + 1
            changes.update(profile_attempts=attempts, profile_retry_at=now + profile_retry_delay(attempts))
    # Compare-and-set: two runs of the same lookup update the contact once.
    updated = (
        Contact.objects.filter(pk=contact.pk, profile_attempts=contact.profile_attempts)
        .filter(_due(now))
        .update(**changes)
    )
    if updated:
        conversation_rows_told(
            Conversation.objects.filter(contact_id=contact.pk).values_list(
                "organization_id", "channel_id", "pk", "assignee_id"
            ),
            what=CONTACT,
        )
        if avatar_url and (avatar_url != contact.avatar_url or not contact.avatar_stored_name):
            contact_avatar_copy_on_commit(contact_id=contact.pk)
    return bool(updated)


def contacts_profiles_retry(*, now: datetime | None = None, limit: int = BATCH) -> int:
    """The hourly job: contacts whose name Facebook did not give, asked again when due.
    Returns how many were updated (named or rescheduled)."""
    now = now or timezone.now()
    contact_ids = list(
        Contact.objects.filter(profile_retry_at__lte=now, is_guest=False, page__unlinked_at__isnull=True)
        .exclude(page__status=PageStatus.REAUTHORIZATION_REQUIRED)
        .order_by("profile_retry_at")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for contact_id in contact_ids:
        try:
            done += contact_profile_fetch(contact_id=contact_id, now=now)
        except GraphError as error:
            logger.info("profile of contact %s: %s; the next run retries", contact_id, error.reason)
    return done


# --------------------------------------------------------------------------- avatars


def contact_avatar_copy_on_commit(*, contact_id: int) -> None:
    def enqueue() -> None:
        try:
            contact_tasks.contact_avatar_copy.delay(contact_id)
        except Exception:
            # The weekly refresh copies it later.
            logger.warning("could not queue the avatar copy of contact %s", contact_id, exc_info=True)

    transaction.on_commit(enqueue)


def _avatar_policy() -> netfetch.FetchPolicy:
    return dataclasses.replace(fetch_policy(), max_bytes=AVATAR_MAX_BYTES, user_agent="helpdesk-avatars/1.0")


def contact_avatar_copy(*, contact_id: int, now: datetime | None = None) -> bool:
    """Copy the contact's picture from its `avatar_url` into our storage; True when a new copy
    is kept. Anything but a raster image within AVATAR_MAX_BYTES is refused (the previous copy,
    if any, stays). Raises netfetch.FetchUnavailable on a network failure (the task retries)."""
    now = now or timezone.now()
    contact = (
        Contact.objects.filter(pk=contact_id, is_guest=False)
        .only("pk", "organization_id", "avatar_url", "avatar_stored_name")
        .first()
    )
    if contact is None:
        return False
    url = contact.avatar_url
    Contact.objects.filter(pk=contact.pk).update(avatar_fetched_at=now)
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return False
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as buffer:
        try:
            fetched = netfetch.fetch(url, policy=_avatar_policy(), into=buffer)
        except (netfetch.FetchRefused, netfetch.FetchTooLarge) as error:
            logger.warning("avatar of contact %s not copied: %s", contact.pk, type(error).__name__)
            return False
        if not 200 <= fetched.status < 300:
            logger.info("avatar of contact %s not copied: HTTP %s", contact.pk, fetched.status)
            return False
        content_type = files.sniff_content_type(buffer)
        if not files.is_inline_image(content_type):
            logger.warning("avatar of contact %s is not an image (%s)", contact.pk, content_type)
            return False
        extension = mimetypes.guess_extension(content_type) or ".img"
        path = f"{AVATAR_PREFIX}/{contact.organization_id}/{contact.pk}/{uuid.uuid4().hex}{extension}"
        stored_name = default_storage.save(path, File(buffer, name=path.rsplit("/", 1)[-1]))
    updated = Contact.objects.filter(pk=contact.pk, avatar_stored_name=contact.avatar_stored_name).update(
        avatar_stored_name=stored_name, avatar_fetched_at=now
    )
    # The copy replaced, or lost a race to another copy: one file too many either way.
    _delete_file(contact.avatar_stored_name if updated else stored_name)
    if updated:
        conversation_rows_told(
            Conversation.objects.filter(contact_id=contact.pk).values_list(
                "organization_id", "channel_id", "pk", "assignee_id"
            ),
            what=CONTACT,
        )
    return bool(updated)


def _delete_file(name: str) -> None:
    if name:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete the old avatar %s", name, exc_info=True)


def contact_avatar_refresh(*, contact_id: int, now: datetime | None = None) -> bool:
    """Ask Facebook for a fresh picture URL (the old one has expired) and copy it. A profile no
    longer available keeps the last copy. True when a new copy is kept."""
    now = now or timezone.now()
    contact = Contact.objects.select_related("page").filter(pk=contact_id, is_guest=False).first()
    if contact is None:
        return False
    page = contact.page
    if page.unlinked_at is not None or page.status == PageStatus.REAUTHORIZATION_REQUIRED:
        return False
    try:
        profile = call_with_page(page, lambda client, token: client.get_profile(psid=contact.psid, page_token=token))
    except (TokenInvalidError, PermissionMissingError, TokenDecryptionError):
        return False
    except GraphError as error:
        if error.retryable:
            raise
        Contact.objects.filter(pk=contact.pk).update(avatar_fetched_at=now)
        return False
    if not profile.profile_pic or len(profile.profile_pic) > _AVATAR_MAX_LENGTH:
        Contact.objects.filter(pk=contact.pk).update(avatar_fetched_at=now)
        return False
    Contact.objects.filter(pk=contact.pk).update(avatar_url=profile.profile_pic)
    return contact_avatar_copy(contact_id=contact.pk, now=now)


def contacts_avatars_refresh(*, now: datetime | None = None, limit: int = BATCH) -> int:
    """The periodic job: pictures copied longer than AVATAR_REFRESH_AFTER ago copied again
    (a bounded batch, oldest first). Returns how many new copies were kept."""
    now = now or timezone.now()
    contact_ids = list(
        Contact.objects.filter(
            avatar_fetched_at__lte=now - AVATAR_REFRESH_AFTER, is_guest=False, page__unlinked_at__isnull=True
        )
        .exclude(page__status=PageStatus.REAUTHORIZATION_REQUIRED)
        .order_by("avatar_fetched_at")
        .values_list("pk", flat=True)[:limit]
    )
    copied = 0
    for contact_id in contact_ids:
        try:
            copied += contact_avatar_refresh(contact_id=contact_id, now=now)
        except (GraphError, netfetch.FetchError) as error:
            logger.info("avatar of contact %s: %s; the next run retries", contact_id, type(error).__name__)
    return copied
