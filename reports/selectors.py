"""The reports: each one a table of figures over a period, grouped by day, week, channel,
department or agent, read from data kept for reporting (reports.models.ConversationFact, the
canned responses' use log, the availability changes), never from the messages.

Days are the organization's (its time zone). Medians and 90th percentiles are PostgreSQL's
``percentile_cont`` (linear interpolation between the two nearest values), in wall-clock
seconds. Admins see the whole organization; an agent sees only their own figures (the
conversations they hold, within the channels they see; their own canned responses and time
online), whatever group they ask for.

Adding a figure to a report is one ``Metric`` (its SQL aggregate over the facts) in the
report's list: the API, the CSV, the table and the chart follow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from availability.models import AvailabilityChange, Status
from canned.models import CannedResponse, CannedResponseUse
from channels import visibility
from channels.models import Channel
from csat.models import Survey
from helpdesk import datetimes
from helpdesk.exceptions import InvalidInput, InvalidPeriod, NotFound, ReportsUnavailable
from helpdesk.models import Department, Membership, Organization
from messenger.models import Conversation, WindowLoss
from reports.models import ConversationFact, FactsWatermark

MAX_PERIOD = timedelta(days=731)  # two years, a leap day included
# Days a report may name: far enough either way for any real figure, short of the calendar's
# ends (a period ending on 9999-12-31 has no next midnight).
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2999, 12, 31)
DEFAULT_PERIOD_DAYS = 28


class Group(StrEnum):
    DAY = "day"
    WEEK = "week"
    CHANNEL = "channel"
    DEPARTMENT = "department"
    AGENT = "agent"
    RESPONSE = "response"


GROUP_LABELS: dict[Group, Promise] = {
    Group.DAY: pgettext_lazy("report group", "Day"),
    Group.WEEK: pgettext_lazy("report group", "Week"),
    Group.CHANNEL: pgettext_lazy("report group", "Channel"),
    Group.DEPARTMENT: pgettext_lazy("report group", "Department"),
    Group.AGENT: pgettext_lazy("report group", "Agent"),
    Group.RESPONSE: pgettext_lazy("report group", "Canned response"),
}


class Unit(StrEnum):
    COUNT = "count"
    SECONDS = "seconds"
    # A share of 100 (SLA achievement).
    PERCENT = "percent"
    # An average of scores (CSAT, 1 to 5).
    SCORE = "score"


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date  # included

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def period_check(*, start: date, end: date) -> Period:
    """The period from `start` to `end` (both included), or InvalidPeriod."""
    if end < start or end - start >= MAX_PERIOD or start < EARLIEST_DAY or end > LATEST_DAY:
        raise InvalidPeriod
    return Period(start, end)


def default_period(*, organization: Organization, now: datetime | None = None) -> Period:
    """The last four weeks, today included, in the organization's time zone."""
    today = timezone.localtime(now or timezone.now(), datetimes.zone(organization.time_zone)).date()
    return Period(today - timedelta(days=DEFAULT_PERIOD_DAYS - 1), today)


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    label: Promise
    unit: Unit
    # Its aggregate over the report's source rows (SQL; the parameters are named).
    sql: str


@dataclass(frozen=True, slots=True)
class ReportQuery:
    organization: Organization
    membership: Membership
    period: Period
    group: Group
    now: datetime


@dataclass(frozen=True, slots=True)
class ReportRow:
    key: Any
    label: str
    values: dict[str, float | int | None]


@dataclass(frozen=True, slots=True)
class Report:
    name: str
    title: Promise
    description: Promise
    metrics: tuple[Metric, ...]
    groups: tuple[Group, ...]
    rows: Callable[[Report, ReportQuery], list[tuple[Any, Sequence[Any]]]]
    # The metric the chart draws.
    chart_metric: str


@dataclass(frozen=True, slots=True)
class ReportTable:
    report: Report
    query: ReportQuery
    rows: list[ReportRow]
    facts_refreshed_at: datetime | None


# --- Where each report reads ----------------------------------------------------------------


def _bucket_sql(group: Group, *, time_column: str) -> str:
    local = f"({time_column} AT TIME ZONE %(tz)s)"
    if group == Group.DAY:
        return f"{local}::date"
    return f"date_trunc('week', {local})::date"


