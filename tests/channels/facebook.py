"""The Graph API sandbox served by `live_server`, with the product pointed at it, and an
admin's browser that walks the Facebook Login flow. Import the fixtures into a test module:

    from tests.channels.facebook import facebook, admin_browser  # noqa: F401
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from helpdesk.models import Role
from messenger.client import graph_client
from messenger.sandbox.bootstrap import sandbox_bootstrap
from messenger.sandbox.models import SandboxUser
from tests import factories
from tests.channels.browser import Browser

DEMO_PAGE, SECOND_PAGE, THIRD_PAGE = "100000000000101", "100000000000102", "100000000000103"


@dataclass
class Facebook:
    url: str
    user: SandboxUser


@pytest.fixture
def facebook(live_server: Any, settings: Any) -> Iterator[Facebook]:
    """The sandbox over real HTTP: FB_GRAPH_URL, FB_DIALOG_URL and PUBLIC_URL point at it,
    and its webhooks (customer simulator, echoes, deliveries) go to the product's webhook."""
    settings.PUBLIC_URL = live_server.url
    settings.FB_GRAPH_URL = f"{live_server.url}/sandbox/graph"
    settings.FB_DIALOG_URL = f"{live_server.url}/sandbox/dialog"
    settings.SANDBOX_WEBHOOK_URL = f"{live_server.url}/webhooks/messenger/"
    settings.ALLOWED_HOSTS = ["*"]
    yield Facebook(url=live_server.url, user=sandbox_bootstrap())
    # The live server outlives the test: leave no kept-alive connection to it behind.
    graph_client().close()


@dataclass
class AdminBrowser:
    browser: Browser
    tenant: Any

    @property
    def slug(self) -> str:
        return self.tenant.organization.slug

    def settings_path(self, rest: str) -> str:
        return f"/o/{self.slug}/settings/{rest}"

    def start_link(self, channel_id: int) -> requests.Response:
        """ "Add Facebook Page" on the channel's page: returns Facebook's dialog."""
        edit = self.browser.get(self.settings_path(f"channels/{channel_id}/"))
        link = re.search(r'href="([^"]+/pages/link/)"', edit.text)
        assert link, "no Add Facebook Page link"
        dialog = self.browser.get(link.group(1))
        assert "/sandbox/dialog/" in dialog.url, dialog.url
        return dialog

    def start_reauthorize(self, channel_id: int, page_pk: int) -> requests.Response:
        edit = self.browser.get(self.settings_path(f"channels/{channel_id}/"))
        link = re.search(rf'href="([^"]+/messenger/pages/{page_pk}/reauthorize/)"', edit.text)
        assert link, "no Re-authorize link"
        return self.browser.get(link.group(1))

    def grant(
        self, dialog: requests.Response, *, decline: tuple[str, ...] = (), as_user: str | None = None
    ) -> requests.Response:
        """Continue in Facebook's dialog (unticking `decline`); lands back in the helpdesk."""
        extra = {"user": as_user} if as_user else None
        return self.browser.submit(
            dialog,
            having="permissions",
            button="Continue",
            untick=tuple(("permissions", scope) for scope in decline),
            set=extra,
        )

    def cancel(self, dialog: requests.Response) -> requests.Response:
        return self.browser.submit(dialog, having="permissions", button="Cancel")

    def choose(self, picker: requests.Response, *page_ids: str) -> requests.Response:
        assert "/messenger/oauth/choose/" in picker.url, picker.url
        return self.browser.submit(picker, having="pick", set={"pages": list(page_ids)}, button="Link the chosen Pages")

    def link(self, channel_id: int, *page_ids: str) -> requests.Response:
        return self.choose(self.grant(self.start_link(channel_id)), *page_ids)


@pytest.fixture
def admin_browser(facebook: Facebook, tenant_a: Any) -> Iterator[AdminBrowser]:
    with Browser(facebook.url) as browser:
        browser.login(tenant_a.admin.user.username, factories.PASSWORD)
        yield AdminBrowser(browser=browser, tenant=tenant_a)


def alerts(response: requests.Response) -> list[str]:
    """The texts of the page's flash messages (toasts: alerts and statuses), whitespace collapsed."""
    found = re.findall(r'<div class="alert[^"]*"[^>]*role="(?:alert|status)">(.*?)</div>', response.text, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", text).split()) for text in found]


def second_admin_of(organization: Any) -> Any:
    return factories.make_member(organization, role=Role.ADMIN, email="second-admin@example.test")
