"""The Facebook Login dialog: checking what the app asked for, and where the person goes next."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from messenger.sandbox.models import SandboxAuthCode, SandboxUser
from messenger.sandbox.people import ALL_PERMISSIONS, KNOWN_PERMISSIONS
from messenger.sandbox.tokens import AUTH_CODE_SECONDS, new_secret, secret_hash


class DialogError(Exception):
    """The dialog cannot be shown (Facebook shows an error page, never redirects)."""


@dataclass(frozen=True, slots=True)
class DialogRequest:
    client_id: str
    redirect_uri: str
    state: str
    scopes: tuple[str, ...]


def dialog_request_parse(params: Mapping[str, str]) -> DialogRequest:
    client_id = params.get("client_id", "")
    if client_id != settings.FB_APP_ID:
        raise DialogError(_("Invalid App ID: the client_id is not this app's id."))
    redirect_uri = params.get("redirect_uri", "")
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DialogError(_("Invalid redirect_uri: it must be an absolute http(s) URL."))
    response_type = params.get("response_type") or "code"
    if response_type != "code":
        raise DialogError(_("Unsupported response_type: only “code” is supported."))
    raw_scope = params.get("scope", "")
    scopes = tuple(dict.fromkeys(s.strip() for s in raw_scope.replace(" ", ",").split(",") if s.strip()))
    if not scopes and params.get("config_id"):
        # Facebook Login for Business names a configuration instead; the sandbox's asks for these.
        scopes = ALL_PERMISSIONS
    unknown = [s for s in scopes if s not in KNOWN_PERMISSIONS]
    if unknown:
        raise DialogError(_("Invalid Scopes: %(scopes)s.") % {"scopes": ", ".join(unknown)})
    return DialogRequest(client_id=client_id, redirect_uri=redirect_uri, state=params.get("state", ""), scopes=scopes)


def _redirect(redirect_uri: str, params: dict[str, str]) -> str:
    separator = "&" if urlsplit(redirect_uri).query else "?"
    return f"{redirect_uri}{separator}{urlencode(params)}"


@transaction.atomic
def dialog_authorize(*, request: DialogRequest, user: SandboxUser, granted: Iterable[str]) -> str:
    """The person continues: grants what stayed checked, declines the rest, installs the app.
    Returns the redirect with a fresh single-use code."""
    user = SandboxUser.objects.select_for_update().get(pk=user.pk)
    granted_now = [s for s in request.scopes if s in set(granted)]
    declined_now = [s for s in request.scopes if s not in granted_now]
    user.granted_permissions = [p for p in user.granted_permissions if p not in declined_now]
    user.granted_permissions += [p for p in granted_now if p not in user.granted_permissions]
    user.declined_permissions = [p for p in user.declined_permissions if p not in granted_now]
    user.declined_permissions += [p for p in declined_now if p not in user.declined_permissions]
    user.app_installed = True
    user.save(update_fields=["granted_permissions", "declined_permissions", "app_installed"])
    code = new_secret("AQ", 180)
    SandboxAuthCode.objects.create(
        code_hash=secret_hash(code),
        user=user,
        redirect_uri=request.redirect_uri,
        scopes=granted_now,
        expires_at=timezone.now() + timedelta(seconds=AUTH_CODE_SECONDS),
    )
    return _redirect(request.redirect_uri, {"code": code, "state": request.state})


def dialog_cancel_url(*, request: DialogRequest) -> str:
    return _redirect(
        request.redirect_uri,
        {
            "error": "access_denied",
            "error_code": "200",
            "error_description": "Permissions error",
            "error_reason": "user_denied",
            "state": request.state,
        },
    )
