"""Meta's data deletion callback, made by the sandbox: a person removes the app and asks for
their data to be deleted, and the product's Data Deletion Request URL receives a form POST
with `signed_request` made the way Meta makes it (base64url without padding of the app
secret's HMAC-SHA256 over the base64url JSON payload)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils import timezone

from messenger.sandbox.models import SandboxUser
from messenger.sandbox.revocations import sandbox_app_remove

logger = logging.getLogger(__name__)

CALLBACK_TIMEOUT_SECONDS = 10.0


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def signed_request_make(*, user_id: str, app_secret: str, issued_at: int, expires: int = 0) -> str:
    payload = _b64(
        json.dumps(
            {"algorithm": "HMAC-SHA256", "expires": expires, "issued_at": issued_at, "user_id": user_id},
            separators=(",", ":"),
        ).encode()
    )
    signature = hmac.new(app_secret.encode(), payload.encode("ascii"), hashlib.sha256).digest()
    return f"{_b64(signature)}.{payload}"


@dataclass(frozen=True)
class DeletionCallbackResult:
    status: int  # 0: the product could not be reached
    confirmation_code: str
    status_url: str


def sandbox_data_deletion_request(*, user: SandboxUser, url: str | None = None) -> DeletionCallbackResult:
    """The person removes the app (their tokens die, 190/458) and asks for deletion: the
    signed request is POSTed to the product; what it answered is returned."""
    sandbox_app_remove(user=user)
    now = int(timezone.now().timestamp())
    signed = signed_request_make(
        user_id=user.facebook_id, app_secret=settings.FB_APP_SECRET, issued_at=now, expires=now + 3600
    )
    target = url or settings.SANDBOX_DATA_DELETION_URL
    try:
        response = requests.post(
            target,
            data={"signed_request": signed},
            headers={"User-Agent": "facebookexternalua"},
            timeout=CALLBACK_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        logger.warning("Sandbox data deletion callback to %s failed: %s", urlsplit(target).path, type(exc).__name__)
        return DeletionCallbackResult(0, "", "")
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return DeletionCallbackResult(
        response.status_code, str(body.get("confirmation_code", "")), str(body.get("url", ""))
    )
