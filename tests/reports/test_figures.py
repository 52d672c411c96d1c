"""Report figures against the hand-computed dataset of conftest.py."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

import pytest

from availability.models import AvailabilityChange, ChangeReason, Status
from helpdesk.exceptions import InvalidPeriod
from helpdesk.models import Membership
from reports import selectors
from reports.selectors import Group, Period
from tests.reports.conftest import NOW, Dataset

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))


def _table(
    dataset: Dataset,
    name: str,
    group: Group,
    *,
    membership: Membership | None = None,
    now: datetime = NOW,
    period: Period = MARCH,
) -> dict[str, dict]:
    table = selectors.report_table(
        organization=dataset.tenant.organization,
        membership=membership or dataset.tenant.admin,
        report=selectors.report_get(name),
        period=period,
        group=group,
        now=now,
    )
    return {row.label: row.values for row in table.rows}


def test_conversations_by_day_count_received_answered_unanswered_and_lost(dataset: Dataset) -> None:
    assert _table(dataset, "conversations", Group.DAY) == {
        "2026-03-02": {"received": 3, "answered": 3, "unanswered": 0, "lost": 0},
        # c4 was answered once, then its second message never was; c5's only reply failed.
        "2026-03-03": {"received": 2, "answered": 1, "unanswered": 1, "lost": 2},
        # Two days old: unanswered, its window still open.
        "2026-03-09": {"received": 1, "answered": 0, "unanswered": 1, "lost": 0},
    }


def test_days_are_the_organizations(dataset: Dataset) -> None:
    # 09:00 in Tokyo on 2 March is 1 March, 15:00 UTC: the row is Tokyo's day.
    assert "2026-03-01" not in _table(dataset, "conversations", Group.DAY)


def test_weeks_start_on_monday(dataset: Dataset) -> None:
    table = _table(dataset, "conversations", Group.WEEK)
    assert {label: values["received"] for label, values in table.items()} == {"2026-03-02": 5, "2026-03-09": 1}


def test_first_response_median_and_90th_percentile(dataset: Dataset) -> None:
    # First responses 60, 120, 300, 600 s: median (120 + 300) / 2 = 210; p90 at 0.9 × 3 = 2.7
    # between 300 and 600: 300 + 0.7 × 300 = 510. Resolutions 3600 and 7200 s: median 5400,
    # p90 3600 + 0.9 × 3600 = 6840.
    assert _table(dataset, "response-times", Group.WEEK)["2026-03-02"] == {
        "answered": 4,
        "first_response_median": 210.0,
        "first_response_p90": 510.0,
        "resolved": 2,
        "resolution_median": 5400.0,
        "resolution_p90": 6840.0,
    }


def test_by_channel_department_and_agent(dataset: Dataset) -> None:
    tenant = dataset.tenant
    by_channel = _table(dataset, "conversations", Group.CHANNEL)
    assert {label: values["received"] for label, values in by_channel.items()} == {"Front": 5, "Back": 1}
    by_department = _table(dataset, "conversations", Group.DEPARTMENT)
    assert {label: values["received"] for label, values in by_department.items()} == {"Support": 5, "Sales": 1}
    by_agent = _table(dataset, "conversations", Group.AGENT)
    assert {label: values["received"] for label, values in by_agent.items()} == {
        tenant.agent.user.username: 3,
        tenant.admin.user.username: 1,
        "Unassigned": 2,
    }


def test_an_agent_sees_only_their_own_figures(dataset: Dataset) -> None:
    agent = dataset.tenant.agent
    assert _table(dataset, "conversations", Group.AGENT, membership=agent) == {
        agent.user.username: {"received": 3, "answered": 3, "unanswered": 0, "lost": 0}
    }
    by_channel = _table(dataset, "conversations", Group.CHANNEL, membership=agent)
    assert {label: values["received"] for label, values in by_channel.items()} == {"Front": 3}


def test_an_agent_no_longer_seeing_a_channel_sees_none_of_its_figures(dataset: Dataset) -> None:
    agent = dataset.tenant.agent
    agent.departments.clear()
    assert _table(dataset, "conversations", Group.DAY, membership=agent) == {}


def test_a_period_ends_at_the_organizations_midnight(dataset: Dataset) -> None:
    table = selectors.report_table(
        organization=dataset.tenant.organization,
        membership=dataset.tenant.admin,
        report=selectors.report_get("conversations"),
        period=Period(date(2026, 3, 1), date(2026, 3, 2)),
        group=Group.DAY,
        now=NOW,
    )
    assert [row.label for row in table.rows] == ["2026-03-02"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 3, 2), date(2026, 3, 1)),
        (date(2024, 3, 1), date(2026, 3, 2)),
        (date(2020, 1, 1), date(2026, 1, 1)),
        (date(9999, 12, 30), date(9999, 12, 31)),
        (date(1, 1, 1), date(1, 1, 2)),
    ],
)
def test_a_period_backwards_or_over_two_years_is_invalid(start: date, end: date) -> None:
    with pytest.raises(InvalidPeriod):
        selectors.period_check(start=start, end=end)


def test_two_years_exactly_is_allowed() -> None:
    start = date(2024, 3, 1)
    assert selectors.period_check(start=start, end=start + timedelta(days=730)).days == 731


def test_time_online_is_cut_at_the_organizations_midnight(dataset: Dataset) -> None:
    # 22:00–02:00: two hours on each day; the open spell counts up to NOW (one hour).
    assert _table(dataset, "availability", Group.DAY) == {
        "2026-03-02": {"online": 7200.0},
        "2026-03-03": {"online": 7200.0},
        "2026-03-11": {"online": 3600.0},
    }
    assert _table(dataset, "availability", Group.AGENT) == {dataset.tenant.agent.user.username: {"online": 18000.0}}


def test_canned_response_use_by_response_channel_and_agent(dataset: Dataset) -> None:
    tenant = dataset.tenant
    assert _table(dataset, "canned-responses", Group.RESPONSE) == {"Hello": {"uses": 2}, "Bye": {"uses": 1}}
    assert _table(dataset, "canned-responses", Group.DAY) == {"2026-03-02": {"uses": 2}, "2026-03-03": {"uses": 1}}
    assert _table(dataset, "canned-responses", Group.CHANNEL) == {"Front": {"uses": 3}}
    assert _table(dataset, "canned-responses", Group.AGENT, membership=tenant.agent) == {
        tenant.agent.user.username: {"uses": 2}
    }
    assert _table(dataset, "availability", Group.AGENT, membership=tenant.agent) == {
        tenant.agent.user.username: {"online": 18000.0}
    }


LONDON = zoneinfo.ZoneInfo("Europe/London")


def _only_spell_online_in_london(dataset: Dataset, *, started_at: datetime, ended_at: datetime | None) -> None:
    """The organization in London's time zone, and the agent's one online spell."""
    organization = dataset.tenant.organization
    organization.time_zone = "Europe/London"
    organization.save(update_fields=["time_zone"])
    AvailabilityChange.objects.all().delete()
    AvailabilityChange.objects.create(
        organization=organization,
        membership=dataset.tenant.agent,
        status=Status.ONLINE,
        reason=ChangeReason.CHOSEN,
        started_at=started_at,
        ended_at=ended_at,
    )


def test_a_day_when_summer_time_starts_counts_23_hours_online(dataset: Dataset) -> None:
    # Online from noon on Saturday 28 March to noon on Monday 30 March 2026 (London): clocks go
    # forward an hour on the Sunday, at 01:00.
    _only_spell_online_in_london(
        dataset, started_at=datetime(2026, 3, 28, 12, tzinfo=LONDON), ended_at=datetime(2026, 3, 30, 12, tzinfo=LONDON)
    )

    assert _table(dataset, "availability", Group.DAY, now=datetime(2026, 4, 1, tzinfo=LONDON)) == {
        "2026-03-28": {"online": 12 * 3600.0},
        "2026-03-29": {"online": 23 * 3600.0},
        "2026-03-30": {"online": 12 * 3600.0},
    }


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)],
    ids=["summer time starts", "summer time ends"],
)
def test_a_period_of_the_one_day_the_clocks_change_counts_its_own_length_online(
    dataset: Dataset, day: date, hours: int
) -> None:
    """The period cuts the spell at its own midnights: 23 or 25 hours, not a wall clock's 24."""
    _only_spell_online_in_london(
        dataset, started_at=datetime.combine(day - timedelta(days=2), datetime.min.time(), tzinfo=LONDON), ended_at=None
    )
    now = datetime.combine(day + timedelta(days=3), datetime.min.time(), tzinfo=LONDON)

    for group, label in ((Group.DAY, day.isoformat()), (Group.AGENT, dataset.tenant.agent.user.username)):
        assert _table(dataset, "availability", group, now=now, period=Period(day, day)) == {
            label: {"online": hours * 3600.0}
        }
