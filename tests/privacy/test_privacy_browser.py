# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""A customer's data page and Settings → Audit log in a real browser, in English and Japanese,
on a desktop and a phone: an admin exports a customer's data, is asked to confirm before it is
erased, and finds both, and a renamed department, in the audit log; an agent may do neither."""

from __future__ import annotations

import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django.utils.text import capfirst

from contacts.models import ContactNote
from helpdesk.models import Department, Membership
from messenger.models import Contact, Message
from privacy.models import AuditEntry
from tests import factories
from tests.accessibility.test_axe import log_in
from tests.chromium import BROWSER_MARKS, chromium, new_page  # noqa: F401 (fixtures)
from tests.conftest import Tenant
from tests.screens import screens_checked, translated

pytestmark = BROWSER_MARKS

AUDIT_LOG = "/o/alpha/settings/audit-log/"
CUSTOMER_WORDS = "注文番号は A-1234 です。住所は東京都港区"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def customer(tenant_a: Tenant) -> Contact:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel, name="Alpha Shop")
    contact = factories.make_contact(
        page, display_name="山田 花子", first_name="花子", last_name="山田", psid="7000000000000001"
    )
    conversation = factories.make_conversation(page, contact)
    factories.make_message(conversation, text=CUSTOMER_WORDS, sent_at=timezone.now() - timedelta(hours=2))
    factories.make_message(conversation, text="Thank you, we are checking.", direction="out")
    ContactNote.objects.create(
        organization=tenant_a.organization, contact=contact, author=tenant_a.admin.user, text="Calls in the evening"
    )
    return contact


def _audit_rows(page: Any) -> list[str]:
    return [" ".join(text.split()) for text in page.locator("main table tbody tr").all_inner_texts()]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_an_admin_exports_and_erases_a_customers_data_and_finds_it_in_the_audit_log(
    chromium: Any, live_server: Any, tenant_a: Tenant, customer: Contact, language: str, tmp_path: Path
) -> None:
    Membership.objects.filter(pk=tenant_a.admin.pk).update(language=language)
    page = new_page(chromium, viewport={"width": 1440, "height": 900})
    log_in(page, live_server.url, tenant_a.admin)

    # From the contact's page to the customer's data.
    page.goto(f"{live_server.url}/o/alpha/contacts/{customer.pk}/")
    page.get_by_role("link", name=translated(language, "Export or erase the customer's data")).click()
    page.wait_for_url(f"**/contacts/{customer.pk}/data/")
    assert page.locator("h1").inner_text() == translated(language, "Customer's data")
    # A contact's page, not a setting: the way back to the contact, no settings menu.
    breadcrumb = page.get_by_role("navigation", name=translated(language, "Breadcrumb"))
    assert breadcrumb.get_by_role("link", name="山田 花子").get_attribute("href") == f"/o/alpha/contacts/{customer.pk}/"
    assert page.get_by_role("navigation", name=translated(language, "Settings")).count() == 0
    assert "山田 花子" in page.inner_text("main") and "7000000000000001" in page.inner_text("main")
    screens_checked(page, f"privacy-contact-data-{language}")

    # Export: a zip with the customer's words.
    with page.expect_download() as download_info:
        page.get_by_role("button", name=translated(language, "Export the data")).click()
    download = download_info.value
    assert download.suggested_filename == f"contact-{customer.pk}.zip"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        exported = json.loads(archive.read("contact.json"))
    assert CUSTOMER_WORDS in json.dumps(exported, ensure_ascii=False)

    # Erasing without confirming it erases nothing and says what is missing.
    page.get_by_role("button", name=translated(language, "Erase the customer's data")).click()
    page.wait_for_selector("main .alert-danger")
    assert translated(language, "Confirm the erasure: tick the box or type the contact's name.") in (
        page.inner_text("main .alert-danger")
    )
    assert Message.objects.filter(text=CUSTOMER_WORDS).count() == 1
    screens_checked(page, f"privacy-contact-data-unconfirmed-{language}")
    # A name that is not the contact's is no confirmation either.
    page.fill("#erase-name", "山田")
    with page.expect_navigation():
        page.get_by_role("button", name=translated(language, "Erase the customer's data")).click()
    assert page.locator("main .alert-danger").count() == 1
    assert Message.objects.filter(text=CUSTOMER_WORDS).count() == 1

    # The name typed as shown confirms it.
    page.fill("#erase-name", "山田 花子")
    page.get_by_role("button", name=translated(language, "Erase the customer's data")).click()
    page.wait_for_selector(
        "#toasts >> text="
        + translated(
            language, "The contact's data was erased: %(messages)s message(s), %(files)s file(s).", messages=2, files=0
        )
    )
    assert not Message.objects.filter(text=CUSTOMER_WORDS).exists()
    assert not ContactNote.objects.exists()
    assert "山田 花子" not in page.inner_text("main")
    screens_checked(page, f"privacy-contact-data-erased-{language}")

    # Settings → Audit log: the erasure and the export, newest first, by the admin; the
    # customer named by number only.
    page.get_by_role("navigation", name=translated(language, "Main navigation")).get_by_role(
        "link", name=translated(language, "Settings")
    ).click()
    page.get_by_role("link", name=translated(language, "Audit log")).click()
    page.wait_for_url(f"**{AUDIT_LOG}")
    rows = _audit_rows(page)
    assert translated(language, "Erased a contact's data") in rows[0] and "alpha-admin" in rows[0]
    assert translated(language, "Exported a contact's data") in rows[1] and "alpha-admin" in rows[1]
    assert all("山田" not in row for row in rows)
    assert "127.0.0.1" in rows[0]
    # What the fixtures made reads as values in words, not as Python: a member's departments
    # as added, a made channel by its fields' names, nothing of its reverse relations.
    departments = f"{translated(language, 'Departments')}: {translated(language, 'added %(names)s', names='Support')}"
    assert any("alpha-agent" in row and departments in row for row in rows)
    made = f"{translated(language, 'Created', context='audit action')} {translated(language, 'Channel')}: Web shop"
    channel = next(row for row in rows if made in row)
    assert f"{capfirst(translated(language, 'enabled'))}: {translated(language, 'Yes')}" in channel
    assert "is_enabled" not in channel and "None" not in channel and "tickets" not in channel
    screens_checked(page, f"privacy-audit-log-{language}")

    # A change in the settings is listed with its old and new values.
    page.get_by_role("link", name=translated(language, "Departments")).click()
    page.fill(f"#dept-{tenant_a.department.pk}", "カスタマーサポート")
    page.get_by_role("button", name=translated(language, "Rename")).click()
    page.wait_for_load_state("networkidle")
    assert Department.objects.get(pk=tenant_a.department.pk).name == "カスタマーサポート"
    page.goto(f"{live_server.url}{AUDIT_LOG}")
    page.fill("#audit-q", "カスタマー")
    page.get_by_role("button", name=translated(language, "Search"), exact=True).click()
    page.wait_for_url("**/audit-log/?q=*")
    [renamed] = _audit_rows(page)
    assert translated(language, "Changed", context="audit action") in renamed and "alpha-admin" in renamed
    assert f"{capfirst(translated(language, 'name'))}: Support → カスタマーサポート" in renamed
    screens_checked(page, f"privacy-audit-log-search-{language}")

    # Dates before today find nothing.
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    page.goto(f"{live_server.url}{AUDIT_LOG}?date_to={yesterday}")
    assert translated(language, "No entries.") in page.inner_text("main table")
    assert AuditEntry.objects.filter(organization=tenant_a.organization).count() > 3


@pytest.mark.parametrize("language", ["en", "ja"])
def test_an_agent_sees_that_only_admins_act_on_a_customers_data(
    chromium: Any, live_server: Any, tenant_a: Tenant, customer: Contact, language: str
) -> None:
    Membership.objects.filter(pk=tenant_a.agent.pk).update(language=language)
    page = new_page(chromium, viewport={"width": 1440, "height": 900})
    log_in(page, live_server.url, tenant_a.agent)
    page.goto(f"{live_server.url}/o/alpha/contacts/{customer.pk}/data/")
    assert translated(language, "Only admins can export or erase a customer's data.") in page.inner_text("main")
    assert page.get_by_role("button", name=translated(language, "Export the data")).count() == 0
    assert page.get_by_role("button", name=translated(language, "Erase the customer's data")).count() == 0
    # The way back to the contact; no audit log for an agent.
    breadcrumb = page.get_by_role("navigation", name=translated(language, "Breadcrumb"))
    assert breadcrumb.get_by_role("link", name="山田 花子").count() == 1
    screens_checked(page, f"privacy-contact-data-agent-{language}")
    assert page.goto(f"{live_server.url}{AUDIT_LOG}").status == 403
    assert Message.objects.filter(text=CUSTOMER_WORDS).count() == 1
