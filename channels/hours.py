"""Business hours: when a department is open, as pure functions over a `Schedule`.

A schedule is a week of opening intervals in local wall-clock time (minutes from midnight;
an end of 1440 is midnight at the end of the day), holidays (local dates on which the
department stays closed all day) and the organization's time zone. Every answer is worked
out in that zone with zoneinfo, so a day is as long as the clock says (23 or 25 hours on
the days daylight saving time begins or ends) and an interval keeps its wall-clock times.

Rules, in the order a reader meets them:

- **Continuous periods.** An interval ending at 24:00 and one starting at 00:00 the next
  day are one open period (an overnight shift): nothing closes at midnight.
- **Holidays** remove the intervals of that local date, including the part of an overnight
  shift that falls on it (the shift of the evening before still runs until midnight).
- **Local times that do not exist** (the spring gap, 02:00–03:00 in Europe/Berlin on
  2026-03-29) are read as the same distance past the change: 02:30 is 03:30 summer time
  (zoneinfo's ``fold=0``). An interval that becomes empty that way (02:59–03:00) is closed.
- **Local times that exist twice** (02:00–03:00 on 2026-10-25 in Europe/Berlin) are their
  first occurrence, summer time (``fold=0``), so 00:00–24:00 that day lasts 25 hours.
- **The closed period** an instant falls in began when the last open interval before it
  ended (`closed_period_start`). A schedule that was never open (no interval at all, or only
  holidays in reach) has no such end: its closed period is taken to start at the local
  midnight of the instant's day, so "once per closed period" means once per day there.

The out-of-hours reply is sent once per conversation per closed period, keyed by that start.
The selectors at the end read a department's schedule from the database.
"""

from __future__ import annotations

import re
import threading
import time as monotonic_time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels.models import MINUTES_PER_DAY, BusinessHours
from helpdesk.exceptions import InvalidInput
from helpdesk.models import Department, Organization

# --- The value object -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """An opening interval of one weekday (0 is Monday), in minutes from local midnight."""

    weekday: int
    start_minute: int
    end_minute: int


@dataclass(frozen=True, slots=True)
class Schedule:
    time_zone: str
    intervals: tuple[Interval, ...] = ()
    holidays: frozenset[date] = field(default_factory=frozenset)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _instant(zone: ZoneInfo, day: date, minute: int) -> datetime:
    """The UTC instant of a wall-clock minute of a local day (1440: the next day's midnight)."""
    if minute >= MINUTES_PER_DAY:
        day, minute = day + timedelta(days=1), 0
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)  # fold=0: see the module
    return local.astimezone(UTC)


@lru_cache(maxsize=256)
def _by_weekday(schedule: Schedule) -> dict[int, list[Interval]]:
    # Cached: the SLA clocks walk a schedule day by day for thousands of conversations.
    days: dict[int, list[Interval]] = {}
    for interval in sorted(schedule.intervals):
        days.setdefault(interval.weekday, []).append(interval)
    return days


def _day_periods(schedule: Schedule, zone: ZoneInfo, day: date) -> Iterator[tuple[datetime, datetime]]:
    """The open intervals of one local date as UTC instants (none on a holiday)."""
    if day in schedule.holidays:
        return
    for interval in _by_weekday(schedule).get(day.weekday(), ()):
        start = _instant(zone, day, interval.start_minute)
        end = _instant(zone, day, interval.end_minute)
        if start < end:
            yield start, end


def _reach_days(schedule: Schedule) -> int:
    """How many days to look back or ahead to be sure to meet an interval if there is one:
    in 7 × (holidays + 1) days each weekday comes holidays + 1 times, and the holidays can
    close at most that many of them (a department open on Mondays only, with a Monday off,
    opens again 13 days after its last opening)."""
    return 7 * (len(schedule.holidays) + 1) + 1


def _local_day(schedule: Schedule, at: datetime) -> tuple[ZoneInfo, date]:
    zone = _zone(schedule.time_zone)
    return zone, at.astimezone(zone).date()


def is_open(schedule: Schedule, at: datetime) -> bool:
    """Whether the department is open at this instant (an aware datetime)."""
    zone, today = _local_day(schedule, at)
    return any(
        start <= at < end
        for day in (today - timedelta(days=1), today, today + timedelta(days=1))
        for start, end in _day_periods(schedule, zone, day)
    )


def closed_period_start(schedule: Schedule, at: datetime) -> datetime | None:
    """None when open at ``at``; else when the closed period it falls in began: the end of
    the last open interval before it (holidays skipped), or, for a schedule never open
    within reach, the local midnight of ``at``'s day (see the module). In UTC."""
    if is_open(schedule, at):
        return None
    zone, today = _local_day(schedule, at)
    if schedule.intervals:
        for back in range(_reach_days(schedule) + 1):
            day = today - timedelta(days=back)
            ends = [end for _start, end in _day_periods(schedule, zone, day) if end <= at]
            if ends:
                return max(ends)
    return _instant(zone, today, 0)


