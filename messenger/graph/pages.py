"""What the app does on a linked page with the page's token: subscribe to its webhook
events, and look up the profile of a customer who wrote to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from messenger.graph.errors import GraphError
from messenger.graph.payloads import str_or_none
from messenger.graph.transport import GraphTransport

SUBSCRIBED_FIELDS: tuple[str, ...] = (
    "messages",
    "message_echoes",
    "message_deliveries",
    "message_reads",
    "messaging_postbacks",
    "message_reactions",
    "message_edits",
)
PROFILE_FIELDS = "name,first_name,last_name,profile_pic"


@dataclass(frozen=True, slots=True)
class Profile:
    first_name: str
    last_name: str
    profile_pic: str | None
    # The whole name as Facebook writes it; some profiles give it without the parts.
    name: str = ""


@dataclass(frozen=True, slots=True)
class AppSubscription:
    """One app subscribed to a page, with the webhook fields it receives."""

    app_id: str
    fields: tuple[str, ...]


class PageCalls(GraphTransport):
    """The Graph calls made with a page token, outside the Send API."""

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

    def subscribed_apps(self, *, page_id: str, page_token: str) -> list[AppSubscription]:
        """``GET /{page-id}/subscribed_apps``: the apps Facebook delivers the page's events to."""
        payload = self._get(self._url(f"{page_id}/subscribed_apps"), {"access_token": page_token})
        apps = payload.get("data")
        if not isinstance(apps, list):
            raise GraphError("subscribed_apps did not answer a list")
        return [
            AppSubscription(
                app_id=str(app.get("id") or ""),
                fields=tuple(
                    str(field.get("name") if isinstance(field, dict) else field)
                    for field in app.get("subscribed_fields") or ()
                ),
            )
            for app in apps
            if isinstance(app, dict)
        ]

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
            profile_pic=str_or_none(payload.get("profile_pic")),
            name=str(payload.get("name") or ""),
        )

    @staticmethod
    def _require_success(payload: dict[str, Any], action: str) -> None:
        if payload.get("success") is not True:
            raise GraphError(f"subscribed_apps {action} did not answer success")
