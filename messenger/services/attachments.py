"""Inbound attachments kept in our own storage.

Facebook's CDN URLs expire after a while, and an image shown from them tells Facebook who
looks at it. After the webhook has committed, a Celery task (messenger.tasks.attachments.attachments_download,
on the `downloads` queue) downloads each downloadable attachment of a customer's message
(image, video, audio, file: not a location, a shared link, a template or a sticker) into the
default storage under the organization and the message, and records on the attachment entry:

    "stored_name" (the storage name), "size" (bytes), "content_type"

next to the original "url"; or, when the file is not kept, "download_error" (readable) and
"download_error_code" (stable): not found, larger than Facebook's 25 MB limit, an address
the safe fetcher refuses (helpdesk.netfetch: not https, not a Facebook CDN host in
production, an address inside our network), or over the caps (10 files per message, 50 per
webhook POST: marked by `attachments_cap` before the messages are stored).
Agents get the stored copy only through views that check who may see the conversation.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import posixpath
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeGuard
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from helpdesk import files, netfetch
from messenger.models import Direction, Message, MessageKind
from messenger.tasks import attachments as attachment_tasks

logger = logging.getLogger(__name__)

DOWNLOADABLE_TYPES = frozenset({"image", "video", "audio", "file"})
# Facebook's own limit for a Messenger attachment.
MAX_DOWNLOAD_BYTES = 25 * 1024 * 1024
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
# A slow drip is a timeout too: no download holds a worker longer than this.
TOTAL_SECONDS = 120.0
STORAGE_PREFIX = "messenger/inbound"
_MAX_NAME_LENGTH = 80
# At most this many files are kept of one message, and of one webhook POST: a POST with
# 300 attachments makes at most 50 requests.
MAX_KEPT_PER_MESSAGE = 10
MAX_KEPT_PER_DELIVERY = 50

# Stable codes of a download that will not succeed by trying again (download_error_code).
ERROR_TOO_LARGE = "too_large"
ERROR_NOT_FOUND = "not_found"
ERROR_REFUSED = "refused"
ERROR_BAD_URL = "bad_url"
ERROR_BLOCKED = "blocked"  # the safe fetcher refused the address (helpdesk.netfetch)
ERROR_TOO_MANY = "too_many"  # over the caps of a message or a POST
ERROR_UNAVAILABLE = "unavailable"  # kept failing for a temporary reason until the retries ran out
_ERROR_TEXT = {
    ERROR_TOO_LARGE: "The file is larger than 25 MB.",
    ERROR_NOT_FOUND: "Facebook no longer has the file.",
    ERROR_REFUSED: "Facebook refused the download.",
    ERROR_BAD_URL: "The address is not a web address.",
    ERROR_BLOCKED: "The address is not one the helpdesk downloads from.",
    ERROR_TOO_MANY: (
        f"Only the first {MAX_KEPT_PER_MESSAGE} files of a message and {MAX_KEPT_PER_DELIVERY} of a delivery are kept."
    ),
    ERROR_UNAVAILABLE: "Facebook's server did not answer in time.",
}


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


def _not_kept(entry: dict[str, Any], failure: DownloadFailure) -> dict[str, Any]:
    return {**entry, "download_error": failure.text, "download_error_code": failure.code}


def attachments_cap(rows: Sequence[dict[str, Any]]) -> list[bool]:
    """Mark the files over the caps as not kept, in the message rows of one webhook POST
    (in the order received), before they are stored: the first MAX_KEPT_PER_MESSAGE of a
    message and MAX_KEPT_PER_DELIVERY of the POST are left to download. Only customers'
    (inbound) messages count. Returns, for each row, whether a file of it was marked."""
    budget = MAX_KEPT_PER_DELIVERY
    capped: list[bool] = []
    for row in rows:
        attachments = row.get("attachments")
        marked = False
        if row.get("direction") == Direction.INBOUND and has_downloadable(attachments):
            assert isinstance(attachments, list)
            kept_here = 0
            entries = []
            for entry in attachments:
                if is_downloadable(entry):
                    if kept_here < MAX_KEPT_PER_MESSAGE and budget > 0:
                        kept_here += 1
                        budget -= 1
                    else:
                        entry = _not_kept(entry, DownloadFailure(ERROR_TOO_MANY))
                        marked = True
                entries.append(entry)
            if marked:
                row["attachments"] = entries
        capped.append(marked)
    return capped


def attachments_over_delivery_cap(rows: Sequence[dict[str, Any]]) -> bool:
    """Whether the customers' files of one POST's message rows are more than
    MAX_KEPT_PER_DELIVERY once each message's are cut to MAX_KEPT_PER_MESSAGE: then which
    files `attachments_cap` keeps depends on which of the rows are stored at all."""
    wanted = 0
    for row in rows:
        attachments = row.get("attachments")
        if row.get("direction") == Direction.INBOUND and isinstance(attachments, list):
            wanted += min(MAX_KEPT_PER_MESSAGE, sum(1 for entry in attachments if is_downloadable(entry)))
    return wanted > MAX_KEPT_PER_DELIVERY


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


_LOOPBACK_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "localhost", "::1": "[::1]"}


def fetch_policy() -> netfetch.FetchPolicy:
    """Where attachments may come from: Facebook's CDN hosts (ATTACHMENT_HOST_SUFFIXES) when
    the Graph sandbox is off; with it on, any public https host and the sandbox's own CDN."""
    prefixes = [] if settings.PRODUCTION else list(settings.ATTACHMENT_FETCH_TEST_PREFIXES)
    if settings.GRAPH_SANDBOX:
        prefixes.append(f"{settings.PUBLIC_URL}/sandbox/")
        # The simulator names its files after the address the browser used: on a laptop,
        # 127.0.0.1, localhost or [::1] at the same port are the same development server.
        public = urlsplit(settings.PUBLIC_URL)
        if public.hostname in _LOOPBACK_HOSTS:
            for host in _LOOPBACK_HOSTS.values():
                prefixes.append(f"{public.scheme}://{host}:{public.port or 80}/sandbox/")
    return netfetch.FetchPolicy(
        max_bytes=MAX_DOWNLOAD_BYTES,
        host_suffixes=() if settings.GRAPH_SANDBOX else tuple(settings.ATTACHMENT_HOST_SUFFIXES),
        trusted_prefixes=tuple(netfetch.TrustedPrefix.parse(prefix) for prefix in prefixes),
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        total_seconds=TOTAL_SECONDS,
        user_agent="helpdesk-attachments/1.0",
    )


