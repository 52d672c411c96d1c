"""Settings → Business hours and /api/v1/departments/<id>/business-hours/: a department's week,
holidays and out-of-hours reply, with errors that name the day."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from channels import hours, services
from channels.hours import Interval
from channels.models import BusinessHours, BusinessInterval, Holiday
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db

LIST_URL = "/o/alpha/settings/business-hours/"


def edit_url(tenant: Tenant) -> str:
    return f"/o/{tenant.organization.slug}/settings/business-hours/{tenant.department.pk}/"


def api_url(tenant: Tenant) -> str:
    return f"/api/v1/departments/{tenant.department.pk}/business-hours/"


@pytest.fixture
def admin(tenant_a: Tenant, client: Any) -> Any:
    client.force_login(tenant_a.admin.user)
    return client


def week_form(**changes: str) -> dict[str, str]:
    form = {f"day_{day}": "09:00-12:00, 13:00-18:00" for day in range(5)}
    form.update({"day_5": "", "day_6": "", "is_enabled": "on", "holidays": "", "out_of_hours_reply_en": ""})
    form.update({"out_of_hours_reply_ja": ""})
    form.update(changes)
    return form


# --- The settings page ------------------------------------------------------------------------------


def test_the_settings_navigation_links_to_business_hours_and_lists_the_departments(admin: Any) -> None:
    html = admin.get("/o/alpha/settings/tickets/").content.decode()
    assert f'href="{LIST_URL}"' in html
    listing = admin.get(LIST_URL).content.decode()
    assert "Support" in listing and "Not used: always open" in listing


def test_the_tickets_tab_says_business_hours_do_not_affect_the_idle_delay(admin: Any) -> None:
    html = admin.get("/o/alpha/settings/tickets/").content.decode()
    assert "Business hours do not affect this delay: it counts in wall-clock time" in html


def test_an_admin_saves_a_week_holidays_and_replies(admin: Any, tenant_a: Tenant) -> None:
    response = admin.post(
        edit_url(tenant_a),
        week_form(
            day_6="22:00-24:00",
            holidays="2026-12-31 New Year's Eve\n2027-01-01",
            out_of_hours_reply_en="We are closed.\r\nBack at 9.",
            out_of_hours_reply_ja="営業時間外です。",
        ),
    )
    assert response.status_code == 302
    schedule = hours.business_hours_schedule(department=tenant_a.department)
    assert schedule is not None and schedule.time_zone == "UTC"
    assert len(schedule.intervals) == 11 and Interval(6, 1320, 1440) in schedule.intervals
    assert schedule.holidays == {date(2026, 12, 31), date(2027, 1, 1)}
    stored = BusinessHours.objects.get()
    assert stored.out_of_hours_reply_en == "We are closed.\nBack at 9."
    page = admin.get(edit_url(tenant_a)).content.decode()
    assert 'value="09:00-12:00, 13:00-18:00"' in page
    assert "2026-12-31 New Year&#x27;s Eve" in page
    assert "In use" in admin.get(LIST_URL).content.decode()


def test_holidays_are_removed_by_leaving_their_line_out(admin: Any, tenant_a: Tenant) -> None:
    admin.post(edit_url(tenant_a), week_form(holidays="2026-12-31 New Year's Eve\n2027-01-01"))
    admin.post(edit_url(tenant_a), week_form(holidays="2027-01-01"))
    assert list(Holiday.objects.values_list("date", flat=True)) == [date(2027, 1, 1)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"day_1": "13:00-12:00"}, "Tuesday: 13:00–12:00 ends before it starts."),
        ({"day_2": "09:00-12:00, 11:00-13:00"}, "Wednesday: 09:00–12:00 and 11:00–13:00 overlap."),
        ({"day_3": "9am-5pm"}, "Thursday: “9am-5pm” is not a time range such as 09:00-18:00."),
        ({"holidays": "New Year"}, "Line 1: “New Year” does not start with a date such as 2026-12-31."),
        ({"holidays": "2027-01-01\n2027-01-01 again"}, "2027-01-01 is listed twice."),
        ({"out_of_hours_reply_en": "é" * 1601}, "A message can be at most 1,600 characters. 1601 of 1600 characters."),
    ],
)
def test_a_wrong_week_is_a_form_error_and_nothing_is_saved(
    admin: Any, tenant_a: Tenant, changes: dict[str, str], message: str
) -> None:
    response = admin.post(edit_url(tenant_a), week_form(**changes))
    assert response.status_code == 400
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert not BusinessHours.objects.exists() and not BusinessInterval.objects.exists()


def test_a_reply_of_exactly_the_limit_is_saved_with_its_line_breaks_counted_once(admin: Any, tenant_a: Tenant) -> None:
    text = "a\r\n" + "b" * 1598
    assert admin.post(edit_url(tenant_a), week_form(out_of_hours_reply_ja=text)).status_code == 302
    assert len(BusinessHours.objects.get().out_of_hours_reply_ja) == 1600


def test_the_errors_name_the_day_in_japanese_for_a_japanese_organization(admin: Any, tenant_a: Tenant) -> None:
    tenant_a.organization.language = "ja"
    tenant_a.organization.save(update_fields=["language"])
    response = admin.post(edit_url(tenant_a), week_form(day_1="13:00-12:00"))
    assert response.status_code == 400
    assert "火曜日" in response.content.decode()


def test_another_organizations_department_is_404(admin: Any, tenant_b: Tenant) -> None:
    assert admin.get(edit_url(tenant_b).replace("/o/bravo/", "/o/alpha/")).status_code == 404
    assert admin.post(edit_url(tenant_b).replace("/o/bravo/", "/o/alpha/"), week_form()).status_code == 404
    assert admin.get(edit_url(tenant_b)).status_code == 404
    assert not BusinessHours.objects.exists()


def test_agents_do_not_see_the_business_hours_settings(tenant_a: Tenant, client: Any) -> None:
    client.force_login(tenant_a.agent.user)
    assert client.get(LIST_URL).status_code in (403, 404)
    assert client.post(edit_url(tenant_a), week_form()).status_code in (403, 404)
    assert not BusinessHours.objects.exists()


# --- The API ----------------------------------------------------------------------------------------


def api_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "is_enabled": True,
        "intervals": [{"weekday": day, "start": "09:00", "end": "18:00"} for day in range(5)],
        "holidays": [{"date": "2026-12-31", "name": "New Year's Eve"}],
        "out_of_hours_reply_en": "We are closed.",
        "out_of_hours_reply_ja": "営業時間外です。",
    }
    body.update(changes)
    return body


def test_the_api_reads_and_replaces_a_departments_business_hours(tenant_a: Tenant) -> None:
    admin_api, agent_api = api_client_for(tenant_a.admin), api_client_for(tenant_a.agent)
    assert agent_api.get(api_url(tenant_a)).json() == {
        "department_id": tenant_a.department.pk,
        "time_zone": "UTC",
        "is_enabled": False,
        "intervals": [],
        "holidays": [],
        "out_of_hours_reply_en": "",
        "out_of_hours_reply_ja": "",
    }
    saved = admin_api.put(api_url(tenant_a), api_body(), format="json")
    assert saved.status_code == 200
    assert saved.json()["intervals"][0] == {"weekday": 0, "start": "09:00", "end": "18:00"}
    assert saved.json()["holidays"] == [{"date": "2026-12-31", "name": "New Year's Eve"}]
    assert hours.departments_with_business_hours() == {tenant_a.department.pk}
    assert agent_api.put(api_url(tenant_a), api_body(), format="json").status_code == 403


@pytest.mark.parametrize(
    ("changes", "code", "message"),
    [
        (
            {"intervals": [{"weekday": 1, "start": "13:00", "end": "12:00"}]},
            "invalid_schedule",
            "Tuesday: 13:00–12:00 ends before it starts.",
        ),
        (
            {
                "intervals": [
                    {"weekday": 4, "start": "09:00", "end": "12:00"},
                    {"weekday": 4, "start": "11:00", "end": "13:00"},
                ]
            },
            "invalid_schedule",
            "Friday: 09:00–12:00 and 11:00–13:00 overlap.",
        ),
        (
            {"intervals": [{"weekday": 0, "start": "09:00", "end": "25:00"}]},
            "invalid_schedule",
            "Monday: “09:00-25:00” is not a time range such as 09:00-18:00.",
        ),
        ({"intervals": [{"weekday": 7, "start": "09:00", "end": "10:00"}]}, "invalid_schedule", None),
        ({"out_of_hours_reply_ja": "あ" * 1601}, "message_too_long", "A message can be at most 1,600 characters."),
    ],
)
def test_the_api_refuses_a_wrong_week_with_a_stable_code(
    tenant_a: Tenant, changes: dict[str, Any], code: str, message: str | None
) -> None:
    refused = api_client_for(tenant_a.admin).put(api_url(tenant_a), api_body(**changes), format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == code
    if message is not None:
        assert refused.json()["error"]["message"] == message
    assert not BusinessHours.objects.exists()


def test_the_api_answers_404_for_another_organizations_department(tenant_a: Tenant, tenant_b: Tenant) -> None:
    admin_api = api_client_for(tenant_a.admin)
    assert admin_api.get(api_url(tenant_b)).status_code == 404
    assert admin_api.put(api_url(tenant_b), api_body(), format="json").status_code == 404
    assert not BusinessHours.objects.exists()


# --- Which departments use business hours -----------------------------------------------------------


def test_the_departments_with_business_hours_are_kept_and_forgotten_on_a_change(
    tenant_a: Tenant, django_assert_num_queries: Any
) -> None:
    assert hours.departments_with_business_hours() == frozenset()
    with django_assert_num_queries(0):
        assert hours.departments_with_business_hours() == frozenset()
    week = [Interval(0, 540, 1080)]
    services.business_hours_set(
        organization=tenant_a.organization,
        acting_user=None,
        department_id=tenant_a.department.pk,
        is_enabled=True,
        intervals=week,
        holidays=[],
        out_of_hours_reply_en="Closed.",
        out_of_hours_reply_ja="",
    )
    # The service forgets the process's copy on commit, which a test's transaction never reaches.
    hours.departments_with_business_hours_forget()
    assert hours.departments_with_business_hours() == {tenant_a.department.pk}
    services.business_hours_set(
        organization=tenant_a.organization,
        acting_user=None,
        department_id=tenant_a.department.pk,
        is_enabled=False,
        intervals=week,
        holidays=[],
        out_of_hours_reply_en="Closed.",
        out_of_hours_reply_ja="",
    )
    hours.departments_with_business_hours_forget()
    assert hours.departments_with_business_hours() == frozenset()
    assert hours.business_hours_schedule(department=tenant_a.department.pk) is None


def test_a_change_forgets_the_kept_departments_once_committed(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    assert hours.departments_with_business_hours() == frozenset()
    with django_capture_on_commit_callbacks(execute=True):
        services.business_hours_set(
            organization=tenant_a.organization,
            acting_user=None,
            department_id=tenant_a.department.pk,
            is_enabled=True,
            intervals=[],
            holidays=[],
            out_of_hours_reply_en="Closed.",
            out_of_hours_reply_ja="",
        )
    assert hours.departments_with_business_hours() == {tenant_a.department.pk}
