# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""A channel's pages with their health in a real browser, in English and Japanese, on a desktop
and a phone: a healthy page, a page gone silent after its subscription was renewed, and a page
whose subscription Facebook dropped and whose token needs re-authorizing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from helpdesk.models import Membership
from messenger.models import PageStatus, ReauthorizationReason, SubscriptionState
from tests import factories
from tests.accessibility.test_axe import log_in
from tests.chromium import BROWSER_MARKS, chromium, new_page  # noqa: F401 (fixtures)
from tests.conftest import Tenant
from tests.screens import screens_checked, translated

pytestmark = BROWSER_MARKS


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _row(page: Any, name: str) -> Any:
    return page.locator("table tbody tr", has_text=name)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_an_admin_reads_each_pages_health_on_the_channel_page(
    chromium: Any, live_server: Any, tenant_a: Tenant, language: str
) -> None:
    Membership.objects.filter(pk=tenant_a.admin.pk).update(language=language)
    now = timezone.now()
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    factories.make_page(
        channel,
        name="Alpha Shop",
        page_id="1000000000000001",
        last_event_at=now - timedelta(minutes=4),
        last_sent_at=now - timedelta(minutes=20),
        subscription_state=SubscriptionState.SUBSCRIBED,
        subscription_checked_at=now - timedelta(hours=5),
    )
    factories.make_page(
        channel,
        name="Alpha Outlet — 夏のセール会場",
        page_id="1000000000000002",
        last_event_at=now - timedelta(hours=7),
        last_sent_at=now - timedelta(hours=8),
        subscription_state=SubscriptionState.RESUBSCRIBED,
        resubscribed_at=now - timedelta(days=1),
        silent_since=now - timedelta(minutes=30),
    )
    factories.make_page(
        channel,
        name="Alpha Careers",
        page_id="1000000000000003",
        status=PageStatus.REAUTHORIZATION_REQUIRED,
        reauthorization_reason=ReauthorizationReason.TOKEN_EXPIRED,
        subscription_state=SubscriptionState.DROPPED,
        last_event_at=now - timedelta(days=3),
    )
    factories.make_page(channel, name="Alpha New", page_id="1000000000000004")

    page = new_page(chromium, viewport={"width": 1440, "height": 900})
    log_in(page, live_server.url, tenant_a.admin)
    page.goto(f"{live_server.url}/o/alpha/settings/channels/{channel.pk}/")
    headers = page.locator("table thead th").all_inner_texts()
    assert translated(language, "Health") in [header.strip() for header in headers]

    def health(name: str) -> str:
        return " ".join(_row(page, name).locator(".hd-page-health").inner_text().split())

    def said(label: str, value: str) -> str:
        return f"{translated(language, label)}: {value}"

    healthy = health("Alpha Shop")
    assert said("Subscription", translated(language, "Subscribed")) in healthy
    assert translated(language, "Token") in healthy and translated(language, "Active") in healthy
    assert translated(language, "Silent: no events for an unusually long time") not in healthy

    silent = _row(page, "Alpha Outlet")
    assert silent.get_by_role("status").inner_text().strip() == translated(
        language, "Silent: no events for an unusually long time"
    )
    assert said("Subscription", translated(language, "Dropped by Facebook, subscribed again")) in health("Alpha Outlet")

    dropped = _row(page, "Alpha Careers")
    assert dropped.locator(".hd-page-health .text-danger").inner_text().strip() == translated(
        language, "Dropped by Facebook, not subscribed again yet"
    )
    assert translated(language, "Token expired") in dropped.inner_text()
    assert dropped.get_by_role(
        "link", name=translated(language, "Re-authorize %(page)s", page="Alpha Careers")
    ).is_visible()

    never = health("Alpha New")
    assert said("Subscription", translated(language, "Not checked yet")) in never
    assert said("Last event received", translated(language, "none yet")) in never

    screens_checked(page, f"channel-page-health-{language}")
