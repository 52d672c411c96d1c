"""The errors of the Graph client: one hierarchy, each class with a stable ``reason`` code.

``error_from_response`` is the one place a failed Graph answer becomes an exception, and
``TOKEN_SUBCODE_REASONS`` the product's one map of why Facebook refused a token.
"""

from __future__ import annotations

from collections.abc import Sequence

from messenger.graph.payloads import int_or_none, redacted, str_or_none


class GraphError(Exception):
    """A Graph API call failed. ``reason`` is a stable machine code for callers."""

    reason: str = "graph_error"
    retryable: bool = False
    # True when the page must be linked again (its token can no longer be used).
    needs_reauthorization: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        error_type: str | None = None,
        fbtrace_id: str | None = None,
        http_status: int | None = None,
        is_transient: bool = False,
        user_title: str | None = None,
        user_msg: str | None = None,
        retry_after: float | None = None,
        reason: str | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.subcode = subcode
        self.error_type = error_type
        self.fbtrace_id = fbtrace_id
        self.http_status = http_status
        self.is_transient = is_transient
        self.user_title = user_title
        self.user_msg = user_msg
        self.retry_after = retry_after
        if reason is not None:
            self.reason = reason
        shown = {
            "code": code,
            "subcode": subcode,
            "http": http_status,
            "fbtrace_id": fbtrace_id,
        }
        details = ", ".join(f"{k}={v}" for k, v in shown.items() if v is not None)
        super().__init__(f"{message} [{details}]" if details else message)


class TokenInvalidError(GraphError):
    """Code 190: the token is dead; ``reason`` tells why (see ``TOKEN_SUBCODE_REASONS``)."""

    reason = "token_invalid"
    needs_reauthorization = True


class PermissionMissingError(GraphError):
    """Codes 10 and 200 outside the specific rows: a permission was revoked or never granted."""

    reason = "permissions_revoked"
    needs_reauthorization = True


class WindowClosedError(GraphError):
    reason = "reply_window_closed"


class RecipientCannotReceiveError(GraphError):
    reason = "recipient_cannot_receive"


class RecipientUnavailableError(GraphError):
    reason = "recipient_unavailable"


class NoMatchingUserError(GraphError):
    reason = "no_matching_user"


class AppNotLiveError(GraphError):
    reason = "app_not_live"


class ThreadOwnedByOtherAppError(GraphError):
    reason = "thread_owned_by_other_app"


class NoProfileError(GraphError):
    reason = "no_profile"


class RateLimitedError(GraphError):
    reason = "rate_limited"
    retryable = True


class TransientGraphError(GraphError):
    reason = "graph_transient"
    retryable = True


class GraphTimeoutError(TransientGraphError):
    reason = "graph_timeout"


class GraphConnectionError(TransientGraphError):
    reason = "graph_connection"


# Why Facebook no longer accepts a token, by the subcode of error 190 (the same subcodes come
# in /debug_token's error): the product's one map of them. Every reason is also a
# messenger.models.ReauthorizationReason, whose label is what an admin reads.
TOKEN_SUBCODE_REASONS: dict[int, str] = {
    458: "app_access_revoked",  # the user removed the app
    459: "user_checkpoint",  # the user's account is held at a security checkpoint
    460: "password_changed",
    463: "token_expired",
    464: "user_unconfirmed",  # the user's account is not confirmed
    467: "session_invalid",  # the user logged out, or Facebook ended the session
    492: "page_role_lost",  # the user no longer has a role on the page
    493: "user_inactive",  # the user has not been active for 90 days
}
TOKEN_INVALID_REASON = "token_invalid"  # any other subcode, or none


def token_invalid_reason(subcode: int | None) -> str:
    """The reason for a token Facebook refused with this subcode."""
    return TOKEN_SUBCODE_REASONS.get(subcode or 0, TOKEN_INVALID_REASON)


WINDOW_SUBCODES = frozenset({2018278, 2534022, 2018065})
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001})
TRANSIENT_CODES = frozenset({1, 2, 1200})


def error_from_response(
    http_status: int,
    body: object,
    *,
    redact: Sequence[str] = (),
    retry_after: float | None = None,
) -> GraphError:
    """Map a failed Graph response (status and decoded JSON, or anything else) to an error.

    Specific codes win; an unrecognised code is transient when Facebook flags it
    ``is_transient`` or the status is 5xx, otherwise a plain, non-retryable ``GraphError``.
    Strings in ``redact`` (tokens, the app secret) are scrubbed from the texts kept.
    """
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        message = f"Graph API answered HTTP {http_status} without a Graph error body"
        cls = TransientGraphError if http_status >= 500 else GraphError
        return cls(
            message,
            http_status=http_status,
            is_transient=http_status >= 500,
            retry_after=retry_after,
        )

    code = int_or_none(error.get("code"))
    subcode = int_or_none(error.get("error_subcode"))
    is_transient = error.get("is_transient") is True
    cls = _error_class(code, subcode)
    if cls is GraphError and (is_transient or http_status >= 500):
        cls = TransientGraphError
    reason = token_invalid_reason(subcode) if code == 190 else None
    user_title = str_or_none(error.get("error_user_title"))
    user_msg = str_or_none(error.get("error_user_msg"))
    return cls(
        redacted(str(error.get("message") or "Graph API error"), redact),
        code=code,
        subcode=subcode,
        error_type=str_or_none(error.get("type")),
        fbtrace_id=str_or_none(error.get("fbtrace_id")),
        http_status=http_status,
        is_transient=is_transient or issubclass(cls, TransientGraphError),
        user_title=redacted(user_title, redact) if user_title else None,
        user_msg=redacted(user_msg, redact) if user_msg else None,
        retry_after=retry_after,
        reason=reason,
    )


def _error_class(code: int | None, subcode: int | None) -> type[GraphError]:
    if code == 190:
        return TokenInvalidError
    if 2018300 in (code, subcode):
        return ThreadOwnedByOtherAppError
    if 2018218 in (code, subcode):
        return NoProfileError
    if code == 10 and subcode in WINDOW_SUBCODES:
        return WindowClosedError
    if code == 10 and subcode == 2018108:
        return RecipientCannotReceiveError
    if code == 551:
        return RecipientUnavailableError
    if code == 100 and subcode == 2018001:
        return NoMatchingUserError
    if code == 200 and subcode == 2018028:
        return AppNotLiveError
    if code in (10, 200):
        return PermissionMissingError
    if code in RATE_LIMIT_CODES:
        return RateLimitedError
    if code in TRANSIENT_CODES:
        return TransientGraphError
    return GraphError
