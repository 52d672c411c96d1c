"""The reports: each one a table of figures over a period, grouped by day, week, channel,
department or agent, read from data kept for reporting (reports.models.ConversationFact, the
canned responses' use log, the availability changes), never from the messages.

Days are the organization's (its time zone). Medians and 90th percentiles are PostgreSQL's
``percentile_cont`` (linear interpolation between the two nearest values), in wall-clock
seconds. Admins see the whole organization; an agent sees only their own figures (the
conversations they hold, within the channels they see; their own canned responses and time
online), whatever group they ask for.

Two ways to the same figures, one per database: PostgreSQL folds a report's rows in one
GROUP BY (its aggregates read on the facts' index: ``report_rows_in_sql``); any other database
(the embedded SQLite defaults, small by nature) reads the period's rows with their measures in
one query and folds them in Python (``report_rows_in_python``). What a row counts for (answered,
lost, met, breached…) is a ``Measure``, SQL that both databases evaluate, written once; each
fold (``Count``, ``Total``, ``Duration``, ``Share``, ``Percentile``, ``Average``) is written
once for each path, side by side. tests/reports/test_paths_agree.py runs both on the same data.

Adding a figure to a report is one ``Metric`` (a fold of a measure) in the report's list: the
API, the CSV, the table and the chart follow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
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
from helpdesk.exceptions import InvalidInput, InvalidPeriod, NotFound
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


# --- How a figure is folded -----------------------------------------------------------------
#
# A figure is a fold (Count, Total, Duration, Share, Percentile, Average) of a measure of each
# source row.
# A measure is SQL that PostgreSQL and SQLite both evaluate on one row: the rules (what counts
# as answered, lost, met, breached) are written there once (time online is the exception: only
# PostgreSQL cuts spells into days in SQL; elsewhere _availability_pieces measures them). Each
# fold is written twice, beside each other: as PostgreSQL's aggregate, and as the same
# arithmetic in Python for the other databases (tests/reports/test_paths_agree.py runs both
# over the same rows).


@dataclass(frozen=True, slots=True)
class Measure:
    """One value of each source row: a rule (true or false) or a figure (seconds, a score)."""

    name: str
    sql: str


Row = Mapping[str, Any]
Figure = int | float | Decimal | None


def _half_up(value: Decimal, places: int) -> Decimal:
    """PostgreSQL's round(numeric, places): halves away from zero."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Count:
    """How many rows, or how many where `rule` holds (a NULL rule does not)."""

    rule: Measure | None = None

    @property
    def measures(self) -> tuple[Measure, ...]:
        return () if self.rule is None else (self.rule,)

    def sql(self) -> str:
        return "count(*)" if self.rule is None else f"count(*) FILTER (WHERE {self.rule.sql})"

    def fold(self, rows: Sequence[Row]) -> int:
        if self.rule is None:
            return len(rows)
        name = self.rule.name
        return sum(1 for row in rows if row[name])


@dataclass(frozen=True, slots=True)
class Total:
    """The sum of a figure (None when every row's is NULL)."""

    figure: Measure

    @property
    def measures(self) -> tuple[Measure, ...]:
        return (self.figure,)

    def sql(self) -> str:
        return f"sum({self.figure.sql})"

    def fold(self, rows: Sequence[Row]) -> int | None:
        values = [row[self.figure.name] for row in rows if row[self.figure.name] is not None]
        return sum(values) if values else None