def _period_bounds(query: ReportQuery) -> tuple[datetime, datetime]:
    zone = datetimes.zone(query.organization.time_zone)
    start = datetime.combine(query.period.start, time.min, tzinfo=zone)
    end = datetime.combine(query.period.end + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def _params(query: ReportQuery) -> dict[str, Any]:
    start, end = _period_bounds(query)
    return {
        "organization": query.organization.pk,
        # A name PostgreSQL knows too (the same test as helpdesk.datetimes.zone).
        "tz": query.organization.time_zone if datetimes.is_time_zone(query.organization.time_zone) else "UTC",
        "start": start,
        "end": end,
        "now": query.now,
        "user": query.membership.user_id,
    }


def _run(sql: str, params: dict[str, Any]) -> list[tuple[Any, Sequence[Any]]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(row[0], row[1:]) for row in cursor.fetchall()]


def _channel_scope(query: ReportQuery, params: dict[str, Any], alias: str) -> str:
    """An agent's rows: only of the channels they see (one query; none for all of them)."""
    channels = visibility.visible_channel_ids(organization=query.organization, membership=query.membership)
    if channels is None:
        return ""
    params["channels"] = list(
        Channel.objects.filter(organization=query.organization, pk__in=channels).values_list("pk", flat=True)
    )
    return f" AND {alias}.channel_id = ANY(%(channels)s)"


def _fact_rows(report: Report, query: ReportQuery) -> list[tuple[Any, Sequence[Any]]]:
    fact = ConversationFact._meta.db_table
    key = {
        Group.CHANNEL: "f.channel_id",
        Group.DEPARTMENT: "f.department_id",
        Group.AGENT: "f.assignee_id",
    }.get(query.group) or _bucket_sql(query.group, time_column="f.received_at")
    params = _params(query)
    scope = "" if query.membership.is_admin else "AND f.assignee_id = %(user)s" + _channel_scope(query, params, "f")
    aggregates = ", ".join(metric.sql for metric in report.metrics)
    sql = f"""
        SELECT {key} AS key, {aggregates} FROM {fact} f
        WHERE f.organization_id = %(organization)s AND f.received_at >= %(start)s AND f.received_at < %(end)s
        {scope}
        GROUP BY 1 ORDER BY 1
    """  # noqa: S608 (table names from the models, figures from REPORTS)
    return _run(sql, params)


def _canned_rows(report: Report, query: ReportQuery) -> list[tuple[Any, Sequence[Any]]]:
    use = CannedResponseUse._meta.db_table
    conversation = Conversation._meta.db_table
    key = {
        Group.CHANNEL: "c.channel_id",
        Group.DEPARTMENT: "c.department_id",
        Group.AGENT: "u.user_id",
        Group.RESPONSE: "u.canned_response_id",
    }.get(query.group) or _bucket_sql(query.group, time_column="u.used_at")
    join = f"LEFT JOIN {conversation} c ON c.id = u.conversation_id" if key.startswith("c.") else ""
    scope = "" if query.membership.is_admin else "AND u.user_id = %(user)s"
    aggregates = ", ".join(metric.sql for metric in report.metrics)
    sql = f"""
        SELECT {key} AS key, {aggregates} FROM {use} u {join}
        WHERE u.organization_id = %(organization)s AND u.used_at >= %(start)s AND u.used_at < %(end)s {scope}
        GROUP BY 1 ORDER BY 1
    """  # noqa: S608 (table names from the models, figures from REPORTS)
    return _run(sql, _params(query))


def _availability_rows(report: Report, query: ReportQuery) -> list[tuple[Any, Sequence[Any]]]:
    """Time online: each online spell cut at the organization's midnights (one spell across
    midnight counts on both days), an open spell up to now."""
    change = AvailabilityChange._meta.db_table
    member = Membership._meta.db_table
    key = "m.user_id" if query.group == Group.AGENT else _bucket_sql(query.group, time_column="d.day_start")
    scope = "" if query.membership.is_admin else "AND m.user_id = %(user)s"
    aggregates = ", ".join(metric.sql for metric in report.metrics)
    sql = f"""
        WITH spells AS (
            SELECT a.membership_id, GREATEST(a.started_at, %(start)s) AS spell_start,
                LEAST(COALESCE(a.ended_at, %(now)s), %(end)s, %(now)s) AS spell_end
            FROM {change} a
            WHERE a.organization_id = %(organization)s AND a.status = %(online)s
                AND a.started_at < %(end)s AND COALESCE(a.ended_at, %(now)s) > %(start)s
        ), pieces AS (
            -- Each spell cut into the organization's days it touches (one or two, mostly).
            SELECT s.membership_id, local_day AT TIME ZONE %(tz)s AS day_start,
                LEAST(s.spell_end, (local_day + interval '1 day') AT TIME ZONE %(tz)s)
                    - GREATEST(s.spell_start, local_day AT TIME ZONE %(tz)s) AS online
            FROM spells s CROSS JOIN LATERAL generate_series(
                date_trunc('day', s.spell_start AT TIME ZONE %(tz)s),
                date_trunc('day', s.spell_end AT TIME ZONE %(tz)s),
                interval '1 day'
            ) AS local_day
            WHERE s.spell_end > s.spell_start
        )
        SELECT {key} AS key, {aggregates} FROM pieces d JOIN {member} m ON m.id = d.membership_id
        WHERE d.online > interval '0' {scope}
        GROUP BY 1 ORDER BY 1
    """  # noqa: S608 (table names from the models, figures from REPORTS)
    return _run(sql, {**_params(query), "online": Status.ONLINE.value})


def _seconds(expression: str) -> str:
    return f"extract(epoch FROM {expression})"


def _percentile(fraction: float, expression: str, name: str) -> str:
    """`expression`: seconds."""
    return f"percentile_cont({fraction}) WITHIN GROUP (ORDER BY {expression}) AS {name}"


# Lost to a closed window: what the window-alerts job recorded (messenger.models.WindowLoss,
# written by messenger.services.window_alerts as messenger.window_alerts defines it), never a
# second rule here. The unique (conversation, inbound_at) index answers each row's question.
_LOST = (
    f"count(*) FILTER (WHERE EXISTS (SELECT 1 FROM {WindowLoss._meta.db_table} w"  # noqa: S608 (the table name is the model's)
    " WHERE w.conversation_id = f.conversation_id))"
)
# In the clock of the SLA policy (business hours where it says so), computed by the facts job.
_FIRST_RESPONSE = "f.first_response_seconds"
_RESOLUTION = "f.resolution_seconds"

# A target met: done by its due time; breached: done later, or still not done at `now`. Facts
# without a target count in neither.
_FIRST_RESPONSE_MET = "f.first_response_at <= f.first_response_due_at"
_FIRST_RESPONSE_BREACHED = "COALESCE(f.first_response_at, %(now)s) > f.first_response_due_at"
_NEXT_RESPONSE_MET = "sum(f.next_response_met)"
_NEXT_RESPONSE_BREACHED = "(sum(f.next_response_breached) + count(*) FILTER (WHERE f.next_response_due_at < %(now)s))"
_RESOLUTION_MET = "f.resolved_at <= f.resolution_due_at"
_RESOLUTION_BREACHED = "COALESCE(f.resolved_at, %(now)s) > f.resolution_due_at"


def _achievement(met: str, breached: str, name: str) -> str:
    return (
        f"round(100.0 * count(*) FILTER (WHERE {met})"
        f" / NULLIF(count(*) FILTER (WHERE {met} OR {breached}), 0), 1) AS {name}"
    )


def _csat_rows(report: Report, query: ReportQuery) -> list[tuple[Any, Sequence[Any]]]:
    """The ratings answered in the period (csat.models.Survey: by the time of the answer, where
    the conversation stood and who closed it then), read on csat's (organization, answered_at)
    index. An agent sees the ratings of the conversations they closed, within the channels
    they see."""
    survey = Survey._meta.db_table
    key = {
        Group.CHANNEL: "s.channel_id",
        Group.DEPARTMENT: "s.department_id",
        Group.AGENT: "s.agent_id",
    }.get(query.group) or _bucket_sql(query.group, time_column="s.answered_at")
    params = _params(query)
    scope = "" if query.membership.is_admin else "AND s.agent_id = %(user)s" + _channel_scope(query, params, "s")
    aggregates = ", ".join(metric.sql for metric in report.metrics)
    sql = f"""
        SELECT {key} AS key, {aggregates} FROM {survey} s
        WHERE s.organization_id = %(organization)s AND s.score IS NOT NULL
            AND s.answered_at >= %(start)s AND s.answered_at < %(end)s {scope}
        GROUP BY 1 ORDER BY 1
    """  # noqa: S608 (table names from the models, figures from REPORTS)
    return _run(sql, params)


# The distribution's columns (lazy texts: one msgid each, not a formatted one per request).
_SCORE_LABELS = {1: _("Rated 1"), 2: _("Rated 2"), 3: _("Rated 3"), 4: _("Rated 4"), 5: _("Rated 5")}


def _score_count(score: int) -> Metric:
    return Metric(f"score_{score}", _SCORE_LABELS[score], Unit.COUNT, f"count(*) FILTER (WHERE s.score = {score})")


REPORTS: dict[str, Report] = {
    report.name: report
    for report in (
        Report(
            name="conversations",
            title=_("Conversations"),
            description=_(
                "Conversations by when the customer first wrote: answered by a person, never answered, and lost "
                "to a closed window (a customer's message still unanswered when its 7-day window closed)."
            ),
            metrics=(
                Metric("received", _("Received"), Unit.COUNT, "count(*)"),
                Metric("answered", _("Answered"), Unit.COUNT, "count(f.first_response_at)"),
                Metric(
                    "unanswered", _("Unanswered"), Unit.COUNT, "count(*) FILTER (WHERE f.first_response_at IS NULL)"
                ),
                Metric(
                    "lost",
                    _("Lost to a closed window"),
                    Unit.COUNT,
                    _LOST,
                ),
            ),
            groups=(Group.DAY, Group.WEEK, Group.CHANNEL, Group.DEPARTMENT, Group.AGENT),
            rows=_fact_rows,
            chart_metric="received",
        ),
        Report(
            name="response-times",
            title=_("Response times"),
            description=_(
                "First response time (from the customer's first message to the first reply of a person) and "
                "resolution time (to the first resolution of its ticket), in business hours where the SLA "
                "policy counts business hours, else in wall-clock time."
            ),
            metrics=(
                Metric("answered", _("Answered"), Unit.COUNT, "count(f.first_response_at)"),
                Metric(
                    "first_response_median",
                    _("First response, median"),
                    Unit.SECONDS,
                    _percentile(0.5, _FIRST_RESPONSE, "first_response_median"),
                ),
                Metric(
                    "first_response_p90",
                    _("First response, 90th percentile"),
                    Unit.SECONDS,
                    _percentile(0.9, _FIRST_RESPONSE, "first_response_p90"),
                ),
                Metric("resolved", _("Resolved"), Unit.COUNT, "count(f.resolved_at)"),
                Metric(
                    "resolution_median",
                    _("Resolution, median"),
                    Unit.SECONDS,
                    _percentile(0.5, _RESOLUTION, "resolution_median"),
                ),
                Metric(
                    "resolution_p90",
                    _("Resolution, 90th percentile"),
                    Unit.SECONDS,
                    _percentile(0.9, _RESOLUTION, "resolution_p90"),
                ),
            ),
            groups=(Group.DAY, Group.WEEK, Group.CHANNEL, Group.DEPARTMENT, Group.AGENT),
            rows=_fact_rows,
            chart_metric="first_response_median",
        ),
        Report(
            name="sla",
            title=_("SLA achievement"),
            description=_(
                "First responses, next responses and resolutions of the conversations the customer first wrote "
                "in the period, met or breached against the SLA policy's targets (those without a target are "
                "left out); one still waiting past its due time counts as breached."
            ),
            metrics=(
                Metric(
                    "first_response_met",
                    _("First response met"),
                    Unit.COUNT,
                    f"count(*) FILTER (WHERE {_FIRST_RESPONSE_MET})",
                ),
                Metric(
                    "first_response_breached",
                    _("First response breached"),
                    Unit.COUNT,
                    f"count(*) FILTER (WHERE {_FIRST_RESPONSE_BREACHED})",
                ),
                Metric(
                    "first_response_achieved",
                    _("First response achieved"),
                    Unit.PERCENT,
                    _achievement(_FIRST_RESPONSE_MET, _FIRST_RESPONSE_BREACHED, "first_response_achieved"),
                ),
                Metric("next_response_met", _("Next responses met"), Unit.COUNT, f"{_NEXT_RESPONSE_MET}::int"),
                Metric(
                    "next_response_breached",
                    _("Next responses breached"),
                    Unit.COUNT,
                    f"{_NEXT_RESPONSE_BREACHED}::int",
                ),
                Metric(
                    "next_response_achieved",
                    _("Next responses achieved"),
                    Unit.PERCENT,
                    f"round(100.0 * {_NEXT_RESPONSE_MET}"
                    f" / NULLIF({_NEXT_RESPONSE_MET} + {_NEXT_RESPONSE_BREACHED}, 0), 1) AS next_response_achieved",
                ),
                Metric("resolution_met", _("Resolution met"), Unit.COUNT, f"count(*) FILTER (WHERE {_RESOLUTION_MET})"),
                Metric(
                    "resolution_breached",
                    _("Resolution breached"),
                    Unit.COUNT,
                    f"count(*) FILTER (WHERE {_RESOLUTION_BREACHED})",
                ),
                Metric(
                    "resolution_achieved",
                    _("Resolution achieved"),
                    Unit.PERCENT,
                    _achievement(_RESOLUTION_MET, _RESOLUTION_BREACHED, "resolution_achieved"),
                ),
            ),
            groups=(Group.DAY, Group.WEEK, Group.CHANNEL, Group.DEPARTMENT, Group.AGENT),
            rows=_fact_rows,
            chart_metric="first_response_achieved",
        ),
        Report(
            name="csat",
            title=_("Customer satisfaction"),
            description=_(
                "Ratings customers gave (1 to 5) by when they answered: the average and how many of each score, "
                "where the conversation stood and who closed it then."
            ),
            metrics=(
                Metric("ratings", _("Ratings"), Unit.COUNT, "count(*)"),
                Metric("average", _("Average rating"), Unit.SCORE, "round(avg(s.score), 2) AS average"),
                *(_score_count(score) for score in (1, 2, 3, 4, 5)),
            ),
            groups=(Group.DAY, Group.WEEK, Group.CHANNEL, Group.DEPARTMENT, Group.AGENT),
            rows=_csat_rows,
            chart_metric="average",
        ),
        Report(
            name="canned-responses",
            title=_("Canned responses"),
            description=_("How often canned responses were inserted in replies."),
            metrics=(Metric("uses", _("Uses"), Unit.COUNT, "count(*)"),),
            groups=(Group.DAY, Group.WEEK, Group.RESPONSE, Group.CHANNEL, Group.DEPARTMENT, Group.AGENT),
            rows=_canned_rows,
            chart_metric="uses",
        ),
        Report(
            name="availability",
            title=_("Agent availability"),
            description=_("Time agents spent online, days cut at the organization's midnight."),
            metrics=(Metric("online", _("Time online"), Unit.SECONDS, f"{_seconds('sum(d.online)')} AS online"),),
            groups=(Group.DAY, Group.WEEK, Group.AGENT),
            rows=_availability_rows,
            chart_metric="online",
        ),
    )
}


def report_get(name: str) -> Report:
    report = REPORTS.get(name)
    if report is None:
        raise NotFound
    return report


def group_check(report: Report, value: str | None) -> Group:
    """The group asked for (the report's first when none), or InvalidInput."""
    if not value:
        return report.groups[0]
    try:
        group = Group(value)
    except ValueError:
        group = None
    if group not in report.groups:
        raise InvalidInput(_("This report cannot be grouped that way."))
    return group


# --- Labels of the rows ---------------------------------------------------------------------


def _names(organization: Organization, group: Group, keys: list[Any]) -> dict[Any, str]:
    ids = [key for key in keys if key is not None]
    if group == Group.CHANNEL:
        return dict(Channel.objects.filter(organization=organization, pk__in=ids).values_list("pk", "name"))
    if group == Group.DEPARTMENT:
        return dict(Department.objects.filter(organization=organization, pk__in=ids).values_list("pk", "name"))
    if group == Group.RESPONSE:
        return dict(CannedResponse.objects.filter(organization=organization, pk__in=ids).values_list("pk", "title"))
    if group == Group.AGENT:
        users = get_user_model().objects.filter(pk__in=ids)
        return {user.pk: user.get_full_name() or user.get_username() for user in users}
    return {}


def _label(group: Group, key: Any, names: dict[Any, str]) -> str:
    if isinstance(key, date):
        return key.isoformat()
    if key is None:
        if group == Group.AGENT:
            return str(pgettext_lazy("report row", "Unassigned"))
        return str(pgettext_lazy("report row", "Deleted"))
    return names.get(key, str(key))


def reports_available() -> bool:
    """Reports and their facts job use PostgreSQL (percentile_cont, INSERT … ON CONFLICT … FROM
    unnest): with the embedded SQLite defaults they are unavailable, and say so."""
    return connection.vendor == "postgresql"


def report_table(
    *,
    organization: Organization,
    membership: Membership,
    report: Report,
    period: Period,
    group: Group,
    now: datetime | None = None,
) -> ReportTable:
    """The report's rows over the period: three queries (the figures, the rows' names, the
    facts' freshness), and one more for an agent (the channels they see)."""
    if not reports_available():
        raise ReportsUnavailable
    query = ReportQuery(organization, membership, period, group, now or timezone.now())
    raw = report.rows(report, query)
    names = _names(organization, group, [key for key, _values in raw])
    rows = [
        ReportRow(
            key=key,
            label=_label(group, key, names),
            values={
                # Seconds to the millisecond: interpolation leaves float noise (510.00000000000006).
                metric.name: (
                    round(float(value), 3) if isinstance(value, float) or hasattr(value, "as_tuple") else value
                )
                for metric, value in zip(report.metrics, values, strict=True)
            },
        )
        for key, values in raw
    ]
    watermark = FactsWatermark.objects.filter(pk=1).values_list("refreshed_at", flat=True).first()
    return ReportTable(report, query, rows, watermark)
