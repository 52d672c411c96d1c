"""The reader's language and time zone: who chooses them (member → organization → browser),
the organization's settings page, one date format per language, names in the reader's order."""

from __future__ import annotations

import importlib
import zoneinfo
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from helpdesk import datetimes
from helpdesk.exceptions import InvalidInput
from helpdesk.forms import InvitationSignupForm
from helpdesk.models import Membership, Notification, Organization
from helpdesk.names import person_name
from helpdesk.services import organization_update
from tests.conftest import Tenant
from tests.test_i18n import _project_files

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
AT = datetime(2026, 12, 6, 8, 20, tzinfo=UTC)  # 17:20 in Tokyo


# --- One format per language, in the reader's time zone ---------------------------------------


@pytest.mark.parametrize(
    ("language", "zone", "expected"),
    [
        ("en", "UTC", "6 Dec 2026, 08:20"),
        ("en", "Asia/Tokyo", "6 Dec 2026, 17:20"),
        ("ja", "Asia/Tokyo", "2026年12月6日 17:20"),
        ("ja", "America/Los_Angeles", "2026年12月6日 00:20"),
    ],
)
def test_an_absolute_time_has_one_unambiguous_format_per_language(language: str, zone: str, expected: str) -> None:
    with translation.override(language), timezone.override(zoneinfo.ZoneInfo(zone)):
        assert datetimes.datetime_text(AT) == expected


def test_dates_and_times_alone_follow_the_same_formats() -> None:
    with timezone.override(TOKYO):
        with translation.override("en"):
            assert (datetimes.date_text(AT), datetimes.time_text(AT)) == ("6 Dec 2026", "17:20")
        with translation.override("ja"):
            assert (datetimes.date_text(AT), datetimes.time_text(AT)) == ("2026年12月6日", "17:20")


@pytest.mark.parametrize(
    ("ago", "english", "japanese"),
    [
        (timedelta(seconds=20), "just now", "たった今"),
        (timedelta(minutes=5), "5 min ago", "5 分前"),
        (timedelta(hours=1), "1 hour ago", "1 時間前"),
        (timedelta(hours=3), "3 hours ago", "3 時間前"),
        (timedelta(days=4), "4 days ago", "4 日前"),
        (timedelta(days=30), "6 Nov 2026", "2026年11月6日"),
    ],
)
def test_a_relative_time_says_how_long_ago_then_the_date(ago: timedelta, english: str, japanese: str) -> None:
    with timezone.override(TOKYO):
        with translation.override("en"):
            assert datetimes.relative_text(AT - ago, now=AT) == english
        with translation.override("ja"):
            assert datetimes.relative_text(AT - ago, now=AT) == japanese


def test_yesterday_is_the_readers_yesterday() -> None:
    """33 hours before 17:20 on the 6th in Tokyo is the 5th there, the 4th in London."""
    earlier = AT - timedelta(hours=33)
    with translation.override("en"):
        with timezone.override(TOKYO):
            assert datetimes.relative_text(earlier, now=AT) == "yesterday"
        with timezone.override(zoneinfo.ZoneInfo("Europe/London")):
            assert datetimes.relative_text(earlier, now=AT) == "2 days ago"


def test_the_time_tag_writes_a_machine_time_and_the_absolute_time_as_title() -> None:
    template = Template('{% load datetimes %}{% time at %}|{% time at "relative" %}|{{ at|date_text }}|{% time none %}')
    with timezone.override(TOKYO), translation.override("ja"):
        rendered = template.render(Context({"at": AT, "none": None}))
    absolute, relative, day, empty = rendered.split("|")
    assert absolute == '<time datetime="2026-12-06T17:20:00+09:00">2026年12月6日 17:20</time>'
    assert relative.startswith('<time datetime="2026-12-06T17:20:00+09:00" title="2026年12月6日 17:20">')
    assert (day, empty) == ("2026年12月6日", "")


def test_a_day_label_names_today_and_yesterday() -> None:
    today = date(2026, 12, 6)
    with translation.override("ja"):
        assert [datetimes.day_label(today - timedelta(days=n), today=today) for n in (0, 1, 2)] == [
            "今日",
            "昨日",
            "2026年12月4日",
        ]


