"""Inbound attachments kept in our own storage.

Facebook's CDN URLs expire after a while, and an image shown from them tells Facebook who
looks at it. After the webhook has committed, a Celery task (messenger.tasks.attachments_download)
downloads each downloadable attachment of a message (image, video, audio, file: not a
location, a shared link, a template or a sticker) into the default storage under the
organization and the message, and records on the attachment entry:

    "stored_name" (the storage name), "size" (bytes), "content_type"

next to the original "url"; or, when the file cannot be had (not found, larger than
Facebook's 25 MB limit), "download_error" (readable) and "download_error_code" (stable).
Agents get the stored copy only through views that check who may see the conversation.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import posixpath
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeGuard
from urllib.parse import unquote, urlsplit

import requests
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from helpdesk.converters import parse_int
from messenger.models import Message, MessageKind

logger = logging.getLogger(__name__)

DOWNLOADABLE_TYPES = frozenset({"image", "video", "audio", "file"})
# Facebook's own limit for a Messenger attachment.
MAX_DOWNLOAD_BYTES = 25 * 1024 * 1024
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
# A slow drip is a timeout too: no download holds a worker longer than this.
TOTAL_SECONDS = 120.0
CHUNK_BYTES = 64 * 1024
STORAGE_PREFIX = "messenger/inbound"
_MAX_NAME_LENGTH = 80

# Stable codes of a download that will not succeed by trying again (download_error_code).
ERROR_TOO_LARGE = "too_large"
ERROR_NOT_FOUND = "not_found"
ERROR_REFUSED = "refused"
ERROR_BAD_URL = "bad_url"
ERROR_UNAVAILABLE = "unavailable"  # kept failing for a temporary reason until the retries ran out
_ERROR_TEXT = {
    ERROR_TOO_LARGE: "The file is larger than 25 MB.",
    ERROR_NOT_FOUND: "Facebook no longer has the file.",
    ERROR_REFUSED: "Facebook refused the download.",
    ERROR_BAD_URL: "The address is not a web address.",
    ERROR_UNAVAILABLE: "Facebook's server did not answer in time.",
}

# Content types that are never shown inline: a browser would run their scripts.
ACTIVE_CONTENT_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
    }
)
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/avif"})


class TransientDownloadError(Exception):
    """A timeout, a dropped connection or a 5xx: worth trying again later."""


@dataclass(frozen=True, slots=True)
class DownloadFailure:
    code: str
    detail: str = ""

    @property
    def text(self) -> str:
        return f"{_ERROR_TEXT[self.code]} {self.detail}".strip()


def is_downloadable(attachment: Any) -> TypeGuard[dict[str, Any]]:
    """A file from the customer's side that is not kept yet nor given up on."""
    return (
        isinstance(attachment, dict)
        and attachment.get("type") in DOWNLOADABLE_TYPES
        and not attachment.get("sticker_id")
        and isinstance(attachment.get("url"), str)
        and bool(attachment["url"])
        and not attachment.get("stored_name")
        and not attachment.get("download_error")
    )


def has_downloadable(attachments: Any) -> bool:
    return isinstance(attachments, list) and any(is_downloadable(a) for a in attachments)


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


@dataclass(frozen=True, slots=True)
class Stored:
    stored_name: str
    size: int
    content_type: str


def _content_type(response: requests.Response, url: str) -> str:
    header = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if header and "/" in header and header != "application/octet-stream":
        return header[:100]
    return (mimetypes.guess_type(urlsplit(url).path)[0] or "application/octet-stream").lower()


