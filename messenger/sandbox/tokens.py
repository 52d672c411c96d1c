"""Tokens and authorization codes the sandbox issues, and whether a token still works.

Raw tokens leave the sandbox only in API answers; the database keeps their SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from messenger.sandbox import errors
from messenger.sandbox.models import SandboxPage, SandboxToken, SandboxUser, TokenKind

SHORT_LIVED_SECONDS = 2 * 60 * 60
LONG_LIVED_SECONDS = 5_184_000  # 60 days, as Facebook answers fb_exchange_token
DATA_ACCESS_DAYS = 90
AUTH_CODE_SECONDS = 10 * 60
_TOKEN_ALPHABET = string.ascii_letters + string.digits

SUBCODE_EXPIRED = 463
SUBCODE_PASSWORD_CHANGED = 460
SUBCODE_APP_REMOVED = 458

PASSWORD_CHANGED_MESSAGE = (
    "Error validating access token: The session has been invalidated because the user changed their "
    "password or Facebook has changed the session for security reasons."
)


def secret_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_secret(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(length))


def app_removed_message() -> str:
    return f"Error validating access token: The user has not authorized application {settings.FB_APP_ID}."


def _expired_message(expires_at: datetime, now: datetime) -> str:
    shown = "%A, %d-%b-%y %H:%M:%S UTC"
    return (
        f"Error validating access token: Session has expired on {expires_at.strftime(shown)}. "
        f"The current time is {now.strftime(shown)}."
    )


@dataclass(frozen=True, slots=True)
class TokenProblem:
    """Why a token no longer works: always code 190, with Facebook's subcode."""

    code: int
    subcode: int | None
    message: str

    def as_error(self) -> errors.SandboxGraphError:
        return errors.SandboxGraphError(self.message, code=self.code, subcode=self.subcode)


def token_issue(
    *,
    kind: str,
    user: SandboxUser,
    page: SandboxPage | None = None,
    issued_from: SandboxToken | None = None,
    lifetime_seconds: int | None = None,
    expires_at: datetime | None = None,
) -> tuple[SandboxToken, str]:
    """Store a new token and return it with its raw value (shown once, to the caller)."""
    now = timezone.now()
    if lifetime_seconds is not None:
        expires_at = now + timedelta(seconds=lifetime_seconds)
    raw = new_secret("EAAS", 150)
    token = SandboxToken.objects.create(
        token_hash=secret_hash(raw),
        hint=raw[-4:],
        kind=kind,
        user=user,
        page=page,
        issued_from=issued_from,
        password_generation=user.password_generation,
        issued_at=now,
        expires_at=expires_at,
        data_access_expires_at=now + timedelta(days=DATA_ACCESS_DAYS),
    )
    return token, raw


def token_find(raw: str) -> SandboxToken | None:
    if not raw:
        return None
    return SandboxToken.objects.select_related("user", "page").filter(token_hash=secret_hash(raw)).first()


def token_problem(token: SandboxToken, *, now: datetime | None = None) -> TokenProblem | None:
    """None while the token works; otherwise the 190 error Facebook would answer."""
    now = now or timezone.now()
    if token.invalid_code is not None:
        return TokenProblem(token.invalid_code, token.invalid_subcode, token.invalid_message)
    if token.password_generation != token.user.password_generation:
        return TokenProblem(190, SUBCODE_PASSWORD_CHANGED, PASSWORD_CHANGED_MESSAGE)
    if not token.user.app_installed:
        return TokenProblem(190, SUBCODE_APP_REMOVED, app_removed_message())
    if token.expires_at is not None and token.expires_at <= now:
        return TokenProblem(190, SUBCODE_EXPIRED, _expired_message(token.expires_at, now))
    return None


def token_require_valid(raw: str | None) -> SandboxToken:
    """The token behind ``raw``, or the error Facebook answers for a missing or dead one."""
    if not raw:
        raise errors.missing_token()
    token = token_find(raw)
    if token is None:
        raise errors.invalid_token()
    problem = token_problem(token)
    if problem is not None:
        raise problem.as_error()
    return token


def token_require_page(raw: str | None) -> SandboxToken:
    token = token_require_valid(raw)
    if token.kind != TokenKind.PAGE or token.page is None:
        raise errors.page_token_required()
    return token


def token_scopes(token: SandboxToken) -> list[str]:
    """A token carries what its person has granted the app now (revocations apply at once)."""
    return list(token.user.granted_permissions)


def token_require_permission(token: SandboxToken, permission: str, *, code: int = 200) -> None:
    if permission not in token_scopes(token):
        raise errors.permission_missing(permission, code=code)


def token_require_messaging_page(raw: str | None, *, node_id: str, page: SandboxPage | None) -> SandboxPage:
    """The page a messaging call (Send API, Attachment Upload API) acts as: the URL's
    ``page``, with its own token required, or, for ``me``, the token's; with
    ``pages_messaging`` granted (else code 10)."""
    if node_id == "me":
        token = token_require_page(raw)
        assert token.page is not None  # token_require_page guarantees it
        page = token.page
    else:
        if page is None:
            raise errors.unknown_object(node_id, "POST")
        token = token_require_page(raw)
        if token.page_id != page.pk:
            raise errors.SandboxGraphError(
                "Error validating access token: the page access token was issued for another page.",
                code=190,
                subcode=467,
            )
    token_require_permission(token, "pages_messaging", code=10)
    return page


def token_expires_in(token: SandboxToken) -> int | None:
    if token.expires_at is None:
        return None
    return max(0, int((token.expires_at - timezone.now()).total_seconds()))
