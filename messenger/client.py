"""The product's way to the Graph API: one client built from settings, page tokens
decrypted only at the moment of a call, and a refused token (error 190, or a revoked
permission) turned into "re-authorization required" whatever the call was."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from messenger.crypto import decrypt_token
from messenger.graph import GraphClient, GraphError, PermissionMissingError, TokenInvalidError
from messenger.models import FacebookPage, ReauthorizationReason
from messenger.pages.authorization import page_authorization_mark_reauthorization_required

T = TypeVar("T")

_local = threading.local()


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
    """The page's reason for a refused token: the Graph client's own (error 190's subcode,
    messenger.graph.TOKEN_SUBCODE_REASONS, or a revoked permission)."""
    if error.reason in ReauthorizationReason.values:
        return error.reason
    return ReauthorizationReason.TOKEN_INVALID


def call_with_page(page: FacebookPage, call: Callable[[GraphClient, str], T]) -> T:
    """Run `call(client, page_token)`; a refused token flags the page before the error goes on
    (unless the page was re-authorized meanwhile: see
    messenger.pages.authorization.page_authorization_mark_reauthorization_required)."""
    token = page.access_token_encrypted
    try:
        return call(graph_client(), decrypt_token(token))
    except (TokenInvalidError, PermissionMissingError) as error:
        page_authorization_mark_reauthorization_required(
            page=page, reason=reauthorization_reason_for(error), refused_token=token
        )
        raise
