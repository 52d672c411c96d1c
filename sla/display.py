"""The words and colours of an SLA state, for the lists' rows and the detail pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from helpdesk import datetimes
from sla.models import SlaTarget
from sla.state import SlaState, SlaStatus

BADGE_CLASSES = {
    SlaStatus.ON_TRACK: "text-bg-light border",
    SlaStatus.AT_RISK: "text-bg-warning",
    SlaStatus.BREACHED: "text-bg-danger",
}


@dataclass(frozen=True, slots=True)
class SlaBadge:
    status: str
    css: str
    # "At risk · 10 min left", "Breached · 2 h overdue": the badge's visible words. The state
    # is said in words, not only by the badge's colour (on track and at risk both count down).
    text: str
    # "First response: At risk, 10 min left, due 7 Dec 2026 10:50": its title and what a
    # screen reader says instead of the visible words.
    title: str


def duration_text(duration: timedelta) -> str:
    """Rounded down, as the reply window's countdown (a minute at least)."""
    seconds = max(int(duration.total_seconds()), 0)
    days, hours, minutes = seconds // 86400, seconds // 3600, seconds // 60
    if days >= 1:
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    if hours >= 1:
        return _("%(count)d h") % {"count": hours}
    return _("%(count)d min") % {"count": max(minutes, 1)}


def sla_badge(state: SlaState | None) -> SlaBadge | None:
    """The badge of a running target (None: nothing to show). In the active language and time zone."""
    if state is None:
        return None
    if state.status == SlaStatus.BREACHED:
        time = _("%(duration)s overdue") % {"duration": duration_text(state.overdue)}
    else:
        time = _("%(duration)s left") % {"duration": duration_text(state.time_left)}
    text = _("%(status)s · %(time)s") % {"status": state.label, "time": time}
    title = _("%(target)s: %(status)s, %(time)s, due %(when)s") % {
        "target": str(SlaTarget(state.target).label),
        "status": state.label,
        "time": time,
        "when": datetimes.datetime_text(state.due_at),
    }
    return SlaBadge(status=state.status.value, css=BADGE_CLASSES[state.status], text=text, title=title)
