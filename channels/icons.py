"""Channel icons: what an admin uploads is checked by its content and stored re-encoded,
and served only by the channels app's views to members of the organization
(``icon_url`` for a browser session, ``icon_api_url`` for an API token).

The extension and the browser's content type are only a first filter; Pillow reads the
header to learn the real format and size, a picture whose pixel count could exhaust
memory (a "decompression bomb") is refused before it is decoded, and what is stored is a
fresh PNG drawn from the pixels, so no metadata, trailing bytes or polyglot payload of
the upload survives.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import warnings
from typing import Any

from django.core.files.base import ContentFile
from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from channels import selectors
from helpdesk.exceptions import InvalidInput, NotFound
from helpdesk.files import file_response

ICON_MAX_BYTES = 1024 * 1024
ICON_EXTENSIONS = (".jpg", ".jpeg", ".png")
ICON_FORMATS = frozenset({"JPEG", "PNG"})
# Far above any icon, far below what would hurt to decode (4096² RGBA is 64 MiB).
ICON_MAX_PIXELS = 4096 * 4096
ICON_STORED_SIZE = (256, 256)


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, details={"icon": [message]})


def icon_prepare(upload: Any) -> ContentFile:
    """Check an uploaded icon and return it re-encoded as a PNG of at most 256×256 pixels.

    Raises InvalidInput (details under "icon") naming the rule that was broken.
    """
    name = str(getattr(upload, "name", "") or "")
    if not name.lower().endswith(ICON_EXTENSIONS):
        raise _refuse(_("The icon must be a .jpg, .jpeg or .png file."))
    size = getattr(upload, "size", None)
    if size is None or size > ICON_MAX_BYTES:
        raise _refuse(_("The icon must be at most 1 MB."))
    upload.seek(0)
    data = upload.read(ICON_MAX_BYTES + 1)
    if len(data) > ICON_MAX_BYTES:
        raise _refuse(_("The icon must be at most 1 MB."))
    not_an_image = _("The file is not a JPEG or PNG image.")
    too_many_pixels = _("The image is too large: at most 4096 × 4096 pixels.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ICON_FORMATS:
                    raise _refuse(not_an_image)
                width, height = probe.size
                if width < 1 or height < 1 or width * height > ICON_MAX_PIXELS:
                    raise _refuse(too_many_pixels)
                probe.verify()
            # verify() leaves the image unusable: decode again from the start.
            with Image.open(io.BytesIO(data)) as decoded:
                image = ImageOps.exif_transpose(decoded)
                image = image.convert("RGBA")
                image.thumbnail(ICON_STORED_SIZE, Image.Resampling.LANCZOS)
                out = io.BytesIO()
                image.save(out, format="PNG", optimize=True)
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(too_many_pixels) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise _refuse(not_an_image) from None
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.png")


def _version(channel: Any) -> str:
    # A new icon gets a new storage name, so browsers that cached the old one fetch it again.
    return hashlib.sha256(str(channel.icon.name).encode()).hexdigest()[:12]


def icon_url(channel: Any, *, organization_slug: str) -> str:
    """The channel's icon for a member's browser (``""`` when it has none)."""
    if not channel.icon:
        return ""
    path = reverse("channels:channel_icon", kwargs={"org_slug": organization_slug, "channel_id": channel.pk})
    return f"{path}?v={_version(channel)}"


def icon_api_url(channel: Any) -> str:
    """The channel's icon through the API (an API token or session); ``""`` when it has none."""
    if not channel.icon:
        return ""
    return f"{reverse('channel-icon', kwargs={'channel_id': channel.pk})}?v={_version(channel)}"


def channel_icon_response(*, organization: Any, channel_id: Any) -> FileResponse:
    """The icon of one of the organization's channels (deleted ones too: their conversations
    stay readable), or NotFound."""
    channel = selectors.channel_get(organization=organization, channel_id=channel_id, include_deleted=True)
    if not channel.icon or not channel.icon.name:
        raise NotFound
    try:
        handle = channel.icon.storage.open(channel.icon.name, "rb")
    except OSError:
        raise NotFound from None
    return file_response(handle, file_name=f"{channel.name or 'channel'}.png")