@dataclass(frozen=True, slots=True)
class Duration:
    """The sum of a duration (an interval; a timedelta in Python), in seconds to the µs."""

    figure: Measure

    @property
    def measures(self) -> tuple[Measure, ...]:
        return (self.figure,)

    def sql(self) -> str:
        return f"extract(epoch FROM sum({self.figure.sql}))"

    def fold(self, rows: Sequence[Row]) -> Decimal | None:
        values = [row[self.figure.name] for row in rows if row[self.figure.name] is not None]
        if not values:
            return None
        # Exact, as PostgreSQL's numeric answer (floats would add noise over many pieces).
        return Decimal(sum(values, timedelta()) // timedelta(microseconds=1)).scaleb(-6)


@dataclass(frozen=True, slots=True)
class Share:
    """The share of `met` in `met` and `breached`, a percentage to one decimal (None: neither)."""

    met: Count | Total
    breached: Count | Total

    @property
    def measures(self) -> tuple[Measure, ...]:
        return (*self.met.measures, *self.breached.measures)

    def sql(self) -> str:
        met, breached = self.met.sql(), self.breached.sql()
        return f"round(100.0 * {met} / NULLIF({met} + {breached}, 0), 1)"

    def fold(self, rows: Sequence[Row]) -> Figure:
        met, breached = self.met.fold(rows), self.breached.fold(rows)
        if met is None or breached is None or met + breached == 0:
            return None
        return _half_up(100 * Decimal(met) / (Decimal(met) + Decimal(breached)), 1)


@dataclass(frozen=True, slots=True)
class Percentile:
    """PostgreSQL's percentile_cont: the value at `fraction` of the sorted figures, linearly
    interpolated between the two nearest (NULLs left out; None when none is left)."""

    fraction: float
    figure: Measure

    @property
    def measures(self) -> tuple[Measure, ...]:
        return (self.figure,)

    def sql(self) -> str:
        return f"percentile_cont({self.fraction}) WITHIN GROUP (ORDER BY {self.figure.sql})"

    def fold(self, rows: Sequence[Row]) -> Figure:
        values = sorted(float(row[self.figure.name]) for row in rows if row[self.figure.name] is not None)
        if not values:
            return None
        # The same float arithmetic as PostgreSQL's percentile_cont_final_common and float8_lerp.
        position = self.fraction * (len(values) - 1)
        first, second = math.floor(position), math.ceil(position)
        if first == second:
            return values[first]
        return values[first] + (position - first) * (values[second] - values[first])


@dataclass(frozen=True, slots=True)
class Average:
    """The average of a whole-number figure, to `places` decimals (None: no figure)."""

    figure: Measure
    places: int

    @property
    def measures(self) -> tuple[Measure, ...]:
        return (self.figure,)

    def sql(self) -> str:
        return f"round(avg({self.figure.sql}), {self.places})"

    def fold(self, rows: Sequence[Row]) -> Figure:
        values = [int(row[self.figure.name]) for row in rows if row[self.figure.name] is not None]
        if not values:
            return None
        return _half_up(Decimal(sum(values)) / Decimal(len(values)), self.places)


Aggregate = Count | Total | Duration | Share | Percentile | Average


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    label: Promise
    unit: Unit
    aggregate: Aggregate


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
class Source:
    """The rows a report folds for one query: `rows` (FROM … WHERE …, with its named
    parameters) and `key`, the column they are grouped by; for a day or a week, a time whose
    day in the organization's time zone is the key. `with_sql`: a WITH clause that `rows` reads
    (PostgreSQL's only: a report whose rows need one gives its own `measured_rows`)."""

    key: str
    rows: str
    params: dict[str, Any]
    with_sql: str = ""


# A report's rows for the path that folds in Python: each row's key (for a day or a week, the
# time) and its measures by name.
MeasuredRows = Iterable[tuple[Any, Row]]


@dataclass(frozen=True, slots=True)
class Report:
    name: str
    title: Promise
    description: Promise
    metrics: tuple[Metric, ...]
    groups: tuple[Group, ...]
    source: Callable[[ReportQuery], Source]
    # The metric the chart draws.
    chart_metric: str
    # The rows with their measures, for the path that folds in Python (default: the source's
    # rows, each measure's SQL evaluated by the database).
    measured_rows: Callable[[Report, ReportQuery], MeasuredRows] | None = None

    @property
    def measures(self) -> dict[str, Measure]:
        return {measure.name: measure for metric in self.metrics for measure in metric.aggregate.measures}


@dataclass(frozen=True, slots=True)
class ReportTable:
    report: Report
    query: ReportQuery
    rows: list[ReportRow]
    facts_refreshed_at: datetime | None


# --- Where each report reads ----------------------------------------------------------------

TIME_GROUPS = (Group.DAY, Group.WEEK)


def _bucket_sql(group: Group, *, time_column: str) -> str:
    local = f"({time_column} AT TIME ZONE %(tz)s)"
    if group == Group.DAY:
        return f"{local}::date"
    return f"date_trunc('week', {local})::date"


def _bucket(group: Group, at: datetime, zone: tzinfo) -> date:
    """What _bucket_sql answers, in Python: the day of `at` in `zone`, or its week's Monday."""
    day = timezone.localtime(at, zone).date()
    return day if group == Group.DAY else day - timedelta(days=day.weekday())


def _period_bounds(query: ReportQuery) -> tuple[datetime, datetime]:
    """The period's first and last midnights in the organization's zone, in UTC: a difference
    of two times of one zone is a wall-clock one in Python (24 h across the 23-hour day)."""
    zone = datetimes.zone(query.organization.time_zone)
    start = datetime.combine(query.period.start, time.min, tzinfo=zone)
    end = datetime.combine(query.period.end + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


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


def _fetch(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    # Times as the database keeps them (SQLite compares Django's UTC texts, not ISO offsets).
    adapted = {
        name: connection.ops.adapt_datetimefield_value(value) if isinstance(value, datetime) else value
        for name, value in params.items()
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, adapted)
        return cursor.fetchall()


def _aware(value: datetime | str) -> datetime:
    """A time read by raw SQL: PostgreSQL answers it aware, SQLite as Django keeps it (UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def _channel_scope(query: ReportQuery, params: dict[str, Any], alias: str) -> str:
    """An agent's rows: only of the channels they see (one query; none for all of them)."""
    channels = visibility.visible_channel_ids(organization=query.organization, membership=query.membership)
    if channels is None:
        return ""
    ids = list(Channel.objects.filter(organization=query.organization, pk__in=channels).values_list("pk", flat=True))
    if not ids:
        return " AND 1 = 0"
    params.update({f"channel_{n}": pk for n, pk in enumerate(ids)})
    return f" AND {alias}.channel_id IN ({', '.join(f'%(channel_{n})s' for n in range(len(ids)))})"


def _fact_source(query: ReportQuery) -> Source:
    fact = ConversationFact._meta.db_table
    key = {
        Group.CHANNEL: "f.channel_id",
        Group.DEPARTMENT: "f.department_id",
        Group.AGENT: "f.assignee_id",
    }.get(query.group, "f.received_at")
    params = _params(query)
    scope = "" if query.membership.is_admin else "AND f.assignee_id = %(user)s" + _channel_scope(query, params, "f")
    rows = f"""FROM {fact} f
        WHERE f.organization_id = %(organization)s AND f.received_at >= %(start)s AND f.received_at < %(end)s
        {scope}"""
    return Source(key, rows, params)


def _canned_source(query: ReportQuery) -> Source:
    use = CannedResponseUse._meta.db_table
    conversation = Conversation._meta.db_table
    key = {
        Group.CHANNEL: "c.channel_id",
        Group.DEPARTMENT: "c.department_id",
        Group.AGENT: "u.user_id",
        Group.RESPONSE: "u.canned_response_id",
    }.get(query.group, "u.used_at")
    join = f"LEFT JOIN {conversation} c ON c.id = u.conversation_id" if key.startswith("c.") else ""
    scope = "" if query.membership.is_admin else "AND u.user_id = %(user)s"
    rows = f"""FROM {use} u {join}
        WHERE u.organization_id = %(organization)s AND u.used_at >= %(start)s AND u.used_at < %(end)s {scope}"""
    return Source(key, rows, _params(query))


def _csat_source(query: ReportQuery) -> Source:
    """The ratings answered in the period (csat.models.Survey: by the time of the answer, where
    the conversation stood and who closed it then), read on csat's (organization, answered_at)
    index. An agent sees the ratings of the conversations they closed, within the channels
    they see."""
    survey = Survey._meta.db_table
    key = {
        Group.CHANNEL: "s.channel_id",
        Group.DEPARTMENT: "s.department_id",
        Group.AGENT: "s.agent_id",
    }.get(query.group, "s.answered_at")
    params = _params(query)
    scope = "" if query.membership.is_admin else "AND s.agent_id = %(user)s" + _channel_scope(query, params, "s")
    rows = f"""FROM {survey} s
        WHERE s.organization_id = %(organization)s AND s.score IS NOT NULL
            AND s.answered_at >= %(start)s AND s.answered_at < %(end)s {scope}"""
    return Source(key, rows, params)


# The online spells a period counts (an open one up to now).
_ONLINE_IN_PERIOD = """a.organization_id = %(organization)s AND a.status = %(online)s
    AND a.started_at < %(end)s AND COALESCE(a.ended_at, %(now)s) > %(start)s"""


def _availability_source(query: ReportQuery) -> Source:
    """Time online: each online spell of the period (an open one up to now) cut at the
    organization's midnights (one spell across midnight counts on both days). PostgreSQL cuts
    in SQL; _availability_pieces is the same cut for the other databases."""
    change, member = AvailabilityChange._meta.db_table, Membership._meta.db_table
    with_sql = f"""
        WITH spells AS (
            SELECT a.membership_id, GREATEST(a.started_at, %(start)s) AS spell_start,
                LEAST(COALESCE(a.ended_at, %(now)s), %(end)s, %(now)s) AS spell_end
            FROM {change} a WHERE {_ONLINE_IN_PERIOD}
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
        )"""  # noqa: S608 (the table name is the model's)
    scope = "" if query.membership.is_admin else "AND m.user_id = %(user)s"
    rows = f"FROM pieces d JOIN {member} m ON m.id = d.membership_id WHERE d.online > interval '0' {scope}"
    key = "m.user_id" if query.group == Group.AGENT else "d.day_start"
    return Source(key, rows, {**_params(query), "online": Status.ONLINE.value}, with_sql=with_sql)


def _online_by_day(start: datetime, end: datetime, zone: tzinfo) -> Iterator[tuple[datetime, timedelta]]:
    """A spell from `start` to `end` cut at the midnights of `zone`: each day's start and the
    time online that day (none for an empty piece)."""
    day, last = timezone.localtime(start, zone).date(), timezone.localtime(end, zone).date()
    while day <= last:
        # In UTC: a difference of two times of one zone would be a wall-clock one (DST days).
        midnight = datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
        next_midnight = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
        online = min(end, next_midnight) - max(start, midnight)
        if online > timedelta(0):
            yield midnight, online
        day += timedelta(days=1)


def _availability_pieces(report: Report, query: ReportQuery) -> MeasuredRows:
    """Time online for the databases other than PostgreSQL: the period's online spells (one
    query), each clipped to the period and to now, and cut at the organization's midnights."""
    change, member = AvailabilityChange._meta.db_table, Membership._meta.db_table
    scope = "" if query.membership.is_admin else "AND m.user_id = %(user)s"
    sql = f"""
        SELECT m.user_id, a.started_at, a.ended_at FROM {change} a JOIN {member} m ON m.id = a.membership_id
        WHERE {_ONLINE_IN_PERIOD} {scope}
    """  # noqa: S608 (table names from the models)
    params = {**_params(query), "online": Status.ONLINE.value}
    zone = datetimes.zone(query.organization.time_zone)
    for user_id, started_at, ended_at in _fetch(sql, params):
        spell_start = max(_aware(started_at), params["start"])
        spell_end = min(query.now if ended_at is None else _aware(ended_at), params["end"], query.now)
        for day_start, online in _online_by_day(spell_start, spell_end, zone):
            yield (user_id if query.group == Group.AGENT else day_start), {_ONLINE.name: online}


def _measured_rows(report: Report, query: ReportQuery) -> MeasuredRows:
    """The source's rows, each with its key and the report's measures (one query)."""
    source = report.source(query)
    measures = report.measures
    columns = "".join(f", {measure.sql}" for measure in measures.values())
    for key, *values in _fetch(f"SELECT {source.key}{columns} {source.rows}", source.params):
        yield key, dict(zip(measures, values, strict=True))


# --- The two paths ----------------------------------------------------------------------------


def folds_in_sql() -> bool:
    """PostgreSQL folds the rows in SQL; the other databases (SQLite) in Python."""
    return connection.vendor == "postgresql"


def report_rows_in_sql(report: Report, query: ReportQuery) -> list[tuple[Any, list[Figure]]]:
    """PostgreSQL: one GROUP BY over the report's source, each metric its aggregate."""
    source = report.source(query)
    key = _bucket_sql(query.group, time_column=source.key) if query.group in TIME_GROUPS else source.key
    aggregates = ", ".join(metric.aggregate.sql() for metric in report.metrics)
    sql = f"{source.with_sql} SELECT {key} AS key, {aggregates} {source.rows} GROUP BY 1 ORDER BY 1"
    return [(key, list(values)) for key, *values in _fetch(sql, source.params)]


def report_rows_in_python(report: Report, query: ReportQuery) -> list[tuple[Any, list[Figure]]]:
    """Any other database: the report's rows with their measures (one query), grouped and
    folded here, in the order PostgreSQL sorts the keys (NULL last)."""
    zone = datetimes.zone(query.organization.time_zone)
    groups: dict[Any, list[Row]] = {}
    for key, measures in (report.measured_rows or _measured_rows)(report, query):
        bucket = _bucket(query.group, _aware(key), zone) if query.group in TIME_GROUPS else key
        groups.setdefault(bucket, []).append(measures)
    return [
        (key, [metric.aggregate.fold(rows) for metric in report.metrics])
        for key, rows in sorted(groups.items(), key=lambda item: (item[0] is None, item[0]))
    ]


# --- What a row counts for ----------------------------------------------------------------
#
# The facts' rules, on the alias f. Lost to a closed window: what the window-alerts job
# recorded (messenger.models.WindowLoss, written by messenger.services.window_alerts as
# messenger.window_alerts defines it), never a second rule here; the unique (conversation,
# inbound_at) index answers each row's question.

_RECEIVED = Count()
_ANSWERED = Measure("answered", "f.first_response_at IS NOT NULL")
_UNANSWERED = Measure("unanswered", "f.first_response_at IS NULL")
_LOST = Measure(
    "lost",
    f"EXISTS (SELECT 1 FROM {WindowLoss._meta.db_table} w WHERE w.conversation_id = f.conversation_id)",  # noqa: S608 (the table name is the model's)
)
_RESOLVED = Measure("resolved", "f.resolved_at IS NOT NULL")
# In the clock of the SLA policy (business hours where it says so), computed by the facts job.
_FIRST_RESPONSE = Measure("first_response_seconds", "f.first_response_seconds")
_RESOLUTION = Measure("resolution_seconds", "f.resolution_seconds")

# A target met: done by its due time; breached: done later, or still not done at `now`. Facts
# without a target count in neither.
_FIRST_RESPONSE_MET = Count(Measure("first_response_met", "f.first_response_at <= f.first_response_due_at"))
_FIRST_RESPONSE_BREACHED = Count(
    Measure("first_response_breached", "COALESCE(f.first_response_at, %(now)s) > f.first_response_due_at")
)
# Next responses: those the facts job counted, and the wait still running once past its due time.
_NEXT_RESPONSE_MET = Total(Measure("next_responses_met", "f.next_response_met"))
_NEXT_RESPONSE_BREACHED = Total(
    Measure(
        "next_responses_breached",
        "f.next_response_breached + CASE WHEN f.next_response_due_at < %(now)s THEN 1 ELSE 0 END",
    )
)
_RESOLUTION_MET = Count(Measure("resolution_met", "f.resolved_at <= f.resolution_due_at"))
_RESOLUTION_BREACHED = Count(Measure("resolution_breached", "COALESCE(f.resolved_at, %(now)s) > f.resolution_due_at"))

# A rating (alias s), and time online (alias d: PostgreSQL's pieces of a day; the other
# databases measure it in _availability_pieces).
_SCORE = Measure("score", "s.score")
_ONLINE = Measure("online", "d.online")

# The distribution's columns (lazy texts: one msgid each, not a formatted one per request).
_SCORE_LABELS = {1: _("Rated 1"), 2: _("Rated 2"), 3: _("Rated 3"), 4: _("Rated 4"), 5: _("Rated 5")}


def _score_count(score: int) -> Metric:
    return Metric(
        f"score_{score}", _SCORE_LABELS[score], Unit.COUNT, Count(Measure(f"score_{score}", f"s.score = {score}"))
    )


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
                Metric("received", _("Received"), Unit.COUNT, _RECEIVED),
                Metric("answered", _("Answered"), Unit.COUNT, Count(_ANSWERED)),
                Metric("unanswered", _("Unanswered"), Unit.COUNT, Count(_UNANSWERED)),
                Metric("lost", _("Lost to a closed window"), Unit.COUNT, Count(_LOST)),
            ),
            groups=(Group.DAY, Group.WEEK, Group.CHANNEL, Group.DEPARTMENT, Group.AGENT),
            source=_fact_source,
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
                Metric("answered", _("Answered"), Unit.COUNT, Count(_ANSWERED)),
                Metric(
                    "first_response_median",
                    _("First response, median"),
                    Unit.SECONDS,
                    Percentile(0.5, _FIRST_RESPONSE),
                ),
                Metric(
                    "first_response_p90",
                    _("First response, 90th percentile"),
                    Unit.SECONDS,
                    Percentile(0.9, _FIRST_RESPONSE),
                ),
                Metric("resolved", _("Resolved"), Unit.COUNT, Count(_RESOLVED)),
                Metric("resolution_median", _("Resolution, median"), Unit.SECONDS, Percentile(0.5, _RESOLUTION)),
                Metric(
                    "resolution_p90",
                    _("Resolution, 90th percentile"),
                    Unit.SECONDS,
                    Percentile(0.9, _RESOLUTION),
                ),
            ),
            groups=(Group.DAY, Group.WEEK, Group.CHANNEL, Group.DEPARTMENT, Group.AGENT),
            source=_fact_source,
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
                Metric("first_response_met", _("First response met"), Unit.COUNT, _FIRST_RESPONSE_MET),
                Metric("first_response_breached", _("First response breached"), Unit.COUNT, _FIRST_RESPONSE_BREACHED),
                Metric(
                    "first_response_achieved",
                    _("First response achieved"),
                    Unit.PERCENT,
                    Share(_FIRST_RESPONSE_MET, _FIRST_RESPONSE_BREACHED),
                ),
                Metric("next_response_met", _("Next responses met"), Unit.COUNT, _NEXT_RESPONSE_MET),
                Metric("next_response_breached", _("Next responses breached"), Unit.COUNT, _NEXT_RESPONSE_BREACHED),
                Metric(
                    "next_response_achieved",
                    _("Next responses achieved"),
                    Unit.PERCENT,
                    Share(_NEXT_RESPONSE_MET, _NEXT_RESPONSE_BREACHED),
                ),
                Metric("resolution_met", _("Resolution met"), Unit.COUNT, _RESOLUTION_MET),
                Metric("resolution_breached", _("Resolution breached"), Unit.COUNT, _RESOLUTION_BREACHED),
                Metric(
                    "resolution_achieved",
                    _("Resolution achieved"),
                    Unit.PERCENT,
                    Share(_RESOLUTION_MET, _RESOLUTION_BREACHED),
                ),
            ),
            groups=(Group.DAY, Group.WEEK, Group.CHANNEL, Group.DEPARTMENT, Group.AGENT),
            source=_fact_source,
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
                Metric("ratings", _("Ratings"), Unit.COUNT, Count()),
                Metric("average", _("Average rating"), Unit.SCORE, Average(_SCORE, places=2)),
                *(_score_count(score) for score in (1, 2, 3, 4, 5)),
            ),
            groups=(Group.DAY, Group.WEEK, Group.CHANNEL, Group.DEPARTMENT, Group.AGENT),
            source=_csat_source,
            chart_metric="average",
        ),
        Report(
            name="canned-responses",
            title=_("Canned responses"),
            description=_("How often canned responses were inserted in replies."),
            metrics=(Metric("uses", _("Uses"), Unit.COUNT, Count()),),
            groups=(Group.DAY, Group.WEEK, Group.RESPONSE, Group.CHANNEL, Group.DEPARTMENT, Group.AGENT),
            source=_canned_source,
            chart_metric="uses",
        ),
        Report(
            name="availability",
            title=_("Agent availability"),
            description=_("Time agents spent online, days cut at the organization's midnight."),
            metrics=(Metric("online", _("Time online"), Unit.SECONDS, Duration(_ONLINE)),),
            groups=(Group.DAY, Group.WEEK, Group.AGENT),
            source=_availability_source,
            measured_rows=_availability_pieces,
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
    query = ReportQuery(organization, membership, period, group, now or timezone.now())
    raw = report_rows_in_sql(report, query) if folds_in_sql() else report_rows_in_python(report, query)
    names = _names(organization, group, [key for key, _values in raw])
    rows = [
        ReportRow(
            key=key,
            label=_label(group, key, names),
            values={
                # Seconds to the millisecond: interpolation leaves float noise (510.00000000000006).
                metric.name: (round(float(value), 3) if isinstance(value, float | Decimal) else value)
                for metric, value in zip(report.metrics, values, strict=True)
            },
        )
        for key, values in raw
    ]
    watermark = FactsWatermark.objects.filter(pk=1).values_list("refreshed_at", flat=True).first()
    return ReportTable(report, query, rows, watermark)
