"""What the inbox's two polled partials share (the conversation list and the open transcript).

htmx asks for each every ``POLL_SECONDS``, sending the version the page holds; a partial
answers 204 when its version, a digest of what it shows, is still the same.
"""

from __future__ import annotations

import hashlib
from typing import Any

POLL_SECONDS = 2


def digest(parts: Any) -> str:
    """A short digest of ``parts`` (by their repr): a partial's version, a cached row's key."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]
