"""The clocks of a target, as pure functions: when a target started at an instant falls due,
and how many minutes of a clock lie between two instants.

A clock is a department's business hours (a `channels.hours.Schedule`: nights, weekends,
holidays and daylight saving time as that module reads them) or the wall clock (``None``).
A target of N minutes counted in business hours is due once N open minutes have passed
after its start; a start outside the hours waits for the next opening. A schedule that never
opens has no due time (``None``): its clock never runs.
"""

from __future__ import annotations

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
