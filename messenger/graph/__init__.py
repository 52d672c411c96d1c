"""A small client for the parts of Facebook's Graph API the Messenger channel uses.

It imports nothing from the project so it can be pointed at graph.facebook.com or at
the project's local sandbox alike. Every failure is raised as a ``GraphError`` subclass
carrying a stable ``reason`` code; access tokens and the app secret never appear in
exception messages, reprs or log lines.

This module is the package's public face: callers import from ``messenger.graph``, never
from its modules, which are

- ``errors``: the ``GraphError`` hierarchy, the map of failed answers to it, and
  ``TOKEN_SUBCODE_REASONS``, why Facebook refused a token;
- ``transport``: the HTTP core (session, timeouts, retries of GETs, secrets kept out of errors);
- ``login``: Facebook Login (dialog, code and token exchanges, the user's pages, debug_token);
- ``pages``: a page's webhook subscription and its customers' profiles;
- ``send_api``: the Send API and the Attachment Upload API;
- ``client``: ``GraphClient``, all of the calls on one transport;
- ``payloads``: reading Graph's loosely typed JSON and scrubbing secrets from it.
"""

from __future__ import annotations

from messenger.graph.client import GraphClient
from messenger.graph.errors import (
    RATE_LIMIT_CODES,
    TOKEN_INVALID_REASON,
    TOKEN_SUBCODE_REASONS,
    TRANSIENT_CODES,
    WINDOW_SUBCODES,
    AppNotLiveError,
    GraphConnectionError,
    GraphError,
    GraphTimeoutError,
    NoMatchingUserError,
    NoProfileError,
    PermissionMissingError,
    RateLimitedError,
    RecipientCannotReceiveError,
    RecipientUnavailableError,
    ThreadOwnedByOtherAppError,
    TokenInvalidError,
    TransientGraphError,
    WindowClosedError,
    error_from_response,
    token_invalid_reason,
)
from messenger.graph.login import LOGIN_SCOPES, MAX_PAGES, PAGE_FIELDS, PageAccount, TokenInfo, UserToken, dialog_url
from messenger.graph.pages import PROFILE_FIELDS, SUBSCRIBED_FIELDS, AppSubscription, Profile
from messenger.graph.send_api import (
    ALLOWED_MESSAGE_TAGS,
    MESSAGING_TYPES,
    SENDER_ACTIONS,
    UPLOAD_ATTACHMENT_TYPES,
    SendResult,
)
from messenger.graph.transport import MAX_INLINE_RETRY_AFTER

__all__ = [
    "ALLOWED_MESSAGE_TAGS",
    "LOGIN_SCOPES",
    "MAX_INLINE_RETRY_AFTER",
    "MAX_PAGES",
    "MESSAGING_TYPES",
    "PAGE_FIELDS",
    "PROFILE_FIELDS",
    "RATE_LIMIT_CODES",
    "SENDER_ACTIONS",
    "SUBSCRIBED_FIELDS",
    "TOKEN_INVALID_REASON",
    "TOKEN_SUBCODE_REASONS",
    "TRANSIENT_CODES",
    "UPLOAD_ATTACHMENT_TYPES",
    "WINDOW_SUBCODES",
    "AppNotLiveError",
    "AppSubscription",
    "GraphClient",
    "GraphConnectionError",
    "GraphError",
    "GraphTimeoutError",
    "NoMatchingUserError",
    "NoProfileError",
    "PageAccount",
    "PermissionMissingError",
    "Profile",
    "RateLimitedError",
    "RecipientCannotReceiveError",
    "RecipientUnavailableError",
    "SendResult",
    "ThreadOwnedByOtherAppError",
    "TokenInfo",
    "TokenInvalidError",
    "TransientGraphError",
    "UserToken",
    "WindowClosedError",
    "dialog_url",
    "error_from_response",
    "token_invalid_reason",
]