def test_no_template_shows_a_time_with_the_date_filter() -> None:
    """Times are shown through helpdesk.datetimes only (its tags), in one place."""
    offenders = [
        str(path)
        for path in _project_files("templates/**/*.html")
        if "|date:" in path.read_text(encoding="utf-8") or "|time:" in path.read_text(encoding="utf-8")
    ]
    assert not offenders


# --- Organization settings ------------------------------------------------------------------------


def test_an_admin_changes_the_organizations_name_language_and_time_zone(tenant_a: Tenant, client: Any) -> None:
    client.force_login(tenant_a.admin.user)
    assert client.get("/o/alpha/settings/organization/").status_code == 200
    response = client.post(
        "/o/alpha/settings/organization/", {"name": "Alpha KK", "language": "ja", "time_zone": "Asia/Tokyo"}
    )
    assert response.status_code == 302
    organization = Organization.objects.get(pk=tenant_a.organization.pk)
    assert (organization.name, organization.language, organization.time_zone) == ("Alpha KK", "ja", "Asia/Tokyo")
    # The next page already speaks Japanese.
    page = client.get(response["Location"]).content.decode()
    assert "組織の設定を保存しました。" in page and '<html lang="ja">' in page


@pytest.mark.parametrize("time_zone", ["Mars/Olympus_Mons", "", "localtime", "../etc/passwd"])
def test_an_unknown_time_zone_is_refused(tenant_a: Tenant, client: Any, time_zone: str) -> None:
    client.force_login(tenant_a.admin.user)
    response = client.post(
        "/o/alpha/settings/organization/", {"name": "Alpha", "language": "en", "time_zone": time_zone}
    )
    assert response.status_code == 200
    assert 'id="id_time_zone_errors"' in response.content.decode()
    assert Organization.objects.get(pk=tenant_a.organization.pk).time_zone == "UTC"


def test_the_service_refuses_an_unknown_time_zone_and_language(tenant_a: Tenant) -> None:
    for language, time_zone in (("en", "Nowhere/City"), ("fr", "UTC")):
        with pytest.raises(InvalidInput):
            organization_update(
                organization=tenant_a.organization,
                acting_user=tenant_a.admin.user,
                name="Alpha",
                language=language,
                time_zone=time_zone,
            )


def test_an_agent_cannot_change_the_organization(tenant_a: Tenant, client: Any) -> None:
    client.force_login(tenant_a.agent.user)
    assert client.get("/o/alpha/settings/organization/").status_code == 403
    response = client.post("/o/alpha/settings/organization/", {"name": "X", "language": "ja", "time_zone": "UTC"})
    assert response.status_code == 403
    assert Organization.objects.get(pk=tenant_a.organization.pk).name == "Alpha"


def test_another_organizations_admin_gets_404(tenant_a: Tenant, tenant_b: Tenant, client: Any) -> None:
    client.force_login(tenant_b.admin.user)
    assert client.get("/o/alpha/settings/organization/").status_code == 404
    response = client.post("/o/alpha/settings/organization/", {"name": "X", "language": "ja", "time_zone": "UTC"})
    assert response.status_code == 404


# --- Who chooses: member → organization → browser -----------------------------------------------


def test_a_member_sets_their_own_language_and_time_zone(tenant_a: Tenant, client: Any) -> None:
    client.force_login(tenant_a.agent.user)
    response = client.post("/o/alpha/preferences/", {"language": "ja", "time_zone": "Asia/Tokyo"})
    assert response.status_code == 302
    membership = Membership.objects.get(pk=tenant_a.agent.pk)
    assert (membership.language, membership.time_zone) == ("ja", "Asia/Tokyo")
    # The confirmation already speaks the chosen language.
    assert "個人設定を保存しました。" in client.get(response["Location"]).content.decode()
    bad = client.post("/o/alpha/preferences/", {"language": "", "time_zone": "Atlantis"})
    assert bad.status_code == 200 and Membership.objects.get(pk=tenant_a.agent.pk).time_zone == "Asia/Tokyo"


