"""Kept files as data, never as pages: the one place that decides what a stored file is and
how it is sent to a browser.

The content type comes from the bytes, never from the file's name or the header its
uploader's browser (or Facebook's CDN) sent: Pillow recognises the raster images a browser
may show (PNG, JPEG, GIF, WebP), ``filetype`` (magic numbers, pure Python) names the other
binary formats. Only those raster images are served inline; everything else is a download
whose type is the sniffed one unless a browser could render or run it (HTML, SVG, XML,
scripts), which become ``application/octet-stream``. Text formats are never recognised
from bytes, so a text file is always a neutral download. Every file response says
``nosniff`` and carries a sandboxing Content-Security-Policy, so even a browser that
rendered it would run nothing and load nothing.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import IO

import filetype
from django.http import FileResponse
from django.utils.text import get_valid_filename
from PIL import Image

OCTET_STREAM = "application/octet-stream"
# Pillow's format name → the type a browser shows inline.
RASTER_IMAGE_TYPES: dict[str, str] = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
INLINE_IMAGE_TYPES = frozenset(RASTER_IMAGE_TYPES.values())
# Anything whose type names one of these could be rendered as a document or run.
_ACTIVE_MARKERS = ("html", "xml", "svg", "script", "ecmascript", "shockwave", "x-msdownload", "xhtml")
# Exactly this on every file response: nothing in the file may run, load or navigate.
FILE_CSP = "sandbox; default-src 'none'"
_MAX_NAME_LENGTH = 120


def is_active_content_type(content_type: str) -> bool:
    """True for a type a browser could render or execute (HTML, SVG, XML, scripts…)."""
    lowered = content_type.lower()
    return any(marker in lowered for marker in _ACTIVE_MARKERS)


def _raster_image_type(handle: IO[bytes]) -> str | None:
    try:
        with warnings.catch_warnings():
            # Only the header is read; a large picture is still a picture.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(handle, formats=list(RASTER_IMAGE_TYPES)) as image:
                return RASTER_IMAGE_TYPES.get(image.format or "")
    except Exception:  # Pillow raises many kinds for "not one of these formats"
        return None


def sniff_content_type(handle: IO[bytes]) -> str:
    """The type of the file from its bytes (the handle is left at its start).

    A raster image is ``image/png|jpeg|gif|webp``; another format ``filetype`` knows keeps
    its type unless it is active content; the rest is ``application/octet-stream``.
    """
    handle.seek(0)
    image_type = _raster_image_type(handle)
    handle.seek(0)
    if image_type is not None:
        return image_type
    head = handle.read(8192)
    handle.seek(0)
    kind = filetype.guess(head) if head else None
    mime = str(kind.mime).lower() if kind is not None else ""
    if not mime or "/" not in mime or is_active_content_type(mime) or mime.startswith("image/"):
        # Images Pillow did not accept are not shown, so their own type buys nothing.
        return OCTET_STREAM
    return mime


def sniff_bytes(data: bytes) -> str:
    return sniff_content_type(io.BytesIO(data))


def is_inline_image(content_type: str) -> bool:
    return content_type in INLINE_IMAGE_TYPES


def safe_display_name(name: str, *, fallback: str = "file") -> str:
    """A file name for Content-Disposition and the transcript: no path, no control characters."""
    base = os.path.basename(str(name or "").replace("\\", "/")).strip(". ")
    cleaned = get_valid_filename(base).lstrip(".-") if base else ""
    stem, extension = os.path.splitext(cleaned or fallback)
    extension = extension[:10]
    return f"{stem[: _MAX_NAME_LENGTH - len(extension)] or fallback}{extension}"


def file_response(handle: IO[bytes], *, file_name: str, cache_control: str = "private, max-age=3600") -> FileResponse:
    """Send a kept file: its type from its bytes, inline only when a raster image.

    Takes ownership of ``handle`` (the response closes it).
    """
    content_type = sniff_content_type(handle)
    inline = is_inline_image(content_type)
    response = FileResponse(
        handle, content_type=content_type, as_attachment=not inline, filename=safe_display_name(file_name)
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Cache-Control"] = cache_control
    return response
