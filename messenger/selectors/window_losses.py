"""Conversations lost to a closed reply window (messenger.window_alerts records them),
counted for the reports over a period: in total or by channel, department or agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count

from helpdesk.models import Organization
from messenger.models import WindowLoss

WINDOW_LOSS_GROUPS = {"channel": "channel_id", "department": "department_id", "agent": "assignee_id"}


@dataclass(frozen=True, slots=True)
class WindowLossCount:
    """How many conversations were lost to a closed window: in one group (a channel,
    department or agent id; None: no agent, or the total when not grouped)."""

    key: int | None
    count: int


def window_loss_counts(
    *,
    organization: Organization,
    since: datetime,
    until: datetime,
    by: str | None = None,
    channel_ids: Any = None,
    agent_id: int | None = None,
) -> list[WindowLossCount]:
    """Conversations whose customer's last message was never answered before the 7-day window
    closed, counted by when it closed (``since`` included, ``until`` excluded), where they stood
    then: in total (``by`` None) or by ``channel``, ``department`` or ``agent`` (the assignee at
    that time; None for nobody), largest first. ``channel_ids`` and ``agent_id`` narrow the
    count (an agent's own report: the caller decides). One query, on (organization, lost_at)."""
    losses = WindowLoss.objects.filter(organization=organization, lost_at__gte=since, lost_at__lt=until)
    if channel_ids is not None:
        losses = losses.filter(channel_id__in=list(channel_ids))
    if agent_id is not None:
        losses = losses.filter(assignee_id=agent_id)
    if by is None:
        return [WindowLossCount(key=None, count=losses.count())]
    field = WINDOW_LOSS_GROUPS[by]
    grouped = losses.values(field).annotate(count=Count("pk")).order_by("-count", field)
    return [WindowLossCount(key=row[field], count=row["count"]) for row in grouped]
