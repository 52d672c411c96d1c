"""Business hours as pure functions (channels.hours): open or closed at an instant, when the
closed period began, when the department opens next; across midnight, overnight shifts,
weekends, holidays, a zone without daylight saving time and one with it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from channels.hours import (
    Interval,
    InvalidSchedule,
    Schedule,
    closed_period_start,
    day_intervals_parse,
    is_open,
    next_opening,
    week_validate,
)

TOKYO = ZoneInfo("Asia/Tokyo")
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)


def at(zone: ZoneInfo, text: str, *, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone, fold=fold)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def office(time_zone: str, *, holidays: frozenset[date] = frozenset()) -> Schedule:
    """Monday to Friday, 09:00 to 18:00."""
    return Schedule(
        time_zone=time_zone,
        intervals=tuple(Interval(day, 9 * 60, 18 * 60) for day in range(MONDAY, SATURDAY)),
        holidays=holidays,
    )


# --- Asia/Tokyo: no daylight saving time ---------------------------------------------------------
# 2026-12-07 is a Monday.


def test_an_office_is_open_from_its_first_minute_until_before_its_last() -> None:
    schedule = office("Asia/Tokyo")
    assert not is_open(schedule, at(TOKYO, "2026-12-07 08:59"))
    assert is_open(schedule, at(TOKYO, "2026-12-07 09:00"))
    assert is_open(schedule, at(TOKYO, "2026-12-07 17:59"))
    assert not is_open(schedule, at(TOKYO, "2026-12-07 18:00"))
    assert closed_period_start(schedule, at(TOKYO, "2026-12-07 12:00")) is None


def test_one_night_is_one_closed_period_across_midnight() -> None:
    schedule = office("Asia/Tokyo")
    evening = closed_period_start(schedule, at(TOKYO, "2026-12-07 23:00"))
    after_midnight = closed_period_start(schedule, at(TOKYO, "2026-12-08 02:00"))
    early_morning = closed_period_start(schedule, at(TOKYO, "2026-12-08 08:59"))
    assert evening == after_midnight == early_morning == at(TOKYO, "2026-12-07 18:00")
    assert closed_period_start(schedule, at(TOKYO, "2026-12-08 23:00")) == at(TOKYO, "2026-12-08 18:00")


def test_a_weekend_is_one_closed_period_from_friday_evening_to_monday_morning() -> None:
    schedule = office("Asia/Tokyo")
    friday_evening = at(TOKYO, "2026-12-11 18:00")
    for moment in ("2026-12-11 20:00", "2026-12-12 12:00", "2026-12-13 23:59", "2026-12-14 08:00"):
        assert closed_period_start(schedule, at(TOKYO, moment)) == friday_evening, moment
    assert next_opening(schedule, at(TOKYO, "2026-12-12 12:00")) == at(TOKYO, "2026-12-14 09:00")


def test_a_holiday_is_closed_all_day_and_joins_the_closed_periods_around_it() -> None:
    # Thursday 2026-12-31 and Friday 2027-01-01 are holidays: closed from Wednesday 18:00 to Monday 09:00.
    schedule = office("Asia/Tokyo", holidays=frozenset({date(2026, 12, 31), date(2027, 1, 1)}))
    assert not is_open(schedule, at(TOKYO, "2026-12-31 12:00"))
    assert closed_period_start(schedule, at(TOKYO, "2026-12-31 12:00")) == at(TOKYO, "2026-12-30 18:00")
    assert closed_period_start(schedule, at(TOKYO, "2027-01-03 12:00")) == at(TOKYO, "2026-12-30 18:00")
    assert next_opening(schedule, at(TOKYO, "2026-12-30 19:00")) == at(TOKYO, "2027-01-04 09:00")


def test_a_weekly_opening_closed_by_a_holiday_opens_again_the_week_after() -> None:
    # Open on Mondays only; Monday 2026-12-14 is a holiday: the next opening after the 7th is
    # the 21st, and the closed period runs from the 7th's closing across the holiday.
    schedule = Schedule("Asia/Tokyo", (Interval(MONDAY, 9 * 60, 12 * 60),), frozenset({date(2026, 12, 14)}))
    assert next_opening(schedule, at(TOKYO, "2026-12-07 13:00")) == at(TOKYO, "2026-12-21 09:00")
    assert closed_period_start(schedule, at(TOKYO, "2026-12-20 13:00")) == at(TOKYO, "2026-12-07 12:00")


def test_next_opening_is_now_when_open() -> None:
    schedule = office("Asia/Tokyo")
    moment = at(TOKYO, "2026-12-07 10:00")
    assert next_opening(schedule, moment) == moment
    assert next_opening(schedule, at(TOKYO, "2026-12-07 07:00")) == at(TOKYO, "2026-12-07 09:00")


def test_an_overnight_shift_is_one_open_period_across_midnight() -> None:
    # Monday 22:00 to 24:00, then Tuesday 00:00 to 06:00.
    schedule = Schedule("Asia/Tokyo", (Interval(MONDAY, 22 * 60, 1440), Interval(TUESDAY, 0, 6 * 60)))
    for moment in ("2026-12-07 22:00", "2026-12-07 23:59", "2026-12-08 00:00", "2026-12-08 05:59"):
        assert is_open(schedule, at(TOKYO, moment)), moment
        assert closed_period_start(schedule, at(TOKYO, moment)) is None
    assert next_opening(schedule, at(TOKYO, "2026-12-07 23:30")) == at(TOKYO, "2026-12-07 23:30")
    assert closed_period_start(schedule, at(TOKYO, "2026-12-08 07:00")) == at(TOKYO, "2026-12-08 06:00")
    assert closed_period_start(schedule, at(TOKYO, "2026-12-07 21:00")) == at(TOKYO, "2026-12-01 06:00")


def test_a_holiday_cuts_the_part_of_an_overnight_shift_that_falls_on_it() -> None:
    schedule = Schedule(
        "Asia/Tokyo",
        (Interval(MONDAY, 22 * 60, 1440), Interval(TUESDAY, 0, 6 * 60)),
        frozenset({date(2026, 12, 8)}),
    )
    assert is_open(schedule, at(TOKYO, "2026-12-07 23:00"))
    assert not is_open(schedule, at(TOKYO, "2026-12-08 01:00"))
    assert closed_period_start(schedule, at(TOKYO, "2026-12-08 01:00")) == at(TOKYO, "2026-12-08 00:00")


def test_a_schedule_never_open_counts_each_local_day_as_a_closed_period() -> None:
    schedule = Schedule("Asia/Tokyo")
    assert not is_open(schedule, at(TOKYO, "2026-12-07 12:00"))
    assert closed_period_start(schedule, at(TOKYO, "2026-12-07 23:00")) == at(TOKYO, "2026-12-07 00:00")
    assert closed_period_start(schedule, at(TOKYO, "2026-12-08 01:00")) == at(TOKYO, "2026-12-08 00:00")
    assert next_opening(schedule, at(TOKYO, "2026-12-07 12:00")) is None


def test_the_same_instant_reads_in_the_schedules_own_time_zone() -> None:
    # 01:00 UTC on Monday is 10:00 in Tokyo (open) and 02:00 in Berlin (closed).
    moment = utc("2026-12-07 01:00")
    assert is_open(office("Asia/Tokyo"), moment)
    assert not is_open(office("Europe/Berlin"), moment)


# --- Europe/Berlin: 2026-03-29 (02:00 → 03:00) and 2026-10-25 (03:00 → 02:00) ---------------------


def test_office_hours_keep_their_wall_clock_times_across_the_spring_change() -> None:
    schedule = office("Europe/Berlin")
    # Friday 17:00 is 16:00 UTC (winter time); Monday 09:00 is 07:00 UTC (summer time).
    assert closed_period_start(schedule, at(BERLIN, "2026-03-29 12:00")) == utc("2026-03-27 17:00")
    assert next_opening(schedule, at(BERLIN, "2026-03-29 12:00")) == utc("2026-03-30 07:00")
    assert is_open(schedule, utc("2026-03-30 07:00"))
    assert not is_open(schedule, utc("2026-03-30 06:59"))


def test_a_sunday_of_the_spring_change_is_an_hour_shorter() -> None:
    # 01:00 to 04:00 on 2026-03-29 is two hours: 00:00 to 02:00 UTC.
    schedule = Schedule("Europe/Berlin", (Interval(SUNDAY, 60, 4 * 60),))
    assert is_open(schedule, utc("2026-03-29 00:00"))
    assert is_open(schedule, utc("2026-03-29 01:59"))
    assert not is_open(schedule, utc("2026-03-29 02:00"))
    assert closed_period_start(schedule, utc("2026-03-29 05:00")) == utc("2026-03-29 02:00")


def test_a_time_in_the_spring_gap_is_read_as_the_same_distance_past_the_change() -> None:
    # 02:30 does not exist on 2026-03-29: the interval ends at 03:30 summer time (01:30 UTC).
    schedule = Schedule("Europe/Berlin", (Interval(SATURDAY, 18 * 60, 1440), Interval(SUNDAY, 0, 150)))
    assert is_open(schedule, utc("2026-03-29 01:29"))
    assert not is_open(schedule, utc("2026-03-29 01:30"))
    assert closed_period_start(schedule, utc("2026-03-29 03:00")) == utc("2026-03-29 01:30")
    # An interval that the gap leaves empty is closed.
    empty = Schedule("Europe/Berlin", (Interval(SUNDAY, 2 * 60 + 59, 3 * 60),))
    assert not any(is_open(empty, utc(f"2026-03-29 0{hour}:30")) for hour in range(4))


def test_a_sunday_of_the_autumn_change_is_an_hour_longer() -> None:
    # 00:00 to 24:00 on 2026-10-25: 22:00 UTC on Saturday to 23:00 UTC on Sunday, 25 hours.
    schedule = Schedule("Europe/Berlin", (Interval(SUNDAY, 0, 1440),))
    assert not is_open(schedule, utc("2026-10-24 21:59"))
    assert is_open(schedule, utc("2026-10-24 22:00"))
    assert is_open(schedule, utc("2026-10-25 22:59"))
    assert not is_open(schedule, utc("2026-10-25 23:00"))
    assert closed_period_start(schedule, at(BERLIN, "2026-10-26 00:30")) == utc("2026-10-25 23:00")


def test_a_time_that_exists_twice_in_autumn_is_its_first_occurrence() -> None:
    # 02:30 on 2026-10-25 is first 00:30 UTC (summer time), then 01:30 UTC (winter time).
    schedule = Schedule("Europe/Berlin", (Interval(SUNDAY, 150, 5 * 60),))
    assert not is_open(schedule, at(BERLIN, "2026-10-25 02:15", fold=0))
    assert is_open(schedule, at(BERLIN, "2026-10-25 02:30", fold=0))
    assert is_open(schedule, at(BERLIN, "2026-10-25 02:15", fold=1))
    assert next_opening(schedule, utc("2026-10-25 00:00")) == utc("2026-10-25 00:30")


def test_office_hours_keep_their_wall_clock_times_across_the_autumn_change() -> None:
    schedule = office("Europe/Berlin")
    # Friday 18:00 is 16:00 UTC (summer time); Monday 09:00 is 08:00 UTC (winter time).
    assert closed_period_start(schedule, at(BERLIN, "2026-10-25 12:00")) == utc("2026-10-23 16:00")
    assert next_opening(schedule, at(BERLIN, "2026-10-25 12:00")) == utc("2026-10-26 08:00")


# --- Reading and checking a week ---------------------------------------------------------------


def test_a_day_is_written_as_time_ranges_separated_by_commas() -> None:
    assert day_intervals_parse(MONDAY, "09:00-12:00, 13:00–18:00") == [(540, 720), (780, 1080)]
    assert day_intervals_parse(MONDAY, "22:00-24:00") == [(1320, 1440)]
    assert day_intervals_parse(MONDAY, "  ") == []


@pytest.mark.parametrize("text", ["9am-5pm", "09:00", "24:00-24:00", "09:60-10:00", "08:00-25:00"])
def test_what_is_no_time_range_is_refused_naming_the_day(text: str) -> None:
    with pytest.raises(InvalidSchedule) as refused:
        day_intervals_parse(TUESDAY, text)
    assert str(refused.value.message).startswith("Tuesday: ")
    assert refused.value.code == "invalid_schedule"


def test_an_inverted_range_is_refused_naming_the_day() -> None:
    with pytest.raises(InvalidSchedule) as refused:
        week_validate([Interval(MONDAY, 540, 1080), Interval(TUESDAY, 780, 720)])
    assert refused.value.message == "Tuesday: 13:00–12:00 ends before it starts."


def test_overlapping_ranges_are_refused_naming_the_day_and_touching_ones_are_not() -> None:
    with pytest.raises(InvalidSchedule) as refused:
        week_validate([Interval(WEDNESDAY, 660, 780), Interval(WEDNESDAY, 540, 720)])
    assert refused.value.message == "Wednesday: 09:00–12:00 and 11:00–13:00 overlap."
    assert week_validate([Interval(WEDNESDAY, 720, 780), Interval(WEDNESDAY, 540, 720)]) == (
        Interval(WEDNESDAY, 540, 720),
        Interval(WEDNESDAY, 720, 780),
    )