def attachment_fetch(
    session: requests.Session, attachment: dict[str, Any], *, organization_id: int, message_id: int, index: int
) -> Stored | DownloadFailure:
    """Download one attachment into the default storage. Raises TransientDownloadError."""
    url = attachment["url"]
    if urlsplit(url).scheme not in ("http", "https"):
        return DownloadFailure(ERROR_BAD_URL)
    started = time.monotonic()
    try:
        with session.get(url, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)) as response:
            if response.status_code >= 500 or response.status_code == 429:
                raise TransientDownloadError(f"HTTP {response.status_code}")
            if response.status_code in (404, 410):
                return DownloadFailure(ERROR_NOT_FOUND, f"(HTTP {response.status_code})")
            if response.status_code >= 400:
                return DownloadFailure(ERROR_REFUSED, f"(HTTP {response.status_code})")
            declared = parse_int(response.headers.get("Content-Length", ""))
            if declared is not None and declared > MAX_DOWNLOAD_BYTES:
                return DownloadFailure(ERROR_TOO_LARGE)
            content_type = _content_type(response, url)
            with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as buffer:
                size = 0
                for chunk in response.iter_content(CHUNK_BYTES):
                    size += len(chunk)
                    if size > MAX_DOWNLOAD_BYTES:
                        return DownloadFailure(ERROR_TOO_LARGE)
                    if time.monotonic() - started > TOTAL_SECONDS:
                        raise TransientDownloadError("download took too long")
                    buffer.write(chunk)
                buffer.seek(0)
                name = safe_file_name(attachment, content_type=content_type)
                # The random part keeps the name unguessable and two runs apart.
                path = f"{STORAGE_PREFIX}/{organization_id}/{message_id}/{index}-{uuid.uuid4().hex[:12]}-{name}"
                stored_name = default_storage.save(path, File(buffer, name=name))
    except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
        raise TransientDownloadError(type(error).__name__) from error
    except requests.RequestException as error:
        # An address requests cannot even try (no host, a scheme it has no adapter for).
        logger.info("attachment %s of message %s: %s", index, message_id, error)
        return DownloadFailure(ERROR_BAD_URL)
    return Stored(stored_name=stored_name, size=size, content_type=content_type)


def _delete_on_commit(name: str) -> None:
    transaction.on_commit(lambda: default_storage.delete(name))


def _record(
    *, message_id: int, results: dict[int, tuple[str, Stored | DownloadFailure]], now: datetime
) -> tuple[int, int]:
    """Write the results onto the entries, under the row lock; a result for an entry that
    another run filled meanwhile is dropped (its file deleted). Returns (stored, failed)."""
    stored = failed = 0
    orphans: list[str] = []
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            orphans = [r.stored_name for _url, r in results.values() if isinstance(r, Stored)]
        else:
            attachments = list(message.attachments) if isinstance(message.attachments, list) else []
            for index, (url, result) in results.items():
                entry = attachments[index] if index < len(attachments) else None
                if not is_downloadable(entry) or entry.get("url") != url:
                    if isinstance(result, Stored):
                        orphans.append(result.stored_name)
                    continue
                assert isinstance(entry, dict)
                if isinstance(result, Stored):
                    attachments[index] = {
                        **entry,
                        "stored_name": result.stored_name,
                        "size": result.size,
                        "content_type": result.content_type,
                    }
                    stored += 1
                else:
                    attachments[index] = {
                        **entry,
                        "download_error": result.text,
                        "download_error_code": result.code,
                    }
                    failed += 1
            message.attachments = attachments
            message.attachments_tried_at = message.attachments_tried_at or now
            message.save(update_fields=["attachments", "attachments_tried_at"])
    for name in orphans:
        _delete_on_commit(name)
    return stored, failed


def message_attachments_download(*, message_id: int) -> int:
    """Keep every downloadable attachment of a message not kept yet. Safe to run twice.

    Permanent failures are recorded on the entry; when any download failed for a temporary
    reason the others are recorded first, then TransientDownloadError is raised for the
    task to retry. Returns how many files were stored.
    """
    message = (
        Message.objects.filter(pk=message_id).values("organization_id", "attachments", "attachments_tried_at").first()
    )
    if message is None:
        return 0
    now = timezone.now()
    if message["attachments_tried_at"] is None:
        Message.objects.filter(pk=message_id, attachments_tried_at__isnull=True).update(attachments_tried_at=now)
    attachments = message["attachments"] if isinstance(message["attachments"], list) else []
    results: dict[int, tuple[str, Stored | DownloadFailure]] = {}
    transient: list[str] = []
    with requests.Session() as session:
        session.headers["User-Agent"] = "helpdesk-attachments/1.0"
        for index, attachment in enumerate(attachments):
            if not is_downloadable(attachment):
                continue
            try:
                results[index] = (
                    attachment["url"],
                    attachment_fetch(
                        session,
                        attachment,
                        organization_id=message["organization_id"],
                        message_id=message_id,
                        index=index,
                    ),
                )
            except TransientDownloadError as error:
                transient.append(f"{index}: {error}")
    stored = 0
    if results:
        stored, _failed = _record(message_id=message_id, results=results, now=now)
    if transient:
        raise TransientDownloadError(f"message {message_id}: " + ", ".join(transient))
    return stored


