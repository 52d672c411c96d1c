"""Reads of customer satisfaction: the ratings of a conversation or a ticket, and the average
and distribution of a period (for the reports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Avg, Count, Q, QuerySet

from csat.models import Survey, SurveyStatus
from helpdesk.models import Organization
from messenger.models import Conversation
from tickets.models import Ticket

SCORES = (1, 2, 3, 4, 5)


def conversation_surveys(*, organization: Organization, conversation: Conversation) -> QuerySet[Survey]:
    """The conversation's surveys, newest first (the caller found the conversation through a
    selector that checks who may see it)."""
    return (
        Survey.objects.filter(organization=organization, conversation_id=conversation.pk)
        .select_related("agent")
        .order_by("-asked_at", "-pk")
    )


def ticket_surveys(*, organization: Organization, ticket: Ticket) -> QuerySet[Survey]:
    return (
        Survey.objects.filter(organization=organization, conversation_id=ticket.conversation_id, ticket_id=ticket.pk)
        .select_related("agent")
        .order_by("-asked_at", "-pk")
    )


@dataclass(frozen=True)
class RatingSummary:
    """The answers of a period: how many, their average (None: none) and how many of each score."""

    answered: int
    average: float | None
    distribution: dict[int, int] = field(default_factory=dict)
    asked: int = 0
    not_sent: int = 0

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.asked if self.asked else None


def rating_summary(
    *,
    organization: Organization,
    since: datetime,
    until: datetime,
    channel_ids: list[int] | None = None,
    department_ids: list[int] | None = None,
    agent_ids: list[int] | None = None,
) -> RatingSummary:
    """Ratings answered in [since, until) (by the time of the answer), optionally of some
    channels, departments (as they were at the close) and agents (who closed). Asked and not
    sent count the surveys of the same filters asked in the period. Three indexed queries."""
    surveys = Survey.objects.filter(organization=organization)
    if channel_ids is not None:
        surveys = surveys.filter(channel_id__in=channel_ids)
    if department_ids is not None:
        surveys = surveys.filter(department_id__in=department_ids)
    if agent_ids is not None:
        surveys = surveys.filter(agent_id__in=agent_ids)
    answered = surveys.filter(score__isnull=False, answered_at__gte=since, answered_at__lt=until)
    by_score = dict(answered.values_list("score").annotate(n=Count("pk")).values_list("score", "n").order_by())
    average = answered.aggregate(average=Avg("score"))["average"]
    asked = surveys.filter(asked_at__gte=since, asked_at__lt=until).aggregate(
        sent=Count("pk", filter=Q(status=SurveyStatus.SENT)), not_sent=Count("pk", filter=~Q(status=SurveyStatus.SENT))
    )
    return RatingSummary(
        answered=sum(by_score.values()),
        average=float(average) if average is not None else None,
        distribution={score: by_score.get(score, 0) for score in SCORES},
        asked=asked["sent"],
        not_sent=asked["not_sent"],
    )
