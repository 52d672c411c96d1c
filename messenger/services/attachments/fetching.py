"""One customer's file downloaded through the safe fetcher (helpdesk.netfetch) into the
default storage: from Facebook's CDN hosts only in production, never more than Facebook's
25 MB, never longer than TOTAL_SECONDS."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from helpdesk import files, netfetch
from messenger.services.attachments.entries import (
    ERROR_BAD_URL,
    ERROR_BLOCKED,
    ERROR_NOT_FOUND,
    ERROR_REFUSED,
    ERROR_TOO_LARGE,
    DownloadFailure,
)
from messenger.services.attachments.storage import safe_file_name, stored_path

logger = logging.getLogger(__name__)

# Facebook's own limit for a Messenger attachment.
MAX_DOWNLOAD_BYTES = 25 * 1024 * 1024
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
# A slow drip is a timeout too: no download holds a worker longer than this.
TOTAL_SECONDS = 120.0


class TransientDownloadError(Exception):
    """A timeout, a dropped connection or a 5xx: worth trying again later."""


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
        path = stored_path(organization_id=organization_id, message_id=message_id, index=index, name=name)
        stored_name = default_storage.save(path, File(buffer, name=name))
    return Stored(stored_name=stored_name, size=fetched.size, content_type=content_type)
