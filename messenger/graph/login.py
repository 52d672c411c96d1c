"""Facebook Login, as the page-linking flow uses it: the login dialog, trading its code for
user tokens, the pages those tokens manage (with their page tokens), and asking Facebook
whether a token still works.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from messenger.graph.errors import GraphError
from messenger.graph.payloads import int_or_none, redacted, str_or_none
from messenger.graph.transport import GraphTransport

LOGIN_SCOPES: tuple[str, ...] = (
    "pages_show_list",
    "pages_messaging",
    "pages_manage_metadata",
    "pages_read_engagement",
)
PAGE_FIELDS = "id,name,access_token,tasks,category"
# /me/accounts paging is followed at most this far, in case a server loops its cursors.
MAX_PAGES = 50


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


class LoginCalls(GraphTransport):
    """The Graph calls of Facebook Login and of token inspection."""

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
        message = str_or_none(error.get("message"))
        return TokenInfo(
            app_id=str(data.get("app_id", "")),
            type=str(data.get("type", "")),
            is_valid=data.get("is_valid") is True,
            expires_at=_timestamp(data.get("expires_at")),
            data_access_expires_at=_timestamp(data.get("data_access_expires_at")),
            scopes=tuple(str(scope) for scope in data.get("scopes") or ()),
            user_id=None if data.get("user_id") is None else str(data["user_id"]),
            error_code=int_or_none(error.get("code")),
            error_subcode=int_or_none(error.get("subcode")),
            error_message=message and redacted(message, (input_token, app_token)),
        )

    @staticmethod
    def _user_token(payload: dict[str, Any]) -> UserToken:
        token = payload.get("access_token")
        if not isinstance(token, str) or not token:
            raise GraphError("token exchange answered without access_token")
        return UserToken(
            access_token=token,
            token_type=str(payload.get("token_type") or "bearer"),
            expires_in=int_or_none(payload.get("expires_in")),
        )


def _page_account(item: dict[str, Any]) -> PageAccount:
    return PageAccount(
        id=str(item.get("id", "")),
        name=str(item.get("name", "")),
        access_token=str(item.get("access_token", "")),
        tasks=tuple(str(task) for task in item.get("tasks") or ()),
        category=str(item.get("category", "")),
    )


def _timestamp(value: object) -> datetime | None:
    # Facebook uses 0 for "never expires".
    seconds = int_or_none(value)
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds else None
