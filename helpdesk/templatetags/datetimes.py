"""Dates and times in templates, all through helpdesk.datetimes (the one place that decides
formats and time zones): templates never use `|date:` to show a time.

    {% load datetimes %}
    {% time message.sent_at "time" %}   <time datetime="…" title="6 Dec 2026, 17:20">17:20</time>
    {% time n.created_at "relative" %}  … 5 min ago
    {% time ticket.created_at %}        … 6 Dec 2026, 17:20
    {{ value|datetime_text }}  {{ value|date_text }}  {{ value|time_text }}  {{ value|relative_text }}
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import template
from django.utils.safestring import SafeString

from helpdesk import datetimes

register = template.Library()


@register.simple_tag(name="time")
def time_tag(value: datetime | None, style: str = "datetime") -> SafeString:
    return datetimes.time_element(value, style)


def _or_empty(value: Any) -> bool:
    return value is None or value == ""


@register.filter
def datetime_text(value: datetime | None) -> str:
    return "" if _or_empty(value) else datetimes.datetime_text(value)  # type: ignore[arg-type]


@register.filter
def date_text(value: datetime | date | None) -> str:
    return "" if _or_empty(value) else datetimes.date_text(value)  # type: ignore[arg-type]


@register.filter
def time_text(value: datetime | None) -> str:
    return "" if _or_empty(value) else datetimes.time_text(value)  # type: ignore[arg-type]


@register.filter
def relative_text(value: datetime | None) -> str:
    return "" if _or_empty(value) else datetimes.relative_text(value)  # type: ignore[arg-type]