def test_the_members_time_zone_wins_over_the_organizations(tenant_a: Tenant, client: Any) -> None:
    Notification.objects.create(
        organization=tenant_a.organization, user=tenant_a.agent.user, kind="new_conversation", title="Hello"
    )
    Notification.objects.update(created_at=datetime(2024, 3, 1, 15, 30, tzinfo=UTC))
    tenant_a.agent.time_zone = "Asia/Tokyo"
    tenant_a.agent.save(update_fields=["time_zone"])
    client.force_login(tenant_a.agent.user)
    page = client.get("/o/alpha/notifications/").content.decode()
    assert 'title="2 Mar 2024, 00:30"' in page


def test_blank_choices_follow_the_organization(tenant_a: Tenant, client: Any) -> None:
    tenant_a.organization.language = "ja"
    tenant_a.organization.save(update_fields=["language"])
    client.force_login(tenant_a.agent.user)
    page = client.get("/o/alpha/inbox/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="ja">' in page


def test_a_signed_in_members_page_outside_the_organization_speaks_their_language(tenant_a: Tenant, client: Any) -> None:
    tenant_a.agent.language = "ja"
    tenant_a.agent.save(update_fields=["language"])
    client.force_login(tenant_a.agent.user)
    page = client.get("/organizations/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="ja">' in page


def test_an_anonymous_page_follows_the_browser(db: Any, client: Any) -> None:
    assert '<html lang="ja">' in client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert '<html lang="en">' in client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


# --- Names ------------------------------------------------------------------------------------------


def test_a_name_is_in_the_readers_order() -> None:
    assert person_name("Aiko", "Tanaka", language="en") == "Aiko Tanaka"
    assert person_name("Aiko", "Tanaka", language="ja") == "Tanaka Aiko"
    # Written in Japanese script: family name first for every reader.
    assert person_name("愛子", "田中", language="en") == "田中 愛子"
    assert person_name("Aiko", "", language="ja") == "Aiko"


def test_the_invitation_form_asks_the_family_name_first_in_japanese() -> None:
    with translation.override("ja"):
        assert [field.name for field in InvitationSignupForm().name_fields] == ["last_name", "first_name"]
    with translation.override("en"):
        assert [field.name for field in InvitationSignupForm().name_fields] == ["first_name", "last_name"]


def test_the_members_list_shows_names_in_the_readers_order(tenant_a: Tenant, client: Any) -> None:
    user = tenant_a.agent.user
    user.first_name, user.last_name = "Aiko", "Tanaka"
    user.save(update_fields=["first_name", "last_name"])
    tenant_a.admin.language = "ja"
    tenant_a.admin.save(update_fields=["language"])
    client.force_login(tenant_a.admin.user)
    assert "Tanaka Aiko" in client.get("/o/alpha/settings/members/").content.decode()


# --- The data migration of stored notifications ----------------------------------------------------

migration = importlib.import_module("helpdesk.migrations.0004_notification_params_member_time_zone")


def test_old_notifications_get_their_parameters_back_in_either_language() -> None:
    assert migration.params_of("new_conversation", "New conversation with Aiko Tanaka", "Hello", "x") == {
        "contact": "Aiko Tanaka",
        "preview": "Hello",
    }
    assert migration.params_of("new_conversation", "Aiko Tanaka との新しい会話", "", "") == {
        "contact": "Aiko Tanaka",
        "preview": "",
    }
    assert migration.params_of(
        "page_reauthorization",
        "Facebook ページ「Shop」の再認証が必要です",
        "理由：権限の取り消し。管理者が再認証するまで、このページではメッセージを送受信できません。",
        "page-reauthorization:3:1.0",
    ) == {"page": "Shop", "reason": "permissions_revoked"}
    deadline = datetime(2026, 12, 6, 8, 20, tzinfo=UTC)
    assert migration.params_of(
        "token_expiring",
        "Facebook Page “Shop” must be re-authorized by Dec. 6, 2026, 8:20 a.m.",
        "",
        f"page-expiring:3:{deadline.timestamp():.6f}",
    ) == {"page": "Shop", "deadline": deadline.isoformat()}


def test_old_notifications_that_cannot_be_read_back_keep_their_words() -> None:
    assert migration.params_of("new_conversation", "Something else entirely", "", "") is None
    assert migration.params_of("page_reauthorization", "Facebook Page “Shop” needs re-authorization", "?", "") is None
    assert migration.params_of("token_expiring", "Facebook Page “Shop” must be re-authorized by soon", "", "") is None
