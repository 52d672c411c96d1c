"""Facebook's request signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def signature_for(body: bytes, secret: str) -> str:
    """The header value Facebook would send for this body (tests and the benchmark sign with it)."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_is_valid(body: bytes, header: str | None, secret: str) -> bool:
    """Compare over the raw bytes, in constant time; re-serialised JSON would not match."""
    if not header or not secret or not header.startswith(PREFIX):
        return False
    expected = signature_for(body, secret).encode()
    return hmac.compare_digest(expected, header.strip().lower().encode("ascii", "replace"))
