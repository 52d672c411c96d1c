"""Facebook people and the pages they administer, as the sandbox's Python API makes them
(for tests, ``seed_demo`` and the controls page), and their tokens without the OAuth dance::

    user = sandbox_user_create(name="Ann")                      # all LOGIN_SCOPES granted
    page = sandbox_page_create(user=user, name="Ann's shop")    # page_id generated
    token = sandbox_page_token_issue(page_id=page.page_id)      # long-lived, no OAuth dance

Page ids are strings, as on Facebook's wire.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from messenger.graph import LOGIN_SCOPES
from messenger.sandbox.models import SandboxPage, SandboxUser, TokenKind
from messenger.sandbox.tokens import LONG_LIVED_SECONDS, SHORT_LIVED_SECONDS, token_issue

ALL_PERMISSIONS: tuple[str, ...] = LOGIN_SCOPES
# What the dialog accepts in ``scope`` (anything else is refused as Facebook does).
KNOWN_PERMISSIONS: tuple[str, ...] = (
    *LOGIN_SCOPES,
    "business_management",
    "pages_read_user_content",
    "pages_manage_posts",
    "public_profile",
    "email",
)


def new_facebook_id(digits: int) -> str:
    """A random id of ``digits`` digits, shaped like Facebook's (no leading zero)."""
    return str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(digits - 1))


def sandbox_user_create(
    *, name: str, permissions: Sequence[str] = ALL_PERMISSIONS, facebook_id: str | None = None
) -> SandboxUser:
    """A Facebook person who has already granted the app ``permissions`` (none: not installed)."""
    return SandboxUser.objects.create(
        facebook_id=facebook_id or new_facebook_id(15),
        name=name,
        granted_permissions=list(dict.fromkeys(permissions)),
        app_installed=bool(permissions),
    )


def sandbox_page_create(
    *, user: SandboxUser, name: str, page_id: str | None = None, category: str = "Business"
) -> SandboxPage:
    """A page ``user`` administers (all tasks, MESSAGING included)."""
    return SandboxPage.objects.create(page_id=page_id or new_facebook_id(15), name=name, category=category, owner=user)


def sandbox_page_token_issue(*, page_id: str) -> str:
    """A valid long-lived page token for the page's owner, as if linked through OAuth.

    It never expires by itself; it dies like any other (expire, password, app removal).
    """
    page = SandboxPage.objects.select_related("owner").get(page_id=page_id)
    _token, raw = token_issue(kind=TokenKind.PAGE, user=page.owner, page=page)
    return raw


def sandbox_user_token_issue(*, user: SandboxUser, long_lived: bool = True) -> str:
    """A user token without the dialog (for tests of ``/me/accounts`` and ``debug_token``)."""
    kind, lifetime = (
        (TokenKind.USER_LONG, LONG_LIVED_SECONDS) if long_lived else (TokenKind.USER_SHORT, SHORT_LIVED_SECONDS)
    )
    _token, raw = token_issue(kind=kind, user=user, lifetime_seconds=lifetime)
    return raw