def attachment_fetch(
    attachment: dict[str, Any],
    *,
    policy: netfetch.FetchPolicy,
    organization_id: int,
    message_id: int,
    index: int,
) -> Stored | DownloadFailure:
    """Download one attachment into the default storage. Raises TransientDownloadError."""
    url = attachment["url"]
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return DownloadFailure(ERROR_BAD_URL)
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as buffer:
        try:
            fetched = netfetch.fetch(url, policy=policy, into=buffer)
        except netfetch.FetchRefused as refusal:
            logger.warning("attachment %s of message %s not fetched: %s", index, message_id, refusal.reason)
            if refusal.code == netfetch.REFUSED_NOT_WEB:
                return DownloadFailure(ERROR_BAD_URL)
            return DownloadFailure(ERROR_BLOCKED, f"({refusal.reason})")
        except netfetch.FetchTooLarge:
            return DownloadFailure(ERROR_TOO_LARGE)
        except netfetch.FetchUnavailable as error:
            raise TransientDownloadError(str(error)) from error
        if fetched.status >= 500 or fetched.status == 429:
            raise TransientDownloadError(f"HTTP {fetched.status}")
        if fetched.status in (404, 410):
            return DownloadFailure(ERROR_NOT_FOUND, f"(HTTP {fetched.status})")
        if not 200 <= fetched.status < 300:
            return DownloadFailure(ERROR_REFUSED, f"(HTTP {fetched.status})")
        # What the file is comes from its bytes, never from the CDN's header or the name.
        content_type = files.sniff_content_type(buffer)
        name = safe_file_name(attachment, content_type=content_type)
        # The random part keeps the name unguessable and two runs apart.
        path = f"{STORAGE_PREFIX}/{organization_id}/{message_id}/{index}-{uuid.uuid4().hex[:12]}-{name}"
        stored_name = default_storage.save(path, File(buffer, name=name))
    return Stored(stored_name=stored_name, size=fetched.size, content_type=content_type)


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
                    attachments[index] = _not_kept(entry, result)
                    failed += 1
            message.attachments = attachments
            message.attachments_tried_at = message.attachments_tried_at or now
            message.save(update_fields=["attachments", "attachments_tried_at"])
    for name in orphans:
        _delete_on_commit(name)
    return stored, failed


