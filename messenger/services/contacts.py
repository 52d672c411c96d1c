"""Contacts: the readable fallback name, and the profile fetched from the Graph API after
the webhook has committed (never while Facebook waits for its answer)."""

from __future__ import annotations

import logging

from django.utils import timezone
from django.utils.translation import gettext

from messenger.client import call_with_page
from messenger.contact_names import STORED_PLACEHOLDERS, placeholder_suffix
from messenger.conversation_changes import CONTACT, conversation_rows_told
from messenger.graph import GraphError, NoProfileError, PermissionMissingError, TokenInvalidError
from messenger.models import Contact, Conversation, PageStatus

logger = logging.getLogger(__name__)

_AVATAR_MAX_LENGTH = 1000


def contact_fallback_name(*, psid: str, is_guest: bool) -> str:
    """ "Messenger customer 1234" from the id's last digits, until (or when) Facebook gives no
    name; stored, and shown as a friendlier name in the reader's language (messenger.contact_names)."""
    return gettext(STORED_PLACEHOLDERS[is_guest]) % {"suffix": placeholder_suffix(psid)}


def contact_profile_fetch(*, contact_id: int) -> bool:
    """Fetch the customer's name and picture once; True when the contact was updated.

    Called from Celery with a plain id (the contact's organization comes with it). No
    profile (2018218) and other permanent refusals leave the fallback name and count as
    fetched; a dead page token marks the page (call_with_page) and leaves the contact for
    after re-authorization; rate limits and transient errors are raised for the task to retry.
    """
    contact = (
        Contact.objects.select_related("page", "organization")
        .filter(pk=contact_id, profile_fetched_at__isnull=True)
        .first()
    )
    if contact is None:
        return False
    page = contact.page
    name, avatar_url = contact.display_name, ""
    first_name = last_name = ""
    if not contact.is_guest:
        if page.unlinked_at is not None or page.status == PageStatus.REAUTHORIZATION_REQUIRED:
            return False
        try:
            profile = call_with_page(
                page, lambda client, token: client.get_profile(psid=contact.psid, page_token=token)
            )
        except NoProfileError:
            pass
        except (TokenInvalidError, PermissionMissingError):
            return False
        except GraphError as error:
            if error.retryable:
                raise
            logger.info("profile of contact %s not available: %s", contact.pk, error.reason)
        else:
            first_name, last_name = profile.first_name.strip()[:100], profile.last_name.strip()[:100]
            name = f"{first_name} {last_name}".strip() or name
            if profile.profile_pic and len(profile.profile_pic) <= _AVATAR_MAX_LENGTH:
                avatar_url = profile.profile_pic
    if not name:
        name = contact_fallback_name(psid=contact.psid, is_guest=contact.is_guest)
    updated = Contact.objects.filter(pk=contact.pk, profile_fetched_at__isnull=True).update(
        display_name=name[:200],
        first_name=first_name,
        last_name=last_name,
        avatar_url=avatar_url,
        profile_fetched_at=timezone.now(),
    )
    if updated:
        conversation_rows_told(
            Conversation.objects.filter(contact_id=contact.pk).values_list(
                "organization_id", "channel_id", "pk", "assignee_id"
            ),
            what=CONTACT,
        )
    return bool(updated)