def message_attachments_give_up(*, message_id: int) -> int:
    """After the last retry: the entries still not kept are marked unavailable."""
    message = Message.objects.filter(pk=message_id).values("attachments").first()
    attachments = message["attachments"] if message and isinstance(message["attachments"], list) else []
    failure = DownloadFailure(ERROR_UNAVAILABLE)
    results: dict[int, tuple[str, Stored | DownloadFailure]] = {
        index: (entry["url"], failure) for index, entry in enumerate(attachments) if is_downloadable(entry)
    }
    if not results:
        return 0
    return _record(message_id=message_id, results=results, now=timezone.now())[1]


# --- The catch-up ------------------------------------------------------------------------


CATCH_UP_AFTER = timedelta(seconds=60)
CATCH_UP_WINDOW = timedelta(days=1)
CATCH_UP_BATCH = 50


def attachments_catch_up(*, now: datetime | None = None) -> int:
    """Queue the downloads no task ever took up (broker down, worker lost before starting).

    Messages with attachments received between a day and a minute ago that were never
    tried; those with nothing to download are only marked. Returns how many were queued.
    """
    from messenger import tasks

    now = now or timezone.now()
    rows = list(
        Message.objects.filter(
            kind=MessageKind.ATTACHMENT,
            attachments_tried_at__isnull=True,
            received_at__range=(now - CATCH_UP_WINDOW, now - CATCH_UP_AFTER),
        )
        .order_by("received_at")
        .values_list("pk", "attachments")[:CATCH_UP_BATCH]
    )
    marked: list[int] = []
    queued = 0
    for pk, attachments in rows:
        if has_downloadable(attachments):
            try:
                tasks.attachments_download.delay(pk)
            except Exception:
                logger.warning("could not queue the download of message %s; next run", pk, exc_info=True)
                break
            queued += 1
        marked.append(pk)
    if marked:
        Message.objects.filter(pk__in=marked, attachments_tried_at__isnull=True).update(attachments_tried_at=now)
    return queued


def downloadable_message_ids(inserted: Iterable[tuple[Mapping[str, Any], int | None]]) -> list[int]:
    """Of (message row, its id when this batch inserted it, else None), the ids of those that
    carry something to download (no query)."""
    return [
        message_id
        for row, message_id in inserted
        if message_id is not None and row["kind"] == MessageKind.ATTACHMENT and has_downloadable(row["attachments"])
    ]


# --- Serving ---------------------------------------------------------------------------------


def stored_file_name(stored_name: str) -> str:
    """The customer's file name within our storage name (`<index>-<random>-<name>`)."""
    return posixpath.basename(stored_name).split("-", 2)[-1] or "file"


@dataclass(frozen=True, slots=True)
class ServedAttachment:
    stored_name: str
    content_type: str
    file_name: str
    inline: bool


def attachment_for_serving(message: Message, index: int) -> ServedAttachment | None:
    """What to send for a stored attachment, or None when there is no stored copy.

    Only raster images are shown inline; anything a browser could run (HTML, SVG, XML,
    scripts) is sent as a download, as is every other file.
    """
    attachments = message.attachments if isinstance(message.attachments, list) else []
    if not 0 <= index < len(attachments):
        return None
    entry = attachments[index]
    if not isinstance(entry, dict) or not entry.get("stored_name"):
        return None
    content_type = str(entry.get("content_type") or "application/octet-stream").lower()
    if content_type in ACTIVE_CONTENT_TYPES or "script" in content_type or "html" in content_type:
        content_type = "application/octet-stream"
    inline = content_type in INLINE_IMAGE_TYPES
    file_name = stored_file_name(entry["stored_name"])
    return ServedAttachment(
        stored_name=entry["stored_name"], content_type=content_type, file_name=file_name, inline=inline
    )