def next_opening(schedule: Schedule, at: datetime) -> datetime | None:
    """``at`` itself when open; else when the department opens next (None: never, within
    reach of the schedule). In UTC."""
    if is_open(schedule, at):
        return at
    zone, today = _local_day(schedule, at)
    for ahead in range(_reach_days(schedule) + 1):
        starts = [start for start, _end in _day_periods(schedule, zone, today + timedelta(days=ahead)) if start > at]
        if starts:
            return min(starts)
    return None


@lru_cache(maxsize=4096)
def _sorted_day_periods(schedule: Schedule, day: date) -> tuple[tuple[datetime, datetime], ...]:
    # Cached: the SLA sweep walks the same few days of one schedule for thousands of waits.
    return tuple(sorted(_day_periods(schedule, _zone(schedule.time_zone), day)))


def open_periods(schedule: Schedule, since: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The open intervals from ``since`` on, in order, in UTC, the first one cut to start at
    ``since`` when it is open then (touching intervals, such as an overnight shift, come one
    after the other). Ends when a reach of the schedule (see `_reach_days`) holds no interval
    at all: a schedule that is never open yields nothing."""
    today = _local_day(schedule, since)[1]
    day, empty_days, reach = today - timedelta(days=1), 0, _reach_days(schedule)
    while empty_days <= reach:
        periods = _sorted_day_periods(schedule, day)
        empty_days = 0 if periods else empty_days + 1
        for start, end in periods:
            if end > since:
                yield max(start, since), end
        day += timedelta(days=1)


# --- Reading and checking a week as people write it -------------------------------------------

WEEKDAY_NAMES = (
    gettext_lazy("Monday"),
    gettext_lazy("Tuesday"),
    gettext_lazy("Wednesday"),
    gettext_lazy("Thursday"),
    gettext_lazy("Friday"),
    gettext_lazy("Saturday"),
    gettext_lazy("Sunday"),
)

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_RANGE_SEPARATORS = re.compile(r"\s*[-–—〜~]\s*")


class InvalidSchedule(InvalidInput):
    code = "invalid_schedule"
    default_message = gettext_lazy("The business hours are not valid.")


def clock_minutes(text: str, *, is_end: bool = False) -> int | None:
    """Minutes from midnight of "09:30" (None when it is no time); "24:00" only as an end."""
    match = _CLOCK.match(text.strip())
    if match is None:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not is_end)):
        return None
    return hours * 60 + minutes


def clock_text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def interval_text(start_minute: int, end_minute: int) -> str:
    return f"{clock_text(start_minute)}–{clock_text(end_minute)}"


def day_intervals_parse(weekday: int, text: str) -> list[tuple[int, int]]:
    """``"09:00-12:00, 13:00-18:00"`` as [(540, 720), (780, 1080)]; blank: closed that day.
    Raises InvalidSchedule naming the day; the ranges are then checked by `week_validate`."""
    ranges: list[tuple[int, int]] = []
    for part in re.split(r"[,、;\n]", text):
        part = part.strip()
        if not part:
            continue
        bounds = _RANGE_SEPARATORS.split(part)
        start = clock_minutes(bounds[0]) if len(bounds) == 2 else None
        end = clock_minutes(bounds[1], is_end=True) if len(bounds) == 2 else None
        if start is None or end is None:
            raise InvalidSchedule(
                _("%(day)s: “%(text)s” is not a time range such as 09:00-18:00.")
                % {"day": WEEKDAY_NAMES[weekday], "text": part}
            )
        ranges.append((start, end))
    return ranges


def week_validate(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """The intervals sorted, or InvalidSchedule naming the first day that is wrong: a range
    that ends before it starts (or where it starts), or two ranges of a day that overlap.
    Ranges that touch (12:00–13:00, 13:00–14:00) are one open period, not an overlap."""
    ordered = sorted(intervals)
    errors: list[str] = []
    previous: Interval | None = None
    for interval in ordered:
        day = WEEKDAY_NAMES[interval.weekday] if 0 <= interval.weekday <= 6 else str(interval.weekday)
        if not (0 <= interval.weekday <= 6):
            errors.append(_("%(day)s is no day of the week.") % {"day": day})
        elif not (0 <= interval.start_minute < MINUTES_PER_DAY and 0 < interval.end_minute <= MINUTES_PER_DAY):
            errors.append(_("%(day)s: times run from 00:00 to 24:00.") % {"day": day})
        elif interval.end_minute <= interval.start_minute:
            errors.append(
                _("%(day)s: %(range)s ends before it starts.")
                % {"day": day, "range": interval_text(interval.start_minute, interval.end_minute)}
            )
        elif (
            previous is not None
            and previous.weekday == interval.weekday
            and interval.start_minute < previous.end_minute
            and previous.end_minute > previous.start_minute
        ):
            errors.append(
                _("%(day)s: %(first)s and %(second)s overlap.")
                % {
                    "day": day,
                    "first": interval_text(previous.start_minute, previous.end_minute),
                    "second": interval_text(interval.start_minute, interval.end_minute),
                }
            )
        previous = interval
    if errors:
        raise InvalidSchedule(errors[0], details={"intervals": errors})
    return tuple(ordered)


# --- Selectors ---------------------------------------------------------------------------------


def _schedule_of(business_hours: BusinessHours, time_zone: str) -> Schedule:
    return Schedule(
        time_zone=time_zone,
        intervals=tuple(
            Interval(row.weekday, row.start_minute, row.end_minute) for row in business_hours.intervals.all()
        ),
        holidays=frozenset(row.date for row in business_hours.holidays.all()),
    )


@dataclass(frozen=True, slots=True)
class DepartmentHours:
    """A department's business hours in use: its schedule and its out-of-hours reply."""

    schedule: Schedule
    out_of_hours_reply_en: str
    out_of_hours_reply_ja: str

    def out_of_hours_reply(self, language: str) -> str:
        """The reply in this language, else in the other one (blank: there is none)."""
        english, japanese = self.out_of_hours_reply_en.strip(), self.out_of_hours_reply_ja.strip()
        return (japanese or english) if language == "ja" else (english or japanese)


def department_hours(*, department_id: int) -> DepartmentHours | None:
    """The department's business hours when they are in use (None: not enabled, or never
    set). Read from the database each time: the out-of-hours reply decides on it."""
    business_hours = (
        BusinessHours.objects.filter(department_id=department_id, is_enabled=True)
        .select_related("organization")
        .prefetch_related("intervals", "holidays")
        .first()
    )
    if business_hours is None:
        return None
    return DepartmentHours(
        schedule=_schedule_of(business_hours, business_hours.organization.time_zone),
        out_of_hours_reply_en=business_hours.out_of_hours_reply_en,
        out_of_hours_reply_ja=business_hours.out_of_hours_reply_ja,
    )


def business_hours_schedule(*, department: Department | int) -> Schedule | None:
    """The department's schedule, in the organization's time zone; None when business hours
    are not enabled (or were never set): then the department counts as always open."""
    hours = department_hours(department_id=department if isinstance(department, int) else department.pk)
    return None if hours is None else hours.schedule


def schedules_by_department(*, organization: Organization) -> dict[int, Schedule]:
    """{department_id: schedule} of the organization's departments with business hours in
    use (three queries however many departments)."""
    rows = (
        BusinessHours.objects.filter(organization=organization, is_enabled=True)
        .select_related("organization")
        .prefetch_related("intervals", "holidays")
    )
    return {row.department_id: _schedule_of(row, row.organization.time_zone) for row in rows}


def business_hours_get(*, organization: Organization, department_id: int) -> BusinessHours | None:
    """The department's settings row with its intervals and holidays (None: never set), for
    the settings page and the API."""
    return (
        BusinessHours.objects.filter(organization=organization, department_id=department_id)
        .prefetch_related("intervals", "holidays")
        .first()
    )


DEPARTMENTS_CACHE_SECONDS = 30.0
_departments_cache: tuple[float, frozenset[int]] | None = None
_departments_lock = threading.Lock()


def departments_with_business_hours() -> frozenset[int]:
    """The ids of the departments (of every organization) with business hours enabled, so
    that the webhook queues the out-of-hours reply only where it may apply. Kept in the
    process for `DEPARTMENTS_CACHE_SECONDS`: a department enabled in another process is seen
    that much later; a change through `channels.services.business_hours_set` in this process
    at once (it calls `departments_with_business_hours_forget`). The task re-reads the
    department itself, so a stale entry costs a task, never a wrong reply."""
    global _departments_cache
    now = monotonic_time.monotonic()
    cached = _departments_cache
    if cached is not None and cached[0] > now:
        return cached[1]
    with _departments_lock:
        ids = frozenset(BusinessHours.objects.filter(is_enabled=True).values_list("department_id", flat=True))
        _departments_cache = (now + DEPARTMENTS_CACHE_SECONDS, ids)
    return ids


def departments_with_business_hours_forget() -> None:
    """Forget the process's copy (after a change, and between tests)."""
    global _departments_cache
    with _departments_lock:
        _departments_cache = None
