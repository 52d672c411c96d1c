"""What a target's kept times mean at an instant: on track, at risk or breached, and the
time left (negative: overdue). Pure; the lists and pages ask it for each row they show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class SlaStatus(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"


STATUS_LABELS = {
    SlaStatus.ON_TRACK: _("On track"),
    SlaStatus.AT_RISK: _("At risk"),
    SlaStatus.BREACHED: _("Breached"),
}


@dataclass(frozen=True, slots=True)
class SlaState:
    target: str
    status: SlaStatus
    due_at: datetime
    time_left: timedelta

    @property
    def label(self) -> str:
        return str(STATUS_LABELS[self.status])

    @property
    def overdue(self) -> timedelta:
        return -self.time_left


def sla_state(*, target: str, due_at: datetime | None, warn_at: datetime | None, now: datetime) -> SlaState | None:
    """The state of a running target (None: there is no due time)."""
    if due_at is None:
        return None
    if now >= due_at:
        status = SlaStatus.BREACHED
    elif warn_at is not None and now >= warn_at:
        status = SlaStatus.AT_RISK
    else:
        status = SlaStatus.ON_TRACK
    return SlaState(target=target, status=status, due_at=due_at, time_left=due_at - now)


def status_filter(status: SlaStatus, *, now: datetime, due: str, warn: str) -> Q:
    """The same rule in SQL over the fields named ``due`` and ``warn`` (the caller adds
    what makes the target running)."""
    if status == SlaStatus.BREACHED:
        return Q(**{f"{due}__lte": now})
    if status == SlaStatus.AT_RISK:
        return Q(**{f"{warn}__lte": now, f"{due}__gt": now})
    return Q(**{f"{due}__gt": now}) & (Q(**{f"{warn}__isnull": True}) | Q(**{f"{warn}__gt": now}))


def status_parse(value: object) -> SlaStatus | None:
    """A filter parameter (``sla=at_risk``); anything else is no filter."""
    return SlaStatus(value) if isinstance(value, str) and value in SlaStatus._value2member_map_ else None
