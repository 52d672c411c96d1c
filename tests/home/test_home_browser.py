"""The home page in a real browser: at a phone's width nothing overflows sideways, in both languages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from channels.models import Channel
from helpdesk.models import Role
from messenger.models import FacebookPage, PageStatus, ReauthorizationReason
from tests import factories
from tests.chromium import BROWSER_MARKS, chromium, new_page, screenshot  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = BROWSER_MARKS

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


def _busy_organization(tenant: Tenant) -> None:
    organization = tenant.organization
    channel = factories.make_channel(organization, tenant.department, name="A channel with a rather long name")
    factories.associate(tenant.agent, channel)
    page = factories.make_page(channel, name="Alpha Shop with a very long page name for a small screen")
    now = timezone.now()
    for n, hours in enumerate((2, 23, 30, 150)):
        contact = factories.make_contact(page, display_name=f"Customer with a long name number {n}")
        conversation = factories.make_conversation(page, contact, assignee=tenant.admin.user if n % 2 else None)
        factories.make_message(conversation, text="Where is my parcel? " * 10, sent_at=now - timedelta(hours=hours))
    FacebookPage.objects.filter(pk=page.pk).update(
        status=PageStatus.REAUTHORIZATION_REQUIRED, reauthorization_reason=ReauthorizationReason.TOKEN_EXPIRED
    )
    Channel.objects.filter(pk=channel.pk).update(is_enabled=False)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_home_page_does_not_overflow_at_a_phones_width(
    chromium: Any,  # noqa: F811
    live_server: Any,
    tenant_a: Tenant,
    language: str,
) -> None:
    tenant_a.organization.language = language
    tenant_a.organization.save(update_fields=["language"])
    _busy_organization(tenant_a)
    assert tenant_a.admin.role == Role.ADMIN
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = new_page(chromium, viewport=viewport)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "alpha-admin")
        page.fill("input[name=password]", factories.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/o/alpha/")
        assert page.locator("main h2").count() == 6
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, (name, overflow)
        screenshot(page, f"home-{language}-{name}")
        page.context.close()
