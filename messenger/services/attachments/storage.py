"""Where a customer's kept file lies in the default storage, and under what name:
`messenger/inbound/<organization>/<message>/<index>-<random>-<name>`. The name comes from
the customer's title or the URL, made safe; it is never used raw."""

from __future__ import annotations

import mimetypes
import os
import posixpath
import uuid
from typing import Any
from urllib.parse import unquote, urlsplit

from django.utils.text import get_valid_filename

STORAGE_PREFIX = "messenger/inbound"
_MAX_NAME_LENGTH = 80


def safe_file_name(attachment: dict[str, Any], *, content_type: str) -> str:
    """A storage-safe name from the title or the URL's last segment (never used raw)."""
    candidates = [str(attachment.get("title") or ""), unquote(posixpath.basename(urlsplit(attachment["url"]).path))]
    name = ""
    for candidate in candidates:
        name = get_valid_filename(os.path.basename(candidate.replace("\\", "/")).strip(". ")) if candidate else ""
        name = name.lstrip(".-")
        if name:
            break
    stem, extension = os.path.splitext(name or str(attachment.get("type") or "file"))
    extension = extension.lower()[:10]
    if not extension or not extension[1:].isalnum():
        extension = mimetypes.guess_extension(content_type) or ""
    return f"{stem[: _MAX_NAME_LENGTH - len(extension)] or 'file'}{extension}"


def stored_path(*, organization_id: int, message_id: int, index: int, name: str) -> str:
    """Where the `index`-th file of a message is saved."""
    # The random part keeps the name unguessable and two runs apart.
    return f"{STORAGE_PREFIX}/{organization_id}/{message_id}/{index}-{uuid.uuid4().hex[:12]}-{name}"


def stored_file_name(stored_name: str) -> str:
    """The customer's file name within our storage name (`<index>-<random>-<name>`)."""
    return posixpath.basename(stored_name).split("-", 2)[-1] or "file"
