"""SLA achievement, response times in business hours and customer satisfaction, against the
hand-computed dataset of conftest.py (Asia/Tokyo; DAY1 is Monday 2 March 2026).

SLA policy of Support (channel Front), wall clock: first response target 3 minutes (180 s),
next response target 60 minutes; resolution targets as the tickets' SLA sweep kept them
(``sla_due_at``):

| conv | first reply       | first response | ticket resolved | resolution due | resolution |
|------|-------------------|----------------|-----------------|----------------|------------|
| c1   | +60 s             | met            | +3600 s         | +5400 s        | met        |
| c2   | +120 s            | met            | +7200 s         | +3600 s        | breached   |
| c3   | +300 s            | breached       | —               | —              | —          |
| c4   | +600 s            | breached       | —               | —              | —          |
| c5   | never, due passed | breached       | —               | —              | —          |
| c6   | (Back, Sales: a 3-day target of its channel) still running at NOW   | —          |

Next responses (waits after the first reply): c1 wrote again at 09:30, answered 09:45 (met);
c2 wrote again at 11:00, answered 12:30 (breached); c4 wrote again at 12:00 on day 2, still
unanswered at NOW (breached: due 13:00).

Ratings (csat.Survey), by when the customer answered:

| survey | conv | channel | agent | score | answered              |
|--------|------|---------|-------|-------|-----------------------|
| s1     | c1   | Front   | agent | 5     | day 1 12:00           |
| s2     | c2   | Front   | agent | 4     | day 1 13:00           |
| s3     | c4   | Front   | admin | 2     | day 2 12:00           |
| s4     | c6   | Back    | admin | 5     | day 8 (9 March) 12:00 |
| —      | c3   | Front   | agent | none  | asked, never answered |
| —      | c1   | Front   | agent | 1     | February: outside     |
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels.models import BusinessHours, BusinessInterval
from csat.models import Survey, SurveyOccasion, SurveyStatus
from helpdesk.models import Membership
from messenger.models import Conversation
from reports import selectors, services
from reports.models import ConversationFact
from reports.selectors import Group, Period
from sla.models import SlaClock, SlaPolicy
from tests.conftest import Tenant, api_client_for
from tests.reports.conftest import DAY1, NOW, Dataset, _inbound, _reply
from tickets.models import Ticket

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))
MARCH_QUERY = {"start": "2026-03-01", "end": "2026-03-31"}


def _table(
    dataset: Dataset, name: str, group: Group, *, membership: Membership | None = None, now: datetime = NOW
) -> dict[str, dict]:
    table = selectors.report_table(
        organization=dataset.tenant.organization,
        membership=membership or dataset.tenant.admin,
        report=selectors.report_get(name),
        period=MARCH,
        group=group,
        now=now,
    )
    return {row.label: row.values for row in table.rows}


def _refresh(dataset: Dataset) -> None:
    ConversationFact.objects.all().delete()
    services.facts_refresh(organization=dataset.tenant.organization, now=NOW)


def _ticket_due(conversation: Conversation, due_at: datetime) -> None:
    Ticket.objects.filter(conversation=conversation).update(sla_due_at=due_at)


@pytest.fixture
def with_sla(dataset: Dataset) -> Dataset:
    organization = dataset.tenant.organization
    SlaPolicy.objects.create(
        organization=organization,
        department=dataset.tenant.department,
        first_response_minutes=3,
        next_response_minutes=60,
        clock=SlaClock.WALL_CLOCK,
    )
    SlaPolicy.objects.create(
        organization=organization,
        department=dataset.back.department,
        channel=dataset.back,
        first_response_minutes=3 * 24 * 60,
        clock=SlaClock.WALL_CLOCK,
    )
    c1, c2 = dataset.conversations["c1"], dataset.conversations["c2"]
    _inbound(c1, DAY1 + timedelta(hours=9, minutes=30))
    _reply(c1, DAY1 + timedelta(hours=9, minutes=45))
    _inbound(c2, DAY1 + timedelta(hours=11))
    _reply(c2, DAY1 + timedelta(hours=12, minutes=30), author=dataset.tenant.agent.user)
    _ticket_due(dataset.conversations["c1"], DAY1 + timedelta(hours=9, seconds=5400))
    _ticket_due(dataset.conversations["c2"], DAY1 + timedelta(hours=10, seconds=3600))
    _refresh(dataset)
    return dataset


NO_TARGET = {
    "first_response_met": 0,
    "first_response_breached": 0,
    "first_response_achieved": None,
    "next_response_met": 0,
    "next_response_breached": 0,
    "next_response_achieved": None,
    "resolution_met": 0,
    "resolution_breached": 0,
    "resolution_achieved": None,
}


def test_sla_achievement_by_day(with_sla: Dataset) -> None:
    assert _table(with_sla, "sla", Group.DAY) == {
        # c1 and c2 answered within 180 s, c3 not; c1 answered again in time, c2 not; c1
        # resolved in time, c2 late.
        "2026-03-02": {
            "first_response_met": 2,
            "first_response_breached": 1,
            "first_response_achieved": 66.7,
            "next_response_met": 1,
            "next_response_breached": 1,
            "next_response_achieved": 50.0,
            "resolution_met": 1,
            "resolution_breached": 1,
            "resolution_achieved": 50.0,
        },
        # c4 answered after 600 s, then not again; c5 never, its due time long past.
        "2026-03-03": {
            **NO_TARGET,
            "first_response_breached": 2,
            "first_response_achieved": 0.0,
            "next_response_breached": 1,
            "next_response_achieved": 0.0,
        },
        # c6's 3-day target runs until a day after NOW: neither met nor breached yet.
        "2026-03-09": NO_TARGET,
    }


def test_a_target_still_running_is_breached_once_its_due_time_passes(with_sla: Dataset) -> None:
    later = _table(with_sla, "sla", Group.CHANNEL, now=NOW + timedelta(days=2))
    assert later["Back"] == {**NO_TARGET, "first_response_breached": 1, "first_response_achieved": 0.0}


def test_sla_achievement_by_department_and_agent(with_sla: Dataset) -> None:
    tenant = with_sla.tenant
    by_department = _table(with_sla, "sla", Group.DEPARTMENT)
    assert by_department["Support"] == {
        "first_response_met": 2,
        "first_response_breached": 3,
        "first_response_achieved": 40.0,
        "next_response_met": 1,
        "next_response_breached": 2,
        "next_response_achieved": 33.3,
        "resolution_met": 1,
        "resolution_breached": 1,
        "resolution_achieved": 50.0,
    }
    by_agent = _table(with_sla, "sla", Group.AGENT)
    assert {label: values["first_response_achieved"] for label, values in by_agent.items()} == {
        tenant.agent.user.username: 66.7,
        tenant.admin.user.username: 0.0,
        "Unassigned": 0.0,
    }


def test_an_agent_sees_only_their_own_sla_figures(with_sla: Dataset) -> None:
    agent = with_sla.tenant.agent
    assert _table(with_sla, "sla", Group.DEPARTMENT, membership=agent) == {
        "Support": {
            "first_response_met": 2,
            "first_response_breached": 1,
            "first_response_achieved": 66.7,
            "next_response_met": 1,
            "next_response_breached": 1,
            "next_response_achieved": 50.0,
            "resolution_met": 1,
            "resolution_breached": 1,
            "resolution_achieved": 50.0,
        }
    }


def test_response_times_count_business_hours_where_the_policy_says_so(dataset: Dataset) -> None:
    organization = dataset.tenant.organization
    SlaPolicy.objects.create(
        organization=organization,
        department=dataset.tenant.department,
        first_response_minutes=3,
        clock=SlaClock.BUSINESS_HOURS,
    )
    # Support opens Monday to Friday, 10:00 to 18:00 Tokyo.
    hours = BusinessHours.objects.create(
        organization=organization, department=dataset.tenant.department, is_enabled=True
    )
    for weekday in range(5):
        BusinessInterval.objects.create(
            organization=organization, business_hours=hours, weekday=weekday, start_minute=600, end_minute=1080
        )
    _refresh(dataset)

    # First responses in business hours: c1 09:00→09:01 is 0 s, c2 120 s, c3 300 s, c4
    # 09:00→09:10 on Tuesday 0 s: 0, 0, 120, 300, median 60, p90 120 + 0.7 × 180 = 246.
    # Resolutions: c1 at 10:00 is 0 s, c2 10:00→12:00 7200 s: median 3600, p90 6480.
    assert _table(dataset, "response-times", Group.WEEK)["2026-03-02"] == {
        "answered": 4,
        "first_response_median": 60.0,
        "first_response_p90": 246.0,
        "resolved": 2,
        "resolution_median": 3600.0,
        "resolution_p90": 6480.0,
    }
    # The first response target of c1 (3 business minutes from 09:00) fell due at 10:03.
    fact = ConversationFact.objects.get(conversation=dataset.conversations["c1"])
    assert fact.first_response_due_at == DAY1 + timedelta(hours=10, minutes=3)


def test_the_sla_times_are_computed_once_a_second_run_writes_nothing(with_sla: Dataset) -> None:
    assert services.facts_refresh(organization=with_sla.tenant.organization, now=NOW) == 0


def _survey(dataset: Dataset, name: str, *, score: int | None, agent: Any, answered_at: datetime | None) -> None:
    conversation = dataset.conversations[name]
    Survey.objects.create(
        organization=dataset.tenant.organization,
        conversation=conversation,
        channel=conversation.channel,
        department=conversation.department,
        agent=agent,
        occasion=SurveyOccasion.CONVERSATION_CLOSED,
        occasion_id=Survey.objects.count() + 1,
        status=SurveyStatus.SENT,
        language="en",
        asked_at=(answered_at or DAY1) - timedelta(minutes=5),
        score=score,
        answered_at=answered_at,
    )


@pytest.fixture
def rated(dataset: Dataset) -> Dataset:
    agent, admin = dataset.tenant.agent.user, dataset.tenant.admin.user
    _survey(dataset, "c1", score=5, agent=agent, answered_at=DAY1 + timedelta(hours=12))
    _survey(dataset, "c2", score=4, agent=agent, answered_at=DAY1 + timedelta(hours=13))
    _survey(dataset, "c4", score=2, agent=admin, answered_at=DAY1 + timedelta(days=1, hours=12))
    _survey(dataset, "c6", score=5, agent=admin, answered_at=DAY1 + timedelta(days=7, hours=12))
    _survey(dataset, "c3", score=None, agent=agent, answered_at=None)
    _survey(dataset, "c1", score=1, agent=agent, answered_at=DAY1 - timedelta(days=10))
    return dataset


def _scores(**counts: int) -> dict[str, int]:
    return {f"score_{score}": counts.get(f"s{score}", 0) for score in (1, 2, 3, 4, 5)}


def test_csat_average_and_distribution_by_day(rated: Dataset) -> None:
    assert _table(rated, "csat", Group.DAY) == {
        "2026-03-02": {"ratings": 2, "average": 4.5, **_scores(s4=1, s5=1)},
        "2026-03-03": {"ratings": 1, "average": 2.0, **_scores(s2=1)},
        "2026-03-09": {"ratings": 1, "average": 5.0, **_scores(s5=1)},
    }


def test_csat_by_week_channel_department_and_agent(rated: Dataset) -> None:
    tenant = rated.tenant
    assert _table(rated, "csat", Group.WEEK) == {
        "2026-03-02": {"ratings": 3, "average": 3.67, **_scores(s2=1, s4=1, s5=1)},
        "2026-03-09": {"ratings": 1, "average": 5.0, **_scores(s5=1)},
    }
    by_channel = _table(rated, "csat", Group.CHANNEL)
    assert {label: values["average"] for label, values in by_channel.items()} == {"Front": 3.67, "Back": 5.0}
    by_department = _table(rated, "csat", Group.DEPARTMENT)
    assert {label: values["ratings"] for label, values in by_department.items()} == {"Support": 3, "Sales": 1}
    by_agent = _table(rated, "csat", Group.AGENT)
    assert {label: values["average"] for label, values in by_agent.items()} == {
        tenant.agent.user.username: 4.5,
        tenant.admin.user.username: 3.5,
    }


def test_an_agent_sees_only_their_own_ratings(rated: Dataset) -> None:
    agent = rated.tenant.agent
    assert _table(rated, "csat", Group.CHANNEL, membership=agent) == {
        "Front": {"ratings": 2, "average": 4.5, **_scores(s4=1, s5=1)}
    }


def test_an_agent_no_longer_seeing_the_channel_sees_none_of_its_ratings(rated: Dataset) -> None:
    agent = rated.tenant.agent
    agent.departments.clear()
    assert _table(rated, "csat", Group.DAY, membership=agent) == {}


def test_the_api_answers_sla_and_csat_figures(with_sla: Dataset) -> None:
    rated_dataset = with_sla
    agent = rated_dataset.tenant.agent.user
    _survey(rated_dataset, "c1", score=5, agent=agent, answered_at=DAY1 + timedelta(hours=12))
    api = api_client_for(rated_dataset.tenant.admin)

    sla = api.get("/api/v1/reports/sla/", {**MARCH_QUERY, "group": "week"}).json()
    assert {column["name"]: column["unit"] for column in sla["columns"]}["first_response_achieved"] == "percent"
    assert sla["rows"][0]["values"]["first_response_achieved"] == 40.0
    csat = api.get("/api/v1/reports/csat/", {**MARCH_QUERY, "group": "agent"}).json()
    assert csat["rows"] == [
        {
            "key": agent.pk,
            "label": agent.username,
            "values": {"ratings": 1.0, "average": 5.0, **{k: float(v) for k, v in _scores(s5=1).items()}},
        }
    ]


def test_another_organization_gets_none_of_the_ratings(rated: Dataset, tenant_b: Tenant, web_client_for: Any) -> None:
    response = api_client_for(tenant_b.admin).get("/api/v1/reports/csat/", MARCH_QUERY)
    assert response.status_code == 200 and response.json()["rows"] == []
    slug = rated.tenant.organization.slug
    assert web_client_for(tenant_b.admin).get(f"/o/{slug}/reports/csat/", MARCH_QUERY).status_code == 404
    assert web_client_for(tenant_b.admin).get(f"/o/{slug}/reports/sla/csv/", MARCH_QUERY).status_code == 404


def test_the_csv_and_page_hold_the_sla_and_csat_figures(with_sla: Dataset, web_client_for: Any) -> None:
    client = web_client_for(with_sla.tenant.admin)
    slug = with_sla.tenant.organization.slug
    body = client.get(f"/o/{slug}/reports/sla/csv/", {**MARCH_QUERY, "group": "department"}).content.decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][0:4] == ["Department", "First response met", "First response breached", "First response achieved"]
    assert rows[1] == ["Support", "2", "3", "40.0", "1", "2", "33.3", "1", "1", "50.0"]
    page = client.get(f"/o/{slug}/reports/sla/", {**MARCH_QUERY, "group": "department"})
    assert page.context["rows"][0] == ("Support", ["2", "3", "40.0 %", "1", "2", "33.3 %", "1", "1", "50.0 %"])


def test_the_sla_page_is_in_japanese(with_sla: Dataset, web_client_for: Any) -> None:
    organization = with_sla.tenant.organization
    organization.language = "ja"
    organization.save(update_fields=["language"])
    body = web_client_for(with_sla.tenant.admin).get(f"/o/{organization.slug}/reports/sla/", MARCH_QUERY)
    body = body.content.decode()
    assert "SLA 達成率" in body and "初回応答 達成率" in body


@pytest.mark.parametrize(("role", "expected"), [("admin", 3), ("agent", 4)])
def test_the_csat_report_is_a_fixed_number_of_queries(rated: Dataset, role: str, expected: int) -> None:
    # The figures, the rows' names, the facts' freshness; an agent's visible channels.
    with CaptureQueriesContext(connection) as queries:
        _table(rated, "csat", Group.AGENT, membership=getattr(rated.tenant, role))
    assert len(queries) == expected


def test_a_ticket_timed_by_the_sla_sweep_later_is_refreshed_by_the_next_run(with_sla: Dataset) -> None:
    # The tickets' sweep writes sla_due_at without touching the ticket's updated_at.
    _ticket_due(with_sla.conversations["c1"], DAY1 + timedelta(hours=9, seconds=1800))

    assert services.facts_refresh(organization=with_sla.tenant.organization, now=NOW) == 0  # the count is the upsert's
    fact = ConversationFact.objects.get(conversation=with_sla.conversations["c1"])
    assert fact.resolution_due_at == DAY1 + timedelta(hours=9, seconds=1800)
    assert _table(with_sla, "sla", Group.WEEK)["2026-03-02"]["resolution_breached"] == 2
