"""An agent's file on its way out: what it may be (size, type read from its bytes) and
where it is kept until the delivery uploads it to Facebook."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from helpdesk.exceptions import InvalidInput
from helpdesk.files import safe_display_name, sniff_content_type
from helpdesk.models import Organization

MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_IMAGE_BYTES = 8 * 1024 * 1024
IMAGE_CONTENT_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})
OUTBOUND_STORAGE_PREFIX = "messenger/outbound"
# What Facebook delivers as a playable video or audio message; other formats go as files.
VIDEO_CONTENT_TYPES = frozenset({"video/mp4"})
AUDIO_CONTENT_TYPES = frozenset({"audio/mpeg", "audio/mp4", "audio/aac", "audio/x-wav", "audio/ogg"})


class AttachmentTooLarge(InvalidInput):
    code = "attachment_too_large"


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    type: str
    stored_name: str
    title: str
    size: int
    content_type: str


def attachment_type_for(content_type: str) -> str:
    """The Send API's attachment type for a file of this (sniffed) content type."""
    if content_type in IMAGE_CONTENT_TYPES:
        return "image"
    if content_type in VIDEO_CONTENT_TYPES:
        return "video"
    if content_type in AUDIO_CONTENT_TYPES:
        return "audio"
    return "file"


def store_attachment(
    *, organization: Organization, upload: UploadedFile, prefix: str = OUTBOUND_STORAGE_PREFIX
) -> StoredAttachment:
    """Keep an agent's file under a random storage name; its type is read from its bytes.

    The uploader's file name is kept only as the title shown and offered on download. The
    file is served by the attachment view to members who may see the conversation, and it
    reaches Facebook as an upload (messenger.graph.GraphClient.upload_attachment), never
    through an address of ours. A higher layer keeping a file for later (a canned response's)
    passes its own ``prefix``.
    """
    title = safe_display_name(upload.name or "")
    if not upload.size:
        raise InvalidInput(_("The file is empty."), details={"file": [_("The file is empty.")]})
    content_type = sniff_content_type(upload)
    attachment_type = attachment_type_for(content_type)
    is_image = attachment_type == "image"
    limit = MAX_IMAGE_BYTES if is_image else MAX_FILE_BYTES
    if upload.size > limit:
        message = _("An image can be at most 8 MB.") if is_image else _("A file can be at most 25 MB.")
        raise AttachmentTooLarge(message, details={"file": [message]})
    upload.seek(0)
    stored_name = default_storage.save(f"{prefix}/{organization.pk}/{uuid.uuid4().hex}", upload)
    return StoredAttachment(
        type=attachment_type, stored_name=stored_name, title=title, size=upload.size, content_type=content_type
    )
