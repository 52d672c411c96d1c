"""Facebook Pages linked to Messenger channels.

- policy: when a page's authorization runs out (the 60-day policy and the token's expiry);
- authorization: the state machine of a page's authorization, the only writer of its status;
- notices: what the organization's admins are told about it;
- grants: what Facebook granted in one pass through Facebook Login;
- linking: linking, re-authorizing and removing pages;
- selectors: reading pages; kind: the Messenger kind of channel for the channels app;
- sweeps: the hourly token expiry sweep.

Page tokens are stored encrypted (messenger.crypto) and leave this package only towards the
Graph client: never in logs, messages, API responses or HTML.

The names below are what other modules ask of `messenger.pages`; they are loaded on first
use, so that messenger.client (which the linking and the sweep call) can import
messenger.pages.authorization without importing them back.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from messenger.pages.grants import PermissionsNotGranted, facebook_authorization_fetch
    from messenger.pages.linking import page_reauthorize, page_remove, pages_link
    from messenger.pages.selectors import linked_elsewhere, linked_page, page_get
    from messenger.pages.sweeps import SweepReport, token_expiry_sweep

_EXPORTS = {
    "PermissionsNotGranted": "grants",
    "facebook_authorization_fetch": "grants",
    "page_reauthorize": "linking",
    "page_remove": "linking",
    "pages_link": "linking",
    "linked_elsewhere": "selectors",
    "linked_page": "selectors",
    "page_get": "selectors",
    "SweepReport": "sweeps",
    "token_expiry_sweep": "sweeps",
}

__all__ = [
    "PermissionsNotGranted",
    "SweepReport",
    "facebook_authorization_fetch",
    "linked_elsewhere",
    "linked_page",
    "page_get",
    "page_reauthorize",
    "page_remove",
    "pages_link",
    "token_expiry_sweep",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
