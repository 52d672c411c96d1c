"""Meta's `signed_request`: `<signature>.<payload>`, both base64url without padding; the
signature is the HMAC-SHA256 of the payload string keyed with the app secret, and the payload
is JSON with `algorithm`, `issued_at`, `expires` and the app-scoped `user_id`.

Pure functions: the secret and the time are arguments.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.translation import gettext_lazy as _

from helpdesk.exceptions import HelpdeskError

ALGORITHM = "HMAC-SHA256"
# A request older than this is refused even without an `expires` (a replay).
MAX_AGE = timedelta(days=1)
# Clocks differ a little: a request "issued" this far in the future is still taken.
CLOCK_SKEW = timedelta(minutes=5)


class InvalidSignedRequest(HelpdeskError):
    code = "invalid_signed_request"
    status = 400
    default_message = _("The signed request is malformed, forged or expired. Nothing was deleted.")


@dataclass(frozen=True)
class SignedRequest:
    user_id: str
    issued_at: datetime


def _b64decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise InvalidSignedRequest from None


def signed_request_parse(value: str, *, app_secret: str, now: datetime) -> SignedRequest:
    """The verified payload, or InvalidSignedRequest (signature compared in constant time
    before the payload is read; then the algorithm, the age and the expiry)."""
    if not app_secret or not isinstance(value, str) or value.count(".") != 1:
        raise InvalidSignedRequest
    encoded_signature, encoded_payload = value.split(".")
    if not encoded_signature or not encoded_payload:
        raise InvalidSignedRequest
    signature = _b64decode(encoded_signature)
    expected = hmac.new(app_secret.encode(), encoded_payload.encode("ascii", "replace"), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise InvalidSignedRequest
    try:
        payload = json.loads(_b64decode(encoded_payload))
    except (ValueError, UnicodeDecodeError):
        raise InvalidSignedRequest from None
    if not isinstance(payload, dict) or str(payload.get("algorithm", "")).upper() != ALGORITHM:
        raise InvalidSignedRequest
    user_id, issued, expires = payload.get("user_id"), payload.get("issued_at"), payload.get("expires")
    if not isinstance(user_id, (str, int)) or isinstance(user_id, bool) or not str(user_id).strip():
        raise InvalidSignedRequest
    if not isinstance(issued, int) or isinstance(issued, bool):
        raise InvalidSignedRequest
    stamp = now.timestamp()
    if issued > stamp + CLOCK_SKEW.total_seconds() or issued < stamp - MAX_AGE.total_seconds():
        raise InvalidSignedRequest
    if expires is not None and expires != 0:
        if not isinstance(expires, int) or isinstance(expires, bool) or expires <= stamp:
            raise InvalidSignedRequest
    return SignedRequest(user_id=str(user_id).strip(), issued_at=datetime.fromtimestamp(issued, tz=now.tzinfo))
