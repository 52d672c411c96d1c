"""The clocks of a target, as pure functions: when a target started at an instant falls due,
and how many minutes of a clock lie between two instants.

A clock is a department's business hours (a `channels.hours.Schedule`: nights, weekends,
holidays and daylight saving time as that module reads them) or the wall clock (``None``).
A target of N minutes counted in business hours is due once N open minutes have passed
after its start; a start outside the hours waits for the next opening. A schedule that never
opens has no due time (``None``): its clock never runs.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from datetime import datetime, timedelta

from channels.hours import Schedule, open_periods

# The last share of a target during which it is "at risk" (and its holder warned).
AT_RISK_SHARE = 0.2


def due_at(*, start: datetime, minutes: int, schedule: Schedule | None) -> datetime | None:
    """``start`` plus ``minutes`` of the clock (None: a schedule that never opens)."""
    return due_times(start=start, minutes=(minutes,), schedule=schedule)[0]


def due_times(*, start: datetime, minutes: tuple[int, ...], schedule: Schedule | None) -> list[datetime | None]:
    """`due_at` of several targets from one start (ascending minutes), in one walk of the hours."""
    if schedule is None:
        return [start + timedelta(minutes=n) for n in minutes]
    found: list[datetime | None] = []
    elapsed = timedelta()
    pending = [timedelta(minutes=n) for n in minutes]
    for opens, closes in open_periods(schedule, start):
        while pending and pending[0] - elapsed <= closes - opens:
            found.append(opens + (pending.pop(0) - elapsed))
        if not pending:
            return found
        elapsed += closes - opens
    return found + [None] * len(pending)


def warn_minutes(minutes: int) -> int:
    """After how many minutes of the clock a target of ``minutes`` is at risk: its last fifth
    (at least one minute before it is due)."""
    return max(0, minutes - max(1, round(minutes * AT_RISK_SHARE)))


def minutes_between(*, start: datetime, end: datetime, schedule: Schedule | None) -> float:
    """The minutes of the clock from ``start`` to ``end`` (0 when ``end`` is not later)."""
    if end <= start:
        return 0.0
    if schedule is None:
        return (end - start).total_seconds() / 60
    total = timedelta()
    for opens, closes in open_periods(schedule, start):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return total.total_seconds() / 60


# How far before the earliest start a timeline reaches back when it is built (see Timeline).
_TIMELINE_LEAD = timedelta(days=7)


class Timeline:
    """`due_times` for many starts in one schedule: its open periods walked once, with the
    open time before each, so that a due time is two binary searches instead of a walk of the
    hours. The SLA sweeps time thousands of waits a minute in the same few departments; the
    answers are those of `due_times` (tests/sla/test_clocks.py holds the two to agreeing).

    Built lazily from a week before the first start asked; a start before that rebuilds it
    from a week before that start; it extends forward as far as the targets need."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self._since: datetime | None = None
        self._periods: Iterator[tuple[datetime, datetime]] = iter(())
        self._opens: list[datetime] = []
        self._closes: list[datetime] = []
        self._before: list[timedelta] = []  # open time of the timeline before each period
        self._after: list[timedelta] = []  # … and up to its end
        self._ended = False
        # Starts outside the hours wait for the same opening, so they fall due together:
        # their answers by (period, minutes).
        self._from_opening: dict[tuple[int, tuple[int, ...]], list[datetime | None]] = {}

    def _build(self, since: datetime) -> None:
        self._since = since
        self._periods = open_periods(self.schedule, since)
        self._opens, self._closes, self._before, self._after = [], [], [], []
        self._ended = False
        self._from_opening = {}

    def _extend(self) -> bool:
        """One period more; False once the schedule has none (it never opens again)."""
        if self._ended:
            return False
        period = next(self._periods, None)
        if period is None:
            self._ended = True
            return False
        opens, closes = period
        before = self._after[-1] if self._after else timedelta()
        self._opens.append(opens)
        self._closes.append(closes)
        self._before.append(before)
        self._after.append(before + (closes - opens))
        return True

    def due_times(self, *, start: datetime, minutes: tuple[int, ...]) -> list[datetime | None]:
        if self._since is None or start < self._since:
            self._build(start - _TIMELINE_LEAD)
        # The first period that ends after the start (the start lies in it or before it).
        while not self._closes or self._closes[-1] <= start:
            if not self._extend():
                return [None] * len(minutes)
        first = bisect_right(self._closes, start)
        if start <= self._opens[first]:
            known = self._from_opening.get((first, minutes))
            if known is None:
                known = self._from_opening[(first, minutes)] = self._due_from(first, self._before[first], minutes)
            return list(known)
        return self._due_from(first, self._before[first] + (start - self._opens[first]), minutes)

    def _due_from(self, first: int, offset: timedelta, minutes: tuple[int, ...]) -> list[datetime | None]:
        """The due times of targets counted from ``offset`` of open time (in period ``first``)."""
        found: list[datetime | None] = []
        for target in minutes:
            wanted = offset + timedelta(minutes=target)
            while self._after[-1] < wanted:
                if not self._extend():
                    break
            index = bisect_left(self._after, wanted, lo=first)
            if index == len(self._after):
                found.append(None)
                continue
            found.append(self._opens[index] + (wanted - self._before[index]))
        return found