def message_attachments_download(*, message_id: int) -> int:
    """Keep every downloadable attachment of a customer's message not kept yet. Safe to run twice.

    Permanent failures are recorded on the entry; when any download failed for a temporary
    reason the others are recorded first, then TransientDownloadError is raised for the
    task to retry. Returns how many files were stored.
    """
    message = (
        Message.objects.filter(pk=message_id, direction=Direction.INBOUND)
        .values("organization_id", "attachments", "attachments_tried_at")
        .first()
    )
    if message is None:
        return 0
    now = timezone.now()
    if message["attachments_tried_at"] is None:
        Message.objects.filter(pk=message_id, attachments_tried_at__isnull=True).update(attachments_tried_at=now)
    attachments = message["attachments"] if isinstance(message["attachments"], list) else []
    results: dict[int, tuple[str, Stored | DownloadFailure]] = {}
    transient: list[str] = []
    policy = fetch_policy()
    # The cap holds here too, whatever stored the message.
    room = MAX_KEPT_PER_MESSAGE - sum(1 for a in attachments if isinstance(a, dict) and a.get("stored_name"))
    for index, attachment in enumerate(attachments):
        if not is_downloadable(attachment):
            continue
        if room <= 0:
            results[index] = (attachment["url"], DownloadFailure(ERROR_TOO_MANY))
            continue
        room -= 1
        try:
            results[index] = (
                attachment["url"],
                attachment_fetch(
                    attachment,
                    policy=policy,
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


# One catch-up for every follow-up of the webhook (downloads here, profiles and notices in
# messenger.webhook.followups): it leaves recent rows to the queued task, gives up on old
# ones, and takes a batch at a time.
CATCH_UP_AFTER = timedelta(seconds=60)
CATCH_UP_WINDOW = timedelta(days=1)
CATCH_UP_BATCH = 50


def attachments_catch_up(*, now: datetime | None = None) -> int:
    """Queue the downloads no task ever took up (broker down, worker lost before starting).

    Messages with attachments received between a day and a minute ago that were never
    tried; those with nothing to download are only marked. Returns how many were queued.
    """
    now = now or timezone.now()
    rows = list(
        Message.objects.filter(
            # Only customers' files: an agent's upload is already ours.
            direction=Direction.INBOUND,
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
                attachment_tasks.attachments_download.delay(pk)
            except Exception:
                logger.warning("could not queue the download of message %s; next run", pk, exc_info=True)
                break
            queued += 1
        marked.append(pk)
    if marked:
        Message.objects.filter(pk__in=marked, attachments_tried_at__isnull=True).update(attachments_tried_at=now)
    return queued


def downloadable_message_ids(inserted: Iterable[tuple[Mapping[str, Any], int | None]]) -> list[int]:
    """Of (message row, its id when this batch inserted it, else None), the ids of the
    customers' messages that carry something to download (no query). The rows went through
    `attachments_cap` before they were stored: what is over the caps is not downloadable."""
    return [
        message_id
        for row, message_id in inserted
        if message_id is not None
        and row["direction"] == Direction.INBOUND
        and row["kind"] == MessageKind.ATTACHMENT
        and has_downloadable(row["attachments"])
    ]


# --- Serving ---------------------------------------------------------------------------------


def stored_file_name(stored_name: str) -> str:
    """The customer's file name within our storage name (`<index>-<random>-<name>`)."""
    return posixpath.basename(stored_name).split("-", 2)[-1] or "file"
