"""A small client for the parts of Facebook's Graph API the Messenger channel uses.

It imports nothing from the project so it can be pointed at graph.facebook.com or at
the project's local sandbox alike. Every failure is raised as a ``GraphError`` subclass
carrying a stable ``reason`` code; access tokens and the app secret never appear in
exception messages, reprs or log lines.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

logger = logging.getLogger(__name__)

SUBSCRIBED_FIELDS: tuple[str, ...] = (
    "messages",
    "message_echoes",
    "message_deliveries",
    "message_reads",
    "messaging_postbacks",
    "message_reactions",
    "message_edits",
)
LOGIN_SCOPES: tuple[str, ...] = (
    "pages_show_list",
    "pages_messaging",
    "pages_manage_metadata",
    "pages_read_engagement",
)
MESSAGING_TYPES = frozenset({"RESPONSE", "UPDATE", "MESSAGE_TAG"})
# The other tags (ACCOUNT_UPDATE, CONFIRMED_EVENT_UPDATE, ...) were retired and now fail.
ALLOWED_MESSAGE_TAGS = frozenset({"HUMAN_AGENT"})
SENDER_ACTIONS = frozenset({"typing_on", "typing_off", "mark_seen"})
# What the Attachment Upload API takes (a template is not a file).
UPLOAD_ATTACHMENT_TYPES = frozenset({"image", "video", "audio", "file"})
PAGE_FIELDS = "id,name,access_token,tasks,category"
PROFILE_FIELDS = "first_name,last_name,profile_pic"
# A longer Retry-After is not slept through inside a request: the caller (a Celery task)
# should reschedule instead of blocking a worker.
MAX_INLINE_RETRY_AFTER = 30.0
# /me/accounts paging is followed at most this far, in case a server loops its cursors.
MAX_PAGES = 50
_REDACTED = "[redacted]"
_SECRET_PARAMS = frozenset({"access_token", "input_token", "fb_exchange_token", "client_secret", "code"})


# --------------------------------------------------------------------------- errors


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


def _int_or_none(value: object) -> int | None:
    # Codes normally arrive as numbers, but proxies and old payloads send strings.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    # ASCII digits only: "²" passes str.isdigit() but not int().
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value.strip()):
        return int(value)
    return None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


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

    code = _int_or_none(error.get("code"))
    subcode = _int_or_none(error.get("error_subcode"))
    is_transient = error.get("is_transient") is True
    cls = _error_class(code, subcode)
    if cls is GraphError and (is_transient or http_status >= 500):
        cls = TransientGraphError
    reason = token_invalid_reason(subcode) if code == 190 else None
    user_title = _str_or_none(error.get("error_user_title"))
    user_msg = _str_or_none(error.get("error_user_msg"))
    return cls(
        _redact(str(error.get("message") or "Graph API error"), redact),
        code=code,
        subcode=subcode,
        error_type=_str_or_none(error.get("type")),
        fbtrace_id=_str_or_none(error.get("fbtrace_id")),
        http_status=http_status,
        is_transient=is_transient or issubclass(cls, TransientGraphError),
        user_title=_redact(user_title, redact) if user_title else None,
        user_msg=_redact(user_msg, redact) if user_msg else None,
        retry_after=retry_after,
        reason=reason,
    )


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class UserToken:
    access_token: str = field(repr=False)
    token_type: str
    expires_in: int | None


@dataclass(frozen=True, slots=True)
class PageAccount:
    id: str
    name: str
    access_token: str = field(repr=False)
    tasks: tuple[str, ...]
    category: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    app_id: str
    type: str
    is_valid: bool
    expires_at: datetime | None
    data_access_expires_at: datetime | None
    scopes: tuple[str, ...]
    user_id: str | None
    error_code: int | None
    error_subcode: int | None
    error_message: str | None


@dataclass(frozen=True, slots=True)
class Profile:
    first_name: str
    last_name: str
    profile_pic: str | None


@dataclass(frozen=True, slots=True)
class SendResult:
    # Facebook leaves recipient_id out when the recipient was named by user_ref.
    recipient_id: str | None
    message_id: str


def _recipient(psid: str | None, user_ref: str | None) -> dict[str, str]:
    """The Send API's recipient: a PSID, or a chat-plugin guest's ``user_ref`` (exactly one)."""
    if psid is not None and user_ref is None:
        return {"id": psid}
    if user_ref is not None and psid is None:
        return {"user_ref": user_ref}
    raise ValueError("name the recipient by exactly one of recipient_psid and recipient_user_ref")


def _timestamp(value: object) -> datetime | None:
    # Facebook uses 0 for "never expires".
    seconds = _int_or_none(value)
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds else None


def _page_account(item: dict[str, Any]) -> PageAccount:
    return PageAccount(
        id=str(item.get("id", "")),
        name=str(item.get("name", "")),
        access_token=str(item.get("access_token", "")),
        tasks=tuple(str(task) for task in item.get("tasks") or ()),
        category=str(item.get("category", "")),
    )


def _parse_retry_after(value: str | None) -> float | None:
    # Only the delay-seconds form: the HTTP-date form is not used by Graph or the sandbox.
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def dialog_url(
    *,
    dialog_base: str,
    version: str,
    app_id: str,
    redirect_uri: str,
    state: str,
    scopes: Sequence[str] = LOGIN_SCOPES,
) -> str:
    """The Facebook Login dialog URL the user is sent to for linking pages."""
    query = urlencode(
        {
            "client_id": app_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "scope": ",".join(scopes),
            "response_type": "code",
        },
        safe=",",  # keep the scope list readable, as Meta documents it
    )
    return f"{dialog_base.rstrip('/')}/{version}/dialog/oauth?{query}"


# --------------------------------------------------------------------------- client


class GraphClient:
    """Graph API calls over one ``requests.Session``; every call has a timeout.

    GETs are retried on retryable errors; POST and DELETE never are, since a send may
    have gone through and only the caller can tell (by its own idempotency key).
    """

    def __init__(
        self,
        *,
        base_url: str,
        app_id: str,
        app_secret: str,
        version: str = "v21.0",
        timeout: float = 10.0,
        session: requests.Session | None = None,
        max_get_retries: int = 2,
        backoff: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self._app_secret = app_secret
        self.version = version
        self.timeout = timeout
        self.session = session or requests.Session()
        self.max_get_retries = max_get_retries
        self.backoff = backoff
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"GraphClient(base_url={self.base_url!r}, app_id={self.app_id!r})"

    def close(self) -> None:
        self.session.close()

    # ---------------------------------------------------------------- OAuth

    def exchange_code(self, *, code: str, redirect_uri: str) -> UserToken:
        """Trade the login dialog's ``code`` for a (short-lived) user token."""
        params = {"client_id": self.app_id, "client_secret": self._app_secret}
        params |= {"redirect_uri": redirect_uri, "code": code}
        return self._user_token(self._get(self._url("oauth/access_token"), params))

    def exchange_long_lived(self, *, user_token: str) -> UserToken:
        """Trade a short-lived user token for a ~60-day one."""
        params = {"grant_type": "fb_exchange_token", "client_id": self.app_id}
        params |= {"client_secret": self._app_secret, "fb_exchange_token": user_token}
        return self._user_token(self._get(self._url("oauth/access_token"), params))

    def list_pages(self, *, user_token: str) -> list[PageAccount]:
        """The pages the user manages, with their page tokens, across all result pages."""
        pages: list[PageAccount] = []
        params = {"fields": PAGE_FIELDS, "access_token": user_token}
        payload = self._get(self._url("me/accounts"), params)
        for _ in range(MAX_PAGES):
            try:
                pages.extend(_page_account(item) for item in payload.get("data") or ())
                next_url = (payload.get("paging") or {}).get("next")
            except AttributeError:  # a malformed body still surfaces as a GraphError
                raise GraphError("/me/accounts answered a malformed body") from None
            if not next_url:
                return pages
            payload = self._get_next(str(next_url), user_token)
        raise GraphError(f"/me/accounts paging did not end after {MAX_PAGES} pages")

    def debug_token(self, *, input_token: str) -> TokenInfo:
        """Ask Facebook whether a token still works; an invalid token is data, not an error."""
        app_token = f"{self.app_id}|{self._app_secret}"
        params = {"input_token": input_token, "access_token": app_token}
        data = self._get(self._url("debug_token"), params).get("data")
        if not isinstance(data, dict):
            raise GraphError("debug_token answered without data")
        error = data.get("error")
        if not isinstance(error, dict):
            error = {}
        message = _str_or_none(error.get("message"))
        return TokenInfo(
            app_id=str(data.get("app_id", "")),
            type=str(data.get("type", "")),
            is_valid=data.get("is_valid") is True,
            expires_at=_timestamp(data.get("expires_at")),
            data_access_expires_at=_timestamp(data.get("data_access_expires_at")),
            scopes=tuple(str(scope) for scope in data.get("scopes") or ()),
            user_id=None if data.get("user_id") is None else str(data["user_id"]),
            error_code=_int_or_none(error.get("code")),
            error_subcode=_int_or_none(error.get("subcode")),
            error_message=message and _redact(message, (input_token, app_token)),
        )

    # ---------------------------------------------------------------- pages

    def subscribe_app(
        self,
        *,
        page_id: str,
        page_token: str,
        fields: Sequence[str] = SUBSCRIBED_FIELDS,
    ) -> None:
        """Subscribe the app to the page's webhook events (again, after Meta dropped it)."""
        params = {"subscribed_fields": ",".join(fields), "access_token": page_token}
        url = self._url(f"{page_id}/subscribed_apps")
        self._require_success(self._request("POST", url, params), "subscribe")

    def unsubscribe_app(self, *, page_id: str, page_token: str) -> None:
        url = self._url(f"{page_id}/subscribed_apps")
        payload = self._request("DELETE", url, {"access_token": page_token})
        self._require_success(payload, "unsubscribe")

    def get_profile(self, *, psid: str, page_token: str) -> Profile:
        """The customer's name and picture; raises ``NoProfileError`` when none is available."""
        params = {"fields": PROFILE_FIELDS, "access_token": page_token}
        payload = self._get(self._url(psid), params)
        return Profile(
            first_name=str(payload.get("first_name") or ""),
            last_name=str(payload.get("last_name") or ""),
            profile_pic=_str_or_none(payload.get("profile_pic")),
        )

    # ---------------------------------------------------------------- Send API

    def send_message(
        self,
        *,
        page_id: str,
        page_token: str,
        message: dict[str, Any],
        recipient_psid: str | None = None,
        recipient_user_ref: str | None = None,
        messaging_type: str = "RESPONSE",
        tag: str | None = None,
        metadata: str | None = None,
    ) -> SendResult:
        """Send one message to a PSID or to a chat-plugin guest's ``user_ref``. Put your own
        message id in ``metadata``: it comes back in the echo."""
        recipient = _recipient(recipient_psid, recipient_user_ref)
        if messaging_type not in MESSAGING_TYPES:
            raise ValueError(f"unknown messaging_type {messaging_type!r}")
        if messaging_type == "MESSAGE_TAG" and tag not in ALLOWED_MESSAGE_TAGS:
            raise ValueError(f"MESSAGE_TAG needs tag HUMAN_AGENT, not {tag!r}")
        if messaging_type != "MESSAGE_TAG" and tag is not None:
            raise ValueError("a tag is only sent with messaging_type MESSAGE_TAG")
        body: dict[str, Any] = {"recipient": recipient}
        body |= {"messaging_type": messaging_type, "message": message}
        body |= {k: v for k, v in (("tag", tag), ("metadata", metadata)) if v is not None}
        url = self._url(f"{page_id}/messages")
        payload = self._request("POST", url, {"access_token": page_token}, body)
        recipient_id = payload.get("recipient_id")
        message_id = payload.get("message_id")
        # By user_ref, Facebook answers with the message id only.
        if (recipient_id is None and recipient_user_ref is None) or not message_id:
            raise GraphError("Send API answered without recipient_id/message_id")
        return SendResult(recipient_id=None if recipient_id is None else str(recipient_id), message_id=str(message_id))

    def upload_attachment(
        self,
        *,
        page_id: str,
        page_token: str,
        attachment_type: str,
        file_name: str,
        content_type: str,
        content: IO[bytes] | bytes,
        is_reusable: bool = True,
    ) -> str:
        """Upload a file with the Attachment Upload API (``POST /{page-id}/message_attachments``,
        multipart: ``message`` JSON and the ``filedata`` part) and return its ``attachment_id``.

        The file travels in the request: Facebook never needs an address of ours to fetch it.
        Send it afterwards with ``{"attachment": {"type": ..., "payload": {"attachment_id": ...}}}``.
        Not retried here: an upload that timed out may have gone through, and only costs a
        second upload when the caller tries again.
        """
        if attachment_type not in UPLOAD_ATTACHMENT_TYPES:
            raise ValueError(f"unknown attachment type {attachment_type!r}")
        message = {"attachment": {"type": attachment_type, "payload": {"is_reusable": is_reusable}}}
        form = {"message": json.dumps(message, separators=(",", ":"))}
        files = {"filedata": (file_name, content, content_type)}
        url = self._url(f"{page_id}/message_attachments")
        payload = self._request("POST", url, {"access_token": page_token}, form_fields=form, files=files)
        attachment_id = payload.get("attachment_id")
        if not isinstance(attachment_id, (str, int)) or isinstance(attachment_id, bool) or not str(attachment_id):
            raise GraphError("Attachment Upload API answered without attachment_id")
        return str(attachment_id)

    def send_sender_action(
        self,
        *,
        page_id: str,
        page_token: str,
        action: str,
        recipient_psid: str | None = None,
        recipient_user_ref: str | None = None,
    ) -> None:
        recipient = _recipient(recipient_psid, recipient_user_ref)
        if action not in SENDER_ACTIONS:
            raise ValueError(f"unknown sender action {action!r}")
        body = {"recipient": recipient, "sender_action": action}
        url = self._url(f"{page_id}/messages")
        self._request("POST", url, {"access_token": page_token}, body)

    # ---------------------------------------------------------------- plumbing

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{self.version}/{path.lstrip('/')}"

    def _get_next(self, next_url: str, token: str) -> dict[str, Any]:
        # paging.next is absolute; following it elsewhere would hand a token to another host.
        ours, theirs = urlsplit(self.base_url), urlsplit(next_url)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise GraphError("refusing to follow paging.next to another host")
        # Facebook's next links carry the token already; add it only when missing.
        params = {} if "access_token=" in theirs.query else {"access_token": token}
        return self._get(next_url, params)

    def _get(self, url: str, params: dict[str, str]) -> dict[str, Any]:
        """A GET, retried with exponential backoff (or Retry-After) on retryable errors."""
        attempt = 0
        while True:
            try:
                return self._request("GET", url, params)
            except GraphError as exc:
                if not exc.retryable or attempt >= self.max_get_retries:
                    raise
                delay = exc.retry_after
                if delay is None:
                    delay = self.backoff * 2**attempt
                elif delay > MAX_INLINE_RETRY_AFTER:
                    raise
                attempt += 1
                path = urlsplit(url).path
                logger.debug("Graph GET %s retry %d in %.2fs", path, attempt, delay)
                self._sleep(delay)

    def _request(
        self,
        method: str,
        url: str,
        params: dict[str, str],
        json_body: dict[str, Any] | None = None,
        *,
        form_fields: dict[str, str] | None = None,
        files: dict[str, tuple[str, IO[bytes] | bytes, str]] | None = None,
    ) -> dict[str, Any]:
        path = urlsplit(url).path
        logger.debug("Graph %s %s", method, path)
        # requests' own messages quote the full URL, query string and tokens included, so
        # they are replaced and the chain cut (``from None``) to keep them out of tracebacks.
        try:
            response = self.session.request(
                method,
                url,
                params=params or None,
                json=json_body,
                data=form_fields,
                files=files,
                timeout=self.timeout,
            )
        except requests.Timeout:
            message = f"Graph {method} {path} timed out after {self.timeout}s"
            raise GraphTimeoutError(message, is_transient=True) from None
        except requests.ConnectionError as exc:
            message = f"Graph {method} {path} connection failed ({type(exc).__name__})"
            raise GraphConnectionError(message, is_transient=True) from None
        except requests.RequestException as exc:
            raise GraphError(f"Graph {method} {path} failed ({type(exc).__name__})") from None

        try:
            payload: object = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 400 or (isinstance(payload, dict) and "error" in payload):
            # Any token or secret this call carried is scrubbed from what Facebook echoed.
            query = [*params.items(), *parse_qsl(urlsplit(url).query)]
            secrets = [v for k, v in query if k in _SECRET_PARAMS] + [self._app_secret]
            retry_after = _parse_retry_after(response.headers.get("Retry-After"))
            raise error_from_response(response.status_code, payload, redact=secrets, retry_after=retry_after)
        if not isinstance(payload, dict):
            message = f"Graph {method} {path} answered a non-JSON body"
            raise GraphError(message, http_status=response.status_code)
        return payload

    @staticmethod
    def _user_token(payload: dict[str, Any]) -> UserToken:
        token = payload.get("access_token")
        if not isinstance(token, str) or not token:
            raise GraphError("token exchange answered without access_token")
        return UserToken(
            access_token=token,
            token_type=str(payload.get("token_type") or "bearer"),
            expires_in=_int_or_none(payload.get("expires_in")),
        )

    @staticmethod
    def _require_success(payload: dict[str, Any], action: str) -> None:
        if payload.get("success") is not True:
            raise GraphError(f"subscribed_apps {action} did not answer success")
