"""Dates and times as a reader sees them: in their time zone and in one format per language.

Every page, notice and email shows a time through this module (templates through
helpdesk/templatetags/datetimes.py): absolute times in the language's one format
(helpdesk/formats: "6 Dec 2026, 17:20", "2026年12月6日 17:20"), recent times in lists as
relative ones ("5 min ago", "5分前"), and days as the transcript's separators. The active
language and time zone are the reader's (helpdesk.tenancy.activate_for); emails override
both with the recipient's.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache

from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# Past this, a relative time says the date instead ("3 days ago" is clear, "40 days ago" is not).
RELATIVE_UNTIL = timedelta(days=7)


@lru_cache(maxsize=1)
def time_zone_names() -> tuple[str, ...]:
    """Every time zone a member or an organization may choose (IANA names, sorted)."""
    return tuple(sorted(zoneinfo.available_timezones() - {"localtime", "Factory"}))


def is_time_zone(name: str) -> bool:
    return name in time_zone_names()


def zone(name: str | None) -> tzinfo:
    """The time zone of this name; UTC for an empty or unknown one (a row written before the
    name was checked must not break a page)."""
    if name and is_time_zone(name):
        return zoneinfo.ZoneInfo(name)
    return zoneinfo.ZoneInfo("UTC")


def _local(value: datetime, time_zone: tzinfo | None) -> datetime:
    if timezone.is_naive(value):
        value = timezone.make_aware(value, zoneinfo.ZoneInfo("UTC"))
    return timezone.localtime(value, time_zone)


def datetime_text(value: datetime, *, time_zone: tzinfo | None = None) -> str:
    """The absolute time: "6 Dec 2026, 17:20" / "2026年12月6日 17:20"."""
    return formats.date_format(_local(value, time_zone), "DATETIME_FORMAT")


def date_text(value: datetime | date, *, time_zone: tzinfo | None = None) -> str:
    """The day: "6 Dec 2026" / "2026年12月6日"."""
    day = _local(value, time_zone).date() if isinstance(value, datetime) else value
    return formats.date_format(day, "DATE_FORMAT")


def time_text(value: datetime, *, time_zone: tzinfo | None = None) -> str:
    """The time of day: "17:20"."""
    return formats.time_format(_local(value, time_zone), "TIME_FORMAT")


def relative_text(value: datetime, *, now: datetime | None = None) -> str:
    """How long ago, for lists: "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago";
    the date past a week (and for a time in the future, such as a clock that runs ahead)."""
    now = now or timezone.now()
    elapsed = now - value
    if elapsed < timedelta(0):
        return datetime_text(value) if elapsed < -timedelta(minutes=1) else _("just now")
    if elapsed < timedelta(minutes=1):
        return _("just now")
    if elapsed < timedelta(hours=1):
        minutes = int(elapsed.total_seconds() // 60)
        return ngettext("%(count)d min ago", "%(count)d min ago", minutes) % {"count": minutes}
    if elapsed < timedelta(hours=24):
        hours = int(elapsed.total_seconds() // 3600)
        return ngettext("%(count)d hour ago", "%(count)d hours ago", hours) % {"count": hours}
    days_apart = (_local(now, None).date() - _local(value, None).date()).days
    if days_apart <= 1:
        return _("yesterday")
    if elapsed < RELATIVE_UNTIL:
        return ngettext("%(count)d day ago", "%(count)d days ago", days_apart) % {"count": days_apart}
    return date_text(value)


def day_label(day: date, *, today: date | None = None) -> str:
    """A transcript's day separator: "Today", "Yesterday", else the date."""
    today = today or timezone.localdate()
    if day == today:
        return _("Today")
    if day == today - timedelta(days=1):
        return _("Yesterday")
    return date_text(day)


def local_day(value: datetime) -> date:
    """The day of this moment in the active time zone (the key of a day separator)."""
    return _local(value, None).date()


STYLES = ("datetime", "date", "time", "relative")


def time_element(value: datetime | None, style: str = "datetime") -> SafeString:
    """`<time datetime="…">` with the text of `style`; unless absolute, the absolute time
    as its title (a hover, and what a screen reader can ask for). Empty for no value."""
    if value is None or value == "":
        return SafeString("")
    if style not in STYLES:
        raise ValueError(f"unknown time style {style!r}")
    absolute = datetime_text(value)
    if style == "datetime":
        return format_html('<time datetime="{}">{}</time>', _local(value, None).isoformat(), absolute)
    if style == "date":
        text = date_text(value)
    elif style == "time":
        text = time_text(value)
    else:
        text = relative_text(value)
    return format_html('<time datetime="{}" title="{}">{}</time>', _local(value, None).isoformat(), absolute, text)
