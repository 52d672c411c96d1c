"""The product's way to the Graph API: one client built from settings, page tokens
decrypted only at the moment of a call, and error 190 turned into "re-authorization
required" whatever the call was."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.utils import timezone

from messenger.crypto import decrypt_token
from messenger.graph import GraphClient, GraphError, PermissionMissingError, TokenInvalidError
from messenger.models import FacebookPage, PageStatus, ReauthorizationReason

T = TypeVar("T")

_local = threading.local()

# Graph's reasons for a dead token, as the product names them to admins.
_REASONS = {
    "token_expired": ReauthorizationReason.TOKEN_EXPIRED,
    "app_access_revoked": ReauthorizationReason.APP_ACCESS_REVOKED,
    "permissions_revoked": ReauthorizationReason.PERMISSIONS_REVOKED,
    "password_changed": ReauthorizationReason.PASSWORD_CHANGED,
}


def graph_client() -> GraphClient:
    """One client (one HTTP session) per thread, rebuilt when the settings change (tests)."""
    key = (settings.FB_GRAPH_URL, settings.FB_APP_ID, settings.FB_APP_SECRET, settings.FB_GRAPH_VERSION)
    client = getattr(_local, "client", None)
    if client is None or getattr(_local, "key", None) != key:
        client = GraphClient(
            base_url=settings.FB_GRAPH_URL.rstrip("/"),
            app_id=settings.FB_APP_ID,
            app_secret=settings.FB_APP_SECRET,
            version=settings.FB_GRAPH_VERSION,
            timeout=settings.FB_GRAPH_TIMEOUT,
        )
        _local.client, _local.key = client, key
    return client


def reauthorization_reason_for(error: GraphError) -> str:
    return _REASONS.get(error.reason, ReauthorizationReason.TOKEN_INVALID)


def page_mark_reauthorization_required(*, page: FacebookPage, reason: str) -> bool:
    """Flag the page; True when this call changed it (so that admins are told once)."""
    updated = (
        FacebookPage.objects.filter(pk=page.pk)
        .exclude(status=PageStatus.REAUTHORIZATION_REQUIRED, reauthorization_reason=reason)
        .update(status=PageStatus.REAUTHORIZATION_REQUIRED, reauthorization_reason=reason, updated_at=timezone.now())
    )
    page.status, page.reauthorization_reason = PageStatus.REAUTHORIZATION_REQUIRED, reason
    return bool(updated)


def call_with_page(page: FacebookPage, call: Callable[[GraphClient, str], T]) -> T:
    """Run `call(client, page_token)`; a dead token marks the page before the error goes on."""
    try:
        return call(graph_client(), decrypt_token(page.access_token_encrypted))
    except (TokenInvalidError, PermissionMissingError) as error:
        page_mark_reauthorization_required(page=page, reason=reauthorization_reason_for(error))
        raise
