"""The reports' pages, their CSV and the API: tenancy, bad periods, query counts."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reports import selectors
from tests.conftest import Tenant, api_client_for
from tests.reports.conftest import Dataset

MARCH = {"start": "2026-03-01", "end": "2026-03-31"}
# Every page's own (session, user, member, the nav's badges: 7) and the report's three.
PAGE_QUERIES = 10


def _url(tenant: Tenant, name: str = "conversations", suffix: str = "") -> str:
    return f"/o/{tenant.organization.slug}/reports/{name}/{suffix}"


@pytest.mark.parametrize("name", list(selectors.REPORTS))
def test_every_report_page_shows_its_chart_and_table(dataset: Dataset, web_client_for: Any, name: str) -> None:
    response = web_client_for(dataset.tenant.admin).get(_url(dataset.tenant, name), MARCH)

    assert response.status_code == 200
    if name in {"conversations", "response-times", "sla"}:
        body = response.content.decode()
        assert '<svg class="hd-chart" role="img"' in body
        assert "<title id=" in body and "<desc id=" in body
        assert "<table" in body


def test_the_conversations_page_shows_the_hand_computed_figures(dataset: Dataset, web_client_for: Any) -> None:
    response = web_client_for(dataset.tenant.admin).get(_url(dataset.tenant), {**MARCH, "group": "channel"})

    # "Lost" is what the window-alerts job recorded (run at the dataset's NOW): c6's window has
    # closed since, but no run has kept it as lost yet.
    assert response.context["rows"] == [("Front", ["5", "4", "1", "2"]), ("Back", ["1", "0", "1", "0"])]


def test_the_response_times_page_writes_durations(dataset: Dataset, web_client_for: Any) -> None:
    response = web_client_for(dataset.tenant.admin).get(
        _url(dataset.tenant, "response-times"), {**MARCH, "group": "week"}
    )

    (label, values), _ = response.context["rows"]
    assert label == "2026-03-02"
    assert values == ["4", "3 min 30 s", "8 min 30 s", "2", "1 h 30 min", "1 h 54 min"]


def test_the_page_is_in_japanese_for_a_japanese_organization(dataset: Dataset, web_client_for: Any) -> None:
    organization = dataset.tenant.organization
    organization.language = "ja"
    organization.save(update_fields=["language"])

    response = web_client_for(dataset.tenant.admin).get(
        _url(dataset.tenant, "response-times"), {**MARCH, "group": "week"}
    )

    body = response.content.decode()
    assert "レポート" in body
    assert "3 分 30 秒" in body


@pytest.mark.parametrize(
    "period", [{"start": "2026-03-31", "end": "2026-03-01"}, {"start": "2024-01-01", "end": "2026-03-01"}]
)
def test_a_bad_period_is_a_form_error(dataset: Dataset, web_client_for: Any, period: dict[str, str]) -> None:
    response = web_client_for(dataset.tenant.admin).get(_url(dataset.tenant), period)

    assert response.status_code == 400
    assert response.context["form"].errors["end"]
    assert response.context["table"] is None


def test_another_organizations_member_gets_404(dataset: Dataset, tenant_b: Tenant, web_client_for: Any) -> None:
    client = web_client_for(tenant_b.admin)
    assert client.get(_url(dataset.tenant), MARCH).status_code == 404
    assert client.get(_url(dataset.tenant, suffix="csv/"), MARCH).status_code == 404
    assert client.get(f"/o/{dataset.tenant.organization.slug}/reports/").status_code == 404


def test_an_unknown_report_is_404(dataset: Dataset, web_client_for: Any) -> None:
    assert web_client_for(dataset.tenant.admin).get(_url(dataset.tenant, "nope")).status_code == 404


def test_the_csv_holds_the_table_with_durations_in_seconds(dataset: Dataset, web_client_for: Any) -> None:
    response = web_client_for(dataset.tenant.admin).get(
        _url(dataset.tenant, "response-times", "csv/"), {**MARCH, "group": "week"}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="response-times-2026-03-01-2026-03-31-week.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "Week"
    assert rows[0][2] == "First response, median (seconds)"
    assert rows[1:] == [
        ["2026-03-02", "4", "210.0", "510.0", "2", "5400.0", "6840.0"],
        ["2026-03-09", "0", "", "", "0", "", ""],
    ]


def test_a_csv_with_a_bad_period_is_400(dataset: Dataset, web_client_for: Any) -> None:
    response = web_client_for(dataset.tenant.admin).get(
        _url(dataset.tenant, suffix="csv/"), {"start": "2026-03-31", "end": "2026-03-01"}
    )
    assert response.status_code == 400


def test_an_agents_csv_holds_their_own_row_only(dataset: Dataset, web_client_for: Any) -> None:
    response = web_client_for(dataset.tenant.agent).get(
        _url(dataset.tenant, suffix="csv/"), {**MARCH, "group": "agent"}
    )

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1:] == [[dataset.tenant.agent.user.username, "3", "3", "0", "0"]]


def test_the_nav_links_the_reports(dataset: Dataset, web_client_for: Any) -> None:
    body = web_client_for(dataset.tenant.agent).get(f"/o/{dataset.tenant.organization.slug}/").content.decode()
    assert f'href="/o/{dataset.tenant.organization.slug}/reports/"' in body
    assert "My reports" in body


def test_the_api_answers_the_report_as_json(dataset: Dataset) -> None:
    response = api_client_for(dataset.tenant.admin).get("/api/v1/reports/conversations/", {**MARCH, "group": "day"})

    assert response.status_code == 200
    body = response.json()
    assert (body["report"], body["group"], body["time_zone"]) == ("conversations", "day", "Asia/Tokyo")
    assert [column["name"] for column in body["columns"]] == ["received", "answered", "unanswered", "lost"]
    assert body["rows"][1] == {
        "key": "2026-03-03",
        "label": "2026-03-03",
        "values": {"received": 2.0, "answered": 1.0, "unanswered": 1.0, "lost": 2.0},
    }


def test_the_api_shows_an_agent_their_own_figures(dataset: Dataset) -> None:
    response = api_client_for(dataset.tenant.agent).get("/api/v1/reports/conversations/", {**MARCH, "group": "agent"})

    assert [row["key"] for row in response.json()["rows"]] == [dataset.tenant.agent.user_id]


def test_the_api_shows_another_organization_none_of_these_figures(dataset: Dataset, tenant_b: Tenant) -> None:
    response = api_client_for(tenant_b.admin).get("/api/v1/reports/conversations/", MARCH)

    assert response.status_code == 200
    assert response.json()["rows"] == []


@pytest.mark.parametrize(
    "period",
    [
        {"start": "2026-03-31", "end": "2026-03-01"},
        {"start": "2024-01-01", "end": "2026-03-01"},
        {"start": "9999-12-30", "end": "9999-12-31"},
    ],
)
def test_the_api_refuses_a_bad_period_with_invalid_period(dataset: Dataset, period: dict[str, str]) -> None:
    response = api_client_for(dataset.tenant.admin).get("/api/v1/reports/conversations/", period)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_period"


def test_the_api_refuses_a_group_the_report_has_not(dataset: Dataset) -> None:
    response = api_client_for(dataset.tenant.admin).get("/api/v1/reports/availability/", {"group": "channel"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_the_api_answers_404_for_an_unknown_report(dataset: Dataset) -> None:
    assert api_client_for(dataset.tenant.admin).get("/api/v1/reports/nope/").status_code == 404


@pytest.mark.parametrize(
    ("name", "admin_queries", "agent_queries"),
    [
        ("conversations", 3, 4),
        ("sla", 3, 4),
        ("canned-responses", 3, 3),
        ("availability", 3, 3),
    ],
)
def test_a_report_is_a_fixed_number_of_queries(
    dataset: Dataset, name: str, admin_queries: int, agent_queries: int
) -> None:
    from datetime import date

    for membership, expected in ((dataset.tenant.admin, admin_queries), (dataset.tenant.agent, agent_queries)):
        with CaptureQueriesContext(connection) as queries:
            selectors.report_table(
                organization=dataset.tenant.organization,
                membership=membership,
                report=selectors.report_get(name),
                period=selectors.Period(date(2026, 3, 1), date(2026, 3, 31)),
                group=selectors.Group.AGENT,
            )
        assert len(queries) == expected


def test_the_api_and_the_page_are_a_fixed_number_of_queries(
    dataset: Dataset, web_client_for: Any, django_assert_num_queries: Any
) -> None:
    api = api_client_for(dataset.tenant.admin)
    web = web_client_for(dataset.tenant.admin)
    # The token and its member (2), the figures, the rows' names, the facts' freshness.
    with django_assert_num_queries(5):
        api.get("/api/v1/reports/response-times/", {**MARCH, "group": "agent"})
    with django_assert_num_queries(PAGE_QUERIES):
        web.get(_url(dataset.tenant, "response-times"), {**MARCH, "group": "agent"})
