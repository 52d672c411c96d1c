"""What an attachment entry of a message (`Message.attachments`) says about its file.

A customer's file is downloadable until it is kept ("stored_name") or given up on
("download_error", "download_error_code"). The caps on how many files are kept are stated
here because the reason a file over them was not kept quotes them; `caps` applies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

DOWNLOADABLE_TYPES = frozenset({"image", "video", "audio", "file"})
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


def entry_not_kept(entry: dict[str, Any], failure: DownloadFailure) -> dict[str, Any]:
    """The entry marked as given up on, with the reason."""
    return {**entry, "download_error": failure.text, "download_error_code": failure.code}
