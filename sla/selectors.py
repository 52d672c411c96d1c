"""Reads of SLA policies, and the book the sweeps look targets up in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet

from channels.hours import Schedule, schedules_by_department
from helpdesk.exceptions import NotFound
from helpdesk.models import Organization
from sla import clocks
from sla.models import SlaClock, SlaPolicy


def policy_list(*, organization: Organization) -> QuerySet[SlaPolicy]:
    """The organization's policies, department ones first, with their department and channel."""
    return (
        SlaPolicy.objects.filter(organization=organization)
        .select_related("department", "channel")
        .order_by("department__name", "channel__name", "pk")
    )


def policy_get(*, organization: Organization, policy_id: int) -> SlaPolicy:
    policy = SlaPolicy.objects.filter(organization=organization, pk=policy_id).first()
    if policy is None:
        raise NotFound()
    return policy


@dataclass(frozen=True, slots=True)
class TargetTimes:
    """When a target started is at risk and falls due (None: no due time)."""

    warn_at: datetime | None
    due_at: datetime | None


NO_TARGET = TargetTimes(warn_at=None, due_at=None)


@dataclass
class PolicyBook:
    """The policies and business hours of some organizations, read once for a batch of a sweep."""

    by_department: dict[int, SlaPolicy] = field(default_factory=dict)
    by_channel: dict[int, SlaPolicy] = field(default_factory=dict)
    schedules: dict[int, Schedule] = field(default_factory=dict)
    # One walk of each department's hours for all the waits of the batch (sla.clocks.Timeline).
    timelines: dict[int, clocks.Timeline] = field(default_factory=dict)

    def policy(self, *, department_id: int, channel_id: int | None) -> SlaPolicy | None:
        """The channel's policy, else its department's."""
        if channel_id is not None and channel_id in self.by_channel:
            return self.by_channel[channel_id]
        return self.by_department.get(department_id)

    def times(self, *, department_id: int, channel_id: int | None, target: str, start: datetime) -> TargetTimes:
        policy = self.policy(department_id=department_id, channel_id=channel_id)
        minutes = policy.minutes_of(target) if policy is not None else None
        if policy is None or not minutes:
            return NO_TARGET
        schedule = self.schedules.get(department_id) if policy.clock == SlaClock.BUSINESS_HOURS else None
        wanted = (clocks.warn_minutes(minutes), minutes)
        if schedule is None:
            warn, due = clocks.due_times(start=start, minutes=wanted, schedule=None)
        else:
            timeline = self.timelines.get(department_id)
            if timeline is None:
                timeline = self.timelines[department_id] = clocks.Timeline(schedule)
            warn, due = timeline.due_times(start=start, minutes=wanted)
        if due is None:
            return NO_TARGET
        return TargetTimes(warn_at=min(warn or due, due), due_at=due)


def policy_book(*, organizations: Iterable[Organization]) -> PolicyBook:
    """The book of these organizations: one query for the policies, three per organization
    that has a business-hours policy (its schedules)."""
    book = PolicyBook()
    organizations = list(organizations)
    policies = list(SlaPolicy.objects.filter(organization__in=organizations))
    for policy in policies:
        if policy.channel_id is None:
            book.by_department[policy.department_id] = policy
        else:
            book.by_channel[policy.channel_id] = policy
    with_hours = {policy.organization_id for policy in policies if policy.clock == SlaClock.BUSINESS_HOURS}
    for organization in organizations:
        if organization.pk in with_hours:
            book.schedules.update(schedules_by_department(organization=organization))
    return book
