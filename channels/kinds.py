"""What the channels app asks of each kind of channel.

The channels app owns the channel itself (name, icon, department, enabled, deleted) but not
what a kind links to it: Messenger's Facebook Pages live in the messenger app, which sits
above channels. So channels describes the questions it needs answered in
`ChannelKindBackend` and each kind's app implements them; `settings.CHANNEL_KIND_BACKENDS`
names the implementation (as Django names its email or authentication backends), so this
app never imports the apps above it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from helpdesk.exceptions import NotFound

ChannelChange = Literal["disabled", "enabled", "deleted"]


@dataclass(frozen=True, slots=True)
class PageHealth:
    """Whether the kind's platform still delivers the page's events, as last seen."""

    last_event_at: datetime | None
    last_sent_at: datetime | None
    # "unknown", "subscribed", "resubscribed" or "dropped", with its words.
    subscription: str
    subscription_label: str
    subscription_checked_at: datetime | None
    resubscribed_at: datetime | None
    # Set while the page receives unusually nothing.
    silent_since: datetime | None


@dataclass(frozen=True, slots=True)
class LinkedPage:
    """One page (account) linked to a channel, as the settings pages and the API show it.

    Carries no secret: tokens stay inside the kind's app.
    """

    id: int
    channel_id: int
    external_id: str
    name: str
    status: str
    status_label: str
    reason: str
    reason_label: str
    authorized_at: datetime | None
    token_expires_at: datetime | None
    reauthorize_by: datetime | None
    unlinked_at: datetime | None
    health: PageHealth | None = None

    @property
    def is_linked(self) -> bool:
        return self.unlinked_at is None


@dataclass(frozen=True, slots=True)
class ReauthorizationAlert:
    """A linked page that cannot work until an admin authorizes it again (for the banner)."""

    channel_id: int
    channel_name: str
    page_name: str
    reason_label: str


class ChannelKindBackend(Protocol):
    def pages_by_channel(
        self, *, organization: Any, channel_ids: Iterable[int], include_removed: bool = False
    ) -> dict[int, list[LinkedPage]]:
        """The pages of these channels (one query), linked ones first."""
        ...

    def page_remove(self, *, organization: Any, acting_user: Any, channel: Any, page_pk: int) -> LinkedPage:
        """Unlink one page from the channel (its conversations stay)."""
        ...

    def channel_changed(self, *, organization: Any, acting_user: Any, channel: Any, change: ChannelChange) -> None:
        """Called inside the transaction that disabled, enabled or deleted the channel."""
        ...

    def channel_moved(self, *, organization: Any, acting_user: Any, channel: Any, from_department: Any) -> None:
        """Called inside the transaction that moved the channel to `channel.department`: what
        the kind files by department (Messenger's conversations) follows the channel."""
        ...

    def reauthorization_alerts(self, *, organization: Any, limit: int) -> tuple[int, list[ReauthorizationAlert]]:
        """How many linked pages need re-authorization, and the first `limit` of them."""
        ...

    def assignment_mode_changed(self, *, organization: Any, acting_user: Any, channel: Any) -> None:
        """Called inside the transaction that changed `channel.assignment_mode`: turned on,
        the kind's open unassigned conversations are to be assigned."""
        ...


class _NoPages:
    """For a kind that links nothing (and for a kind with no backend configured)."""

    def pages_by_channel(
        self, *, organization: Any, channel_ids: Iterable[int], include_removed: bool = False
    ) -> dict[int, list[LinkedPage]]:
        return {}

    def page_remove(self, *, organization: Any, acting_user: Any, channel: Any, page_pk: int) -> LinkedPage:
        raise NotFound

    def channel_changed(self, *, organization: Any, acting_user: Any, channel: Any, change: ChannelChange) -> None:
        return None

    def channel_moved(self, *, organization: Any, acting_user: Any, channel: Any, from_department: Any) -> None:
        return None

    def reauthorization_alerts(self, *, organization: Any, limit: int) -> tuple[int, list[ReauthorizationAlert]]:
        return 0, []

    def assignment_mode_changed(self, *, organization: Any, acting_user: Any, channel: Any) -> None:
        return None


@cache
def _load(path: str) -> ChannelKindBackend:
    return import_string(path)()


def backend_for(kind: str) -> ChannelKindBackend:
    path = getattr(settings, "CHANNEL_KIND_BACKENDS", {}).get(kind)
    return _load(path) if path else _NoPages()


def all_backends() -> list[ChannelKindBackend]:
    return [_load(path) for path in getattr(settings, "CHANNEL_KIND_BACKENDS", {}).values()]
