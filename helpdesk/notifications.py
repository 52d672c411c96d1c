"""The words of a notification, written when it is read.

A notification is stored as its kind and parameters (names, ids, codes, times as ISO
strings), and its title and body are written at display time in the reader's language and
time zone, by the function settings.NOTIFICATION_TEXTS names for its kind (the app that
sends a kind owns its words; helpdesk imports none of them). An email is written the same
way, in its recipient's language and time zone (`reading_as`).

The stored `title` and `body` are the fallback: rows from before parameters were kept
(that the data migration could not map), and kinds without a registered writer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from django.conf import settings
from django.utils import timezone, translation
from django.utils.module_loading import import_string

from helpdesk import datetimes

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotificationText:
    title: str
    body: str


NotificationWriter = Callable[[Mapping[str, Any]], NotificationText]


class StoredNotification(Protocol):
    kind: str
    params: Any
    title: str
    body: str


@lru_cache(maxsize=1)
def _writers() -> dict[str, NotificationWriter]:
    return {kind: import_string(path) for kind, path in getattr(settings, "NOTIFICATION_TEXTS", {}).items()}


def has_writer(kind: str) -> bool:
    return kind in _writers()


def notification_words(kind: str, params: Mapping[str, Any]) -> NotificationText:
    """The title and body of this kind with these parameters, in the active language and time zone."""
    return _writers()[kind](params)


def notification_text(notification: StoredNotification) -> NotificationText:
    """What a stored notification says to the reader of the moment (active language and time zone)."""
    params = notification.params
    if isinstance(params, Mapping) and has_writer(notification.kind):
        try:
            return notification_words(notification.kind, params)
        except (KeyError, TypeError, ValueError):
            logger.warning("notification of kind %s: parameters not understood, stored text shown", notification.kind)
    return NotificationText(title=notification.title, body=notification.body)


@contextmanager
def reading_as(*, language: str, time_zone: str) -> Iterator[None]:
    """Write in this reader's language and time zone (an email to them, a row stored for them)."""
    with translation.override(language), timezone.override(datetimes.zone(time_zone)):
        yield
