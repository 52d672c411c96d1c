"""How a report is shown: its values in words, its chart as server-rendered SVG (the table
beside it carries the same figures for screen readers), its CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from reports.selectors import GROUP_LABELS, Metric, ReportTable, Unit

# Drawn in a 480-unit box, scaled to its column: legible from a phone to a desktop.
CHART_WIDTH = 480
LABEL_WIDTH = 110
VALUE_WIDTH = 80
BAR_HEIGHT = 18
ROW_GAP = 6
# Beyond this many rows the chart would be a wall of bars: the table alone says it.
CHART_MAX_ROWS = 60


def duration_text(seconds: float) -> str:
    """3 s, 4 min 10 s, 2 h 5 min, 3 d 4 h: two units at most."""
    total = round(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    if minutes:
        return _("%(minutes)d min %(seconds)d s") % {"minutes": minutes, "seconds": secs}
    return _("%(seconds)d s") % {"seconds": secs}


def value_text(value: float | int | None, unit: Unit) -> str:
    if value is None:
        return "—"
    if unit == Unit.SECONDS:
        return duration_text(value)
    if unit == Unit.PERCENT:
        return f"{number_format(value, decimal_pos=1)} %"  # a figure and a sign: the same in every language
    if unit == Unit.SCORE:
        return number_format(value, decimal_pos=2)
    return number_format(value, force_grouping=True)


def display_rows(table: ReportTable) -> list[tuple[str, list[str]]]:
    return [
        (row.label, [value_text(row.values[metric.name], metric.unit) for metric in table.report.metrics])
        for row in table.rows
    ]


def chart_metric(table: ReportTable) -> Metric:
    return next(metric for metric in table.report.metrics if metric.name == table.report.chart_metric)


def bar_chart(table: ReportTable, *, chart_id: str) -> SafeString:
    """Horizontal bars of the report's chart metric, one per row, labelled and valued in text."""
    metric = chart_metric(table)
    rows = table.rows[:CHART_MAX_ROWS]
    values = [float(row.values[metric.name] or 0) for row in rows]
    largest = max(values, default=0) or 1
    bar_room = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = max(len(rows), 1) * (BAR_HEIGHT + ROW_GAP) + ROW_GAP
    title = _("%(figure)s by %(group)s") % {
        "figure": metric.label,
        "group": str(GROUP_LABELS[table.query.group]).lower(),
    }
    description = _("%(report)s, %(start)s to %(end)s; the table below holds the same figures.") % {
        "report": table.report.title,
        "start": table.query.period.start.isoformat(),
        "end": table.query.period.end.isoformat(),
    }
    bars = format_html_join(
        "",
        '<g transform="translate(0,{})"><text x="{}" y="{}" text-anchor="end" class="hd-chart-label">{}</text>'
        '<rect x="{}" y="0" width="{}" height="{}" rx="2" class="hd-chart-bar"></rect>'
        '<text x="{}" y="{}" class="hd-chart-value">{}</text></g>',
        (
            (
                ROW_GAP + n * (BAR_HEIGHT + ROW_GAP),
                LABEL_WIDTH - 6,
                BAR_HEIGHT - 5,
                row.label[:18],
                LABEL_WIDTH,
                round(bar_room * value / largest, 1),
                BAR_HEIGHT,
                LABEL_WIDTH + round(bar_room * value / largest, 1) + 4,
                BAR_HEIGHT - 5,
                value_text(row.values[metric.name], metric.unit),
            )
            for n, (row, value) in enumerate(zip(rows, values, strict=True))
        ),
    )
    return format_html(
        '<svg class="hd-chart" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {width} {height}" '
        'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>{bars}</svg>',
        id=chart_id,
        width=CHART_WIDTH,
        height=height,
        title=title,
        desc=description,
        bars=bars,
    )


def csv_text(table: ReportTable) -> str:
    """The report as CSV: one row per group, durations in seconds."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            str(GROUP_LABELS[table.query.group]),
            *(
                _("%(figure)s (seconds)") % {"figure": metric.label} if metric.unit == Unit.SECONDS else metric.label
                for metric in table.report.metrics
            ),
        ]
    )
    writer.writerows(_csv_rows(table))
    return buffer.getvalue()


def _csv_rows(table: ReportTable) -> Iterable[list[object]]:
    for row in table.rows:
        yield [row.label, *("" if row.values[m.name] is None else row.values[m.name] for m in table.report.metrics)]
