"""Files a higher layer keeps (a canned response's attachments) sent with a reply.

That layer hands the composer a signed token per file (``kept_file_token``); the reply
carries the tokens back (form field ``kept_file``, API field ``kept_files``) and
``kept_file_attach`` checks each one (signed by us, recent, of this organization) and copies
the stored file under the outbound prefix, so the message owns its file: deleting the canned
response later never takes a sent message's file with it. Messenger knows nothing of the
layer that made the token.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core import signing
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

from helpdesk.exceptions import InvalidInput
from helpdesk.models import Organization
from messenger.services.sending.reply_files import OUTBOUND_STORAGE_PREFIX, StoredAttachment

SALT = "messenger.kept_file"
# Long enough for a draft left open over lunch; the composer asks for fresh ones on each insertion.
MAX_AGE_SECONDS = 24 * 60 * 60
# One message per file: more than a handful in one reply is a mistake, not a reply.
MAX_KEPT_FILES = 10


class InvalidAttachment(InvalidInput):
    """A kept-file token that is not ours, has expired, or belongs to another organization."""

    code = "invalid_attachment"


def kept_file_token(*, organization: Organization, stored: StoredAttachment) -> str:
    """A token standing for a kept file, valid for a day, in this organization only."""
    return signing.dumps(
        {
            "o": organization.pk,
            "n": stored.stored_name,
            "t": stored.title,
            "y": stored.type,
            "c": stored.content_type,
            "s": stored.size,
        },
        salt=SALT,
        compress=True,
    )


def _refused() -> InvalidAttachment:
    message = _("An attached file is no longer available: insert the canned response again.")
    return InvalidAttachment(message, details={"kept_files": [message]})


def kept_file_verify(*, organization: Organization, token: str) -> StoredAttachment:
    """The file a token stands for, or ``InvalidAttachment``."""
    try:
        payload: Any = signing.loads(str(token), salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:  # SignatureExpired is one
        raise _refused() from None
    if not isinstance(payload, dict) or payload.get("o") != organization.pk:
        raise _refused()
    try:
        return StoredAttachment(
            type=str(payload["y"]),
            stored_name=str(payload["n"]),
            title=str(payload["t"]),
            size=int(payload["s"]),
            content_type=str(payload["c"]),
        )
    except (KeyError, TypeError, ValueError):
        raise _refused() from None


def kept_files_verify(*, organization: Organization, tokens: list[str]) -> list[StoredAttachment]:
    """Every token checked before anything is copied (one bad token refuses the reply)."""
    if len(tokens) > MAX_KEPT_FILES:
        message = _("A reply can carry at most %(count)s kept files.") % {"count": MAX_KEPT_FILES}
        raise InvalidAttachment(message, details={"kept_files": [message]})
    return [kept_file_verify(organization=organization, token=token) for token in tokens]


def kept_file_copy(*, organization: Organization, kept: StoredAttachment) -> StoredAttachment:
    """A copy of the kept file under the outbound prefix: the message's own file."""
    try:
        with default_storage.open(kept.stored_name, "rb") as source:
            stored_name = default_storage.save(
                f"{OUTBOUND_STORAGE_PREFIX}/{organization.pk}/{uuid.uuid4().hex}", source
            )
    except (FileNotFoundError, OSError):
        raise _refused() from None
    return StoredAttachment(
        type=kept.type, stored_name=stored_name, title=kept.title, size=kept.size, content_type=kept.content_type
    )
