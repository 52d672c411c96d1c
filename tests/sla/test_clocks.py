"""The SLA clocks (sla.clocks): a target's due time and the minutes between two instants,
in business hours across nights, weekends, holidays and daylight saving time, or around
the clock. 2026-12-07 is a Monday."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.hours import Interval, Schedule
from sla.clocks import Timeline, due_at, due_times, minutes_between, warn_minutes

TOKYO = ZoneInfo("Asia/Tokyo")
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)


def at(zone: ZoneInfo, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def office(time_zone: str = "Asia/Tokyo", *, holidays: frozenset[date] = frozenset()) -> Schedule:
    """Monday to Friday, 09:00 to 18:00."""
    return Schedule(
        time_zone=time_zone,
        intervals=tuple(Interval(day, 9 * 60, 18 * 60) for day in range(MONDAY, SATURDAY)),
        holidays=holidays,
    )


def test_around_the_clock_a_target_is_due_its_minutes_later_by_night_too() -> None:
    start = at(TOKYO, "2026-12-11 23:30")
    assert due_at(start=start, minutes=60, schedule=None) == at(TOKYO, "2026-12-12 00:30")
    assert minutes_between(start=start, end=at(TOKYO, "2026-12-12 00:30"), schedule=None) == 60


def test_within_the_hours_a_target_is_due_its_minutes_later() -> None:
    assert due_at(start=at(TOKYO, "2026-12-07 10:00"), minutes=60, schedule=office()) == at(TOKYO, "2026-12-07 11:00")


def test_a_target_that_runs_past_closing_goes_on_the_next_morning() -> None:
    # 30 minutes on Monday evening, 30 more from Tuesday's opening.
    due = due_at(start=at(TOKYO, "2026-12-07 17:30"), minutes=60, schedule=office())
    assert due == at(TOKYO, "2026-12-08 09:30")


def test_a_message_at_night_starts_the_clock_at_the_opening() -> None:
    due = due_at(start=at(TOKYO, "2026-12-07 23:00"), minutes=15, schedule=office())
    assert due == at(TOKYO, "2026-12-08 09:15")


def test_a_target_due_exactly_at_closing_is_due_at_closing() -> None:
    assert due_at(start=at(TOKYO, "2026-12-07 17:00"), minutes=60, schedule=office()) == at(TOKYO, "2026-12-07 18:00")


def test_the_weekend_does_not_count() -> None:
    # Friday 17:00 → one hour left on Friday, one more on Monday.
    due = due_at(start=at(TOKYO, "2026-12-11 17:00"), minutes=120, schedule=office())
    assert due == at(TOKYO, "2026-12-14 10:00")
    # A message on Saturday waits for Monday's opening.
    assert due_at(start=at(TOKYO, "2026-12-12 11:00"), minutes=30, schedule=office()) == at(TOKYO, "2026-12-14 09:30")


def test_a_holiday_is_skipped_like_a_weekend() -> None:
    schedule = office(holidays=frozenset({date(2026, 12, 8)}))
    due = due_at(start=at(TOKYO, "2026-12-07 17:00"), minutes=120, schedule=schedule)
    assert due == at(TOKYO, "2026-12-09 10:00")


def test_a_year_end_closure_of_several_days_is_skipped() -> None:
    closed = frozenset(date(2026, 12, day) for day in range(28, 32)) | {date(2027, 1, 1)}
    due = due_at(start=at(TOKYO, "2026-12-25 17:00"), minutes=120, schedule=office(holidays=closed))
    assert due == at(TOKYO, "2027-01-04 10:00")


def test_a_long_target_spans_whole_days_of_business_hours() -> None:
    # Three days of nine hours from Monday 09:00: Wednesday 18:00.
    due = due_at(start=at(TOKYO, "2026-12-07 09:00"), minutes=3 * 9 * 60, schedule=office())
    assert due == at(TOKYO, "2026-12-09 18:00")


def test_an_overnight_shift_counts_across_midnight() -> None:
    schedule = Schedule("Asia/Tokyo", (Interval(MONDAY, 22 * 60, 1440), Interval(TUESDAY, 0, 6 * 60)))
    due = due_at(start=at(TOKYO, "2026-12-07 23:30"), minutes=60, schedule=schedule)
    assert due == at(TOKYO, "2026-12-08 00:30")


def test_the_night_daylight_saving_time_ends_has_an_hour_more_of_wall_clock() -> None:
    # Europe/Berlin, 2026-10-25 (a Sunday) lasts 25 hours: open all day, 25 business hours.
    schedule = Schedule("Europe/Berlin", (Interval(SUNDAY, 0, 1440),))
    start = at(BERLIN, "2026-10-25 00:00")
    assert minutes_between(start=start, end=at(BERLIN, "2026-10-26 00:00"), schedule=schedule) == 25 * 60


def test_a_schedule_that_never_opens_has_no_due_time() -> None:
    assert due_at(start=at(TOKYO, "2026-12-07 10:00"), minutes=30, schedule=Schedule("Asia/Tokyo")) is None


def test_business_minutes_between_skip_the_night_and_the_weekend() -> None:
    schedule = office()
    # Friday 17:00 → Monday 10:00: one hour on Friday, one on Monday.
    assert (
        minutes_between(start=at(TOKYO, "2026-12-11 17:00"), end=at(TOKYO, "2026-12-14 10:00"), schedule=schedule)
        == 120
    )
    # Saturday to Sunday: nothing.
    assert (
        minutes_between(start=at(TOKYO, "2026-12-12 10:00"), end=at(TOKYO, "2026-12-13 20:00"), schedule=schedule) == 0
    )
    assert (
        minutes_between(start=at(TOKYO, "2026-12-08 10:00"), end=at(TOKYO, "2026-12-08 09:00"), schedule=schedule) == 0
    )


@pytest.mark.parametrize("minutes", [1, 7, 30, 61, 600, 43200])
def test_due_time_and_minutes_between_agree(minutes: int) -> None:
    schedule = office(holidays=frozenset({date(2026, 12, 24)}))
    start = at(TOKYO, "2026-12-04 16:47")
    due = due_at(start=start, minutes=minutes, schedule=schedule)
    assert due is not None
    assert minutes_between(start=start, end=due, schedule=schedule) == minutes


def test_a_target_is_at_risk_in_its_last_fifth() -> None:
    assert warn_minutes(60) == 48
    assert warn_minutes(1) == 0
    assert warn_minutes(3) == 2


def test_several_targets_from_one_start_agree_with_each_alone() -> None:
    schedule = office(holidays=frozenset({date(2026, 12, 8)}))
    start = at(TOKYO, "2026-12-07 16:10")
    minutes = (0, 48, 60, 110, 600)
    assert due_times(start=start, minutes=minutes, schedule=schedule) == [
        due_at(start=start, minutes=n, schedule=schedule) for n in minutes
    ]
    assert due_times(start=start, minutes=(5, 10), schedule=Schedule("Asia/Tokyo")) == [None, None]


_ZONES = ("Asia/Tokyo", "Europe/Berlin", "America/New_York")


@st.composite
def _schedules(draw: st.DrawFn) -> Schedule:
    intervals = set()
    for weekday in draw(st.sets(st.integers(MONDAY, SUNDAY), max_size=7)):
        start = draw(st.integers(0, 1439))
        end = draw(st.integers(start + 1, 1440))
        intervals.add(Interval(weekday, start, end))
    first = date(2026, 3, 1)
    holidays = draw(st.frozensets(st.integers(0, 300).map(lambda n: first + timedelta(days=n)), max_size=6))
    return Schedule(draw(st.sampled_from(_ZONES)), tuple(sorted(intervals)), holidays)


@settings(max_examples=150, deadline=None)
@given(
    schedule=_schedules(),
    starts=st.lists(st.integers(0, 300 * 24 * 60), min_size=1, max_size=8),
    minutes=st.lists(st.integers(0, 30 * 24 * 60), min_size=1, max_size=3).map(lambda values: tuple(sorted(values))),
)
def test_a_timeline_gives_the_due_times_of_a_walk_of_the_hours(
    schedule: Schedule, starts: list[int], minutes: tuple[int, ...]
) -> None:
    """sla.clocks.Timeline (the sweeps' batch form) agrees with due_times, one timeline asked
    for starts in any order (earlier ones rebuild it, later ones extend it); across daylight
    saving time changes, holidays, overnight shifts and schedules that never open; and starts
    outside the hours, which it answers from the opening they wait for."""
    timeline = Timeline(schedule)
    origin = datetime(2026, 3, 1, tzinfo=UTC)
    # Each start asked again a little later: starts in the same closed hours share an answer.
    for offset in [*starts, *(offset + 1 + offset % 59 for offset in starts)]:
        start = origin + timedelta(minutes=offset, seconds=offset % 7)
        assert timeline.due_times(start=start, minutes=minutes) == due_times(
            start=start, minutes=minutes, schedule=schedule
        )
