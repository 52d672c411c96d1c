"""What Facebook granted in one pass through Facebook Login: the permissions and the pages
the admin manages, with their tokens (the OAuth views' fetch), and the checks a page token
passes before the helpdesk uses it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helpdesk.exceptions import HelpdeskError
from messenger import client
from messenger.graph import LOGIN_SCOPES, GraphError, PageAccount, TokenInfo

# What each permission is for, in the words an admin sees when Facebook did not grant it.
PERMISSION_PURPOSES = {
    "pages_show_list": gettext_lazy("list the Pages you manage"),
    "pages_messaging": gettext_lazy("send and receive Messenger messages"),
    "pages_manage_metadata": gettext_lazy("subscribe the helpdesk to the Page's messages"),
    "pages_read_engagement": gettext_lazy("read the Page's name and customers' public profiles"),
}


class PermissionsNotGranted(HelpdeskError):
    code = "permissions_not_granted"
    status = 400

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = list(missing)
        described = "; ".join(f"{scope} ({PERMISSION_PURPOSES.get(scope, scope)})" for scope in self.missing)
        super().__init__(
            _("Facebook did not grant the helpdesk every permission it needs. Missing: %(missing)s.")
            % {"missing": described},
            details={"missing_permissions": self.missing},
        )


class PageNotGranted(HelpdeskError):
    code = "page_not_granted"
    status = 400


@dataclass(frozen=True)
class FacebookAuthorization:
    """What one pass through Facebook Login gave: the pages the admin manages, with tokens."""

    pages: list[PageAccount] = field(repr=False)


def missing_permissions(info: TokenInfo) -> list[str]:
    granted = set(info.scopes)
    return [scope for scope in LOGIN_SCOPES if scope not in granted]


def facebook_authorization_fetch(*, code: str, redirect_uri: str) -> FacebookAuthorization:
    """Code → user token → long-lived user token → granted permissions → the user's pages.

    Raises PermissionsNotGranted naming what is missing, or GraphError.
    """
    graph = client.graph_client()
    short_lived = graph.exchange_code(code=code, redirect_uri=redirect_uri)
    long_lived = graph.exchange_long_lived(user_token=short_lived.access_token)
    info = graph.debug_token(input_token=long_lived.access_token)
    missing = missing_permissions(info)
    if missing or not info.is_valid:
        raise PermissionsNotGranted(missing or list(LOGIN_SCOPES))
    return FacebookAuthorization(pages=graph.list_pages(user_token=long_lived.access_token))


def token_checked(account: PageAccount) -> TokenInfo:
    """The page token's expiry and validity, straight after Facebook handed it out."""
    info = client.graph_client().debug_token(input_token=account.access_token)
    if not info.is_valid:
        raise GraphError(_("Facebook reports the new Page token as not valid."))
    missing = missing_permissions(info)
    if missing:
        raise PermissionsNotGranted(missing)
    return info
