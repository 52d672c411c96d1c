"""Reads of channels, agent associations and per-department settings.

Who sees which channel's conversations, messages, contacts and tickets is one rule, in
`channels.visibility`; `channel_ids_visible_to` and `channel_visible_list` below read it.

Other areas call:

- `ticket_delay_minutes(organization=, department_id=)` for one department (the settings API);
- `ticket_delays_by_department()` for the idle sweep (tickets.services
  `ticket_sweep_idle_conversations`): every department's delay in one query, the one place
  the sweep learns how long each department waits;
- `ticket_delay_minutes_expression()`, the same rule as an expression to annotate rows by
  their department (that dict and the Tickets tab are built on it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from channels import visibility
from channels.models import (
    TICKET_DELAY_DEFAULT_MINUTES,
    AgentChannel,
    Channel,
    DepartmentSettings,
)
from helpdesk.converters import parse_id
from helpdesk.exceptions import NotFound
from helpdesk.models import Department, Membership, Organization, Role

# --- Channels ----------------------------------------------------------------------------


def channel_list(
    *, organization: Organization, kind: str | None = None, include_deleted: bool = False
) -> QuerySet[Channel]:
    channels = Channel.objects.filter(organization=organization).select_related("department")
    if kind is not None:
        channels = channels.filter(kind=kind)
    if not include_deleted:
        channels = channels.filter(deleted_at__isnull=True)
    return channels.order_by("name", "id")


def channel_get(*, organization: Organization, channel_id: int | str, include_deleted: bool = False) -> Channel:
    channel = (
        channel_list(organization=organization, include_deleted=include_deleted).filter(pk=_as_id(channel_id)).first()
    )
    if channel is None:
        raise NotFound
    return channel


@dataclass(frozen=True, slots=True)
class ChannelQuota:
    """An organization may have as many channels (deleted ones not counted) as departments."""

    used: int
    limit: int

    @property
    def can_create(self) -> bool:
        return self.used < self.limit

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


def channel_quota(*, organization: Organization) -> ChannelQuota:
    return ChannelQuota(
        used=Channel.objects.filter(organization=organization, deleted_at__isnull=True).count(),
        limit=Department.objects.filter(organization=organization, deleted_at__isnull=True).count(),
    )


def channel_ids_visible_to(*, organization: Organization, membership: Membership) -> list[int] | None:
    """None for admins (every channel); otherwise the ids of the channels the agent sees
    (channels.visibility: associated with it and working in its department)."""
    visible = visibility.visible_channel_ids(organization=organization, membership=membership)
    return None if visible is None else sorted(visible.values_list("channel_id", flat=True))


def channel_visible_list(*, organization: Organization, membership: Membership) -> QuerySet[Channel]:
    """The live-or-disabled (not deleted) channels a member may see."""
    channels = channel_list(organization=organization)
    visible = visibility.visible_channel_ids(organization=organization, membership=membership)
    return channels if visible is None else channels.filter(pk__in=visible)


# --- Agents ------------------------------------------------------------------------------


def _active_agents(*, organization: Organization) -> QuerySet[Membership]:
    # Admins are left out: they see every channel anyway.
    return Membership.objects.filter(organization=organization, role=Role.AGENT, is_active=True)


def department_agent_list(*, organization: Organization, department_id: int) -> QuerySet[Membership]:
    """The active agents who work in this department (admins see every channel anyway)."""
    return (
        _active_agents(organization=organization)
        .filter(departments__id=department_id)
        .select_related("user")
        .order_by("user__username")
        .distinct()
    )


def department_ids_with_agents(*, organization: Organization) -> set[int]:
    """The departments where at least one active agent works (one query)."""
    return set(
        _active_agents(organization=organization)
        .filter(departments__isnull=False)
        .values_list("departments__id", flat=True)
    )


def agent_channel_ids(*, organization: Organization, membership_ids: Iterable[int]) -> dict[int, set[int]]:
    """For each membership, the ids of the channels it is associated with (one query)."""
    links: dict[int, set[int]] = {}
    rows = AgentChannel.objects.filter(organization=organization, membership_id__in=list(membership_ids))
    for membership_id, channel_id in rows.values_list("membership_id", "channel_id"):
        links.setdefault(membership_id, set()).add(channel_id)
    return links


def channel_agent_list(*, organization: Organization, channel: Channel) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(
            organization=organization,
            channel_links__channel=channel,
            channel_links__organization=organization,
        )
        .select_related("user")
        .order_by("user__username")
    )


# --- Per-department settings -------------------------------------------------------------


def ticket_delay_minutes(*, organization: Organization, department_id: int) -> int:
    """Minutes of customer silence after which an open chat of this department becomes a ticket."""
    minutes = (
        DepartmentSettings.objects.filter(organization=organization, department_id=department_id)
        .values_list("ticket_delay_minutes", flat=True)
        .first()
    )
    return TICKET_DELAY_DEFAULT_MINUTES if minutes is None else minutes


def ticket_delays_by_department(*, organization: Organization | None = None) -> dict[int, int]:
    """{department_id: minutes} for every department (of one organization, or of all): what
    the idle sweep reads, in one query, before each run."""
    departments = (
        Department.objects.all() if organization is None else Department.objects.filter(organization=organization)
    )
    rows = departments.annotate(minutes=ticket_delay_minutes_expression("pk")).values_list("pk", "minutes")
    return dict(rows)


def ticket_delay_minutes_expression(department_field: str = "department_id") -> Coalesce:
    """An expression giving the ticket delay of the row's department, for `.annotate()`:
    `Conversation.objects.annotate(delay=ticket_delay_minutes_expression())`. The default
    applies to a department with no settings row, here as in the sweep's dict."""
    configured = DepartmentSettings.objects.filter(department_id=OuterRef(department_field)).values(
        "ticket_delay_minutes"
    )[:1]
    return Coalesce(
        Subquery(configured, output_field=IntegerField()),
        Value(TICKET_DELAY_DEFAULT_MINUTES),
        output_field=IntegerField(),
    )


def department_settings_list(*, organization: Organization) -> list[tuple[Department, int]]:
    """Each department of the organization with its ticket delay, by name."""
    departments = (
        Department.objects.filter(organization=organization, deleted_at__isnull=True)
        .annotate(minutes=ticket_delay_minutes_expression("pk"))
        .order_by("name")
    )
    return [(department, department.minutes) for department in departments]


# --- Helpers -----------------------------------------------------------------------------


def _as_id(value: int | str) -> int:
    return parse_id(value)
