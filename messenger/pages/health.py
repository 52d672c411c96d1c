"""Page health: is Facebook still delivering each linked page's events?

- Counting: every webhook POST adds its events to the page's hour in `PageActivityHour`
  and moves the page's `last_event_at` (and clears `silent_since`); every message sent moves
  `last_sent_at`. Both at most one cheap statement per page and POST or send.
- The daily subscription check (`pages_subscription_check`): `GET /{page-id}/subscribed_apps`;
  when the app is missing or lacks some of the fields linking asks for, it is subscribed
  again with those fields, and the admins are told once per drop. A refused token goes
  through the authorization state machine (messenger.client.call_with_page). The pages whose
  subscription state changed are in the audit log (helpdesk.signals.rows_changed: one insert a
  batch).
- The hourly silence check (`pages_silence_check`): a page that received nothing in the last
  SILENCE_WINDOW although the same hours of the same weekday usually brought at least
  SILENCE_MIN_EXPECTED events (the median over the last HISTORY_WEEKS weeks, with at least
  MIN_HISTORY_WEEKS of them) is flagged once; the flag is cleared when events come back.

The pages' authorization status is never written here (messenger.pages.authorization is its
only writer).
"""

from __future__ import annotations

import logging
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from helpdesk import signals
from messenger import client
from messenger.crypto import TokenDecryptionError
from messenger.graph import SUBSCRIBED_FIELDS, GraphError, PermissionMissingError, TokenInvalidError
from messenger.models import FacebookPage, PageActivityHour, PageStatus, SubscriptionState
from messenger.pages.notices import notify_silent, notify_subscription_dropped

logger = logging.getLogger(__name__)

# `last_event_at` and `last_sent_at` are written at most this often per page.
TOUCH_EVERY = timedelta(minutes=1)
SILENCE_WINDOW = timedelta(hours=6)
SILENCE_MIN_EXPECTED = 10
HISTORY_WEEKS = 8
MIN_HISTORY_WEEKS = 4
BATCH = 500

_WORKING = (PageStatus.ACTIVE, PageStatus.EXPIRING_SOON)


def hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


# --------------------------------------------------------------------------- counting


def page_activity_record(*, page_ids: Iterable[str], received_at: datetime) -> None:
    """The events of one webhook POST (one Facebook page id per event) counted in their pages'
    hour; the pages' last event time moved (at most once a minute) and their silence cleared.
    Unknown or unlinked pages count nothing. One statement on PostgreSQL (the page update is
    a data-modifying WITH); SQLite, which has none, runs the same update after it."""
    counts = Counter(page_id for page_id in page_ids if page_id)
    if not counts:
        return
    postgres = connection.vendor == "postgresql"
    table, pages = PageActivityHour._meta.db_table, FacebookPage._meta.db_table
    values = ", ".join(["(CAST(%s AS varchar), CAST(%s AS integer))"] * len(counts))
    params: list[Any] = [value for item in sorted(counts.items()) for value in item]
    touch = ""
    if postgres:
        touch = (
            f", touched AS (UPDATE {pages} SET last_event_at = %s, silent_since = NULL "  # noqa: S608 (table name)
            "WHERE id IN (SELECT id FROM linked) AND (last_event_at IS NULL OR last_event_at < %s "
            "OR silent_since IS NOT NULL) RETURNING 1)"
        )
        params += [received_at, received_at - TOUCH_EVERY]
    params.append(hour_start(received_at))
    statement = (
        f"WITH counts (page_id, events) AS (VALUES {values}), "  # noqa: S608 (table names only)
        f"linked AS (SELECT p.id, p.organization_id, counts.events FROM {pages} p "
        f"JOIN counts ON counts.page_id = p.page_id WHERE p.unlinked_at IS NULL){touch} "
        f"INSERT INTO {table} (organization_id, page_id, hour, events) "
        "SELECT organization_id, id, %s, events FROM linked WHERE true "
        f"ON CONFLICT (page_id, hour) DO UPDATE SET events = {table}.events + excluded.events"
    )
    if postgres and not connection.in_atomic_block:
        # Counts for a heuristic, in a transaction of their own whose commit need not wait for
        # the disk (a crash loses at most the last moment's counts): every POST of a page adds
        # to the same row, whose lock was held through that wait, so that the page's POSTs
        # queued one behind the other. One round trip with the setting.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF; " + statement, params)
    else:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
    if not postgres:
        FacebookPage.objects.filter(page_id__in=list(counts), unlinked_at__isnull=True).filter(
            Q(last_event_at__isnull=True)
            | Q(last_event_at__lt=received_at - TOUCH_EVERY)
            | Q(silent_since__isnull=False)
        ).update(last_event_at=received_at, silent_since=None)


def page_sent_record(*, page_pk: int, sent_at: datetime) -> None:
    """A message went out through the page."""
    FacebookPage.objects.filter(pk=page_pk).filter(
        Q(last_sent_at__isnull=True) | Q(last_sent_at__lt=sent_at - TOUCH_EVERY)
    ).update(last_sent_at=sent_at)


# --------------------------------------------------------------------------- subscription


@dataclass
class SubscriptionReport:
    checked: int = 0
    resubscribed: int = 0
    failed: int = 0


def _checkable_pages() -> Any:
    return FacebookPage.objects.filter(unlinked_at__isnull=True, status__in=_WORKING, channel__deleted_at__isnull=True)


def pages_subscription_check(*, now: datetime | None = None) -> SubscriptionReport:
    """The daily check of every linked, working page's subscription (see the module)."""
    now = now or timezone.now()
    report = SubscriptionReport()
    last_pk = 0
    while True:
        pages = list(_checkable_pages().filter(pk__gt=last_pk).order_by("pk")[:BATCH])
        if not pages:
            break
        last_pk = pages[-1].pk
        changes = []
        for page in pages:
            before = page.subscription_state
            outcome = page_subscription_check(page=page, now=now)
            report.checked += outcome is not None
            report.resubscribed += outcome == SubscriptionState.RESUBSCRIBED
            report.failed += outcome == SubscriptionState.DROPPED
            if page.subscription_state != before:
                changes.append(
                    signals.RowChange(
                        organization_id=page.organization_id,
                        pk=page.pk,
                        object_repr=str(page),
                        changes={"subscription_state": (before, page.subscription_state)},
                    )
                )
        signals.rows_changed_send(model=FacebookPage, changes=changes)
    return report


def page_subscription_check(*, page: FacebookPage, now: datetime) -> str | None:
    """One page: asked, subscribed again when dropped, its state stored; the new state, or None
    when Facebook could not be asked (the token refused, or Facebook unreachable)."""
    try:
        apps = client.call_with_page(
            page, lambda graph, token: graph.subscribed_apps(page_id=page.page_id, page_token=token)
        )
    except (TokenInvalidError, PermissionMissingError, TokenDecryptionError):
        # The state machine flagged the page (re-authorizing it subscribes it again).
        return None
    except GraphError as error:
        logger.warning("subscribed_apps of page %s: %s", page.pk, error.reason)
        return None
    ours = next((app for app in apps if app.app_id == str(settings.FB_APP_ID)), None)
    if ours is not None and set(SUBSCRIBED_FIELDS) <= set(ours.fields):
        # Still subscribed: a page re-subscribed earlier keeps saying so (with when).
        state = page.subscription_state if page.subscription_state == SubscriptionState.RESUBSCRIBED else None
        FacebookPage.objects.filter(pk=page.pk).update(
            subscription_state=state or SubscriptionState.SUBSCRIBED, subscription_checked_at=now
        )
        page.subscription_state = state or SubscriptionState.SUBSCRIBED
        return page.subscription_state
    first_report = page.subscription_state != SubscriptionState.DROPPED
    dropped_at = now if first_report else (page.subscription_dropped_at or now)
    try:
        client.call_with_page(page, lambda graph, token: graph.subscribe_app(page_id=page.page_id, page_token=token))
    except (TokenInvalidError, PermissionMissingError, TokenDecryptionError):
        return None
    except GraphError as error:
        logger.warning("subscribing page %s again failed: %s", page.pk, error.reason)
        state = SubscriptionState.DROPPED
    else:
        state = SubscriptionState.RESUBSCRIBED
    with transaction.atomic():
        changes: dict[str, Any] = {
            "subscription_state": state,
            "subscription_checked_at": now,
            "subscription_dropped_at": dropped_at,
        }
        if state == SubscriptionState.RESUBSCRIBED:
            changes["resubscribed_at"] = now
        # A failed re-subscription tried again the next day is the same drop, told once.
        FacebookPage.objects.filter(pk=page.pk).update(**changes)
        for field, value in changes.items():
            setattr(page, field, value)
        notify_subscription_dropped(
            [
                {
                    "pk": page.pk,
                    "organization_id": page.organization_id,
                    "channel_id": page.channel_id,
                    "name": page.name,
                    "dropped_at": dropped_at,
                    "resubscribed": state == SubscriptionState.RESUBSCRIBED,
                }
            ]
        )
    return state


# --------------------------------------------------------------------------- silence


@dataclass
class SilenceReport:
    raised: int = 0
    cleared: int = 0


def expected_events(*, history: dict[int, int], weeks_known: int) -> int | None:
    """What the page usually receives in the window: the median over the weeks it was linked
    (weeks without a row count as zero); None with too little history to tell."""
    if weeks_known < MIN_HISTORY_WEEKS:
        return None
    return int(statistics.median(history.get(week, 0) for week in range(1, weeks_known + 1)))


def pages_silence_check(*, now: datetime | None = None) -> SilenceReport:
    """The hourly job (see the module). A second run in the same hour changes nothing."""
    now = now or timezone.now()
    report = SilenceReport()
    window_start = now - SILENCE_WINDOW
    # Events came back without the webhook clearing the flag (it always does; belt and braces).
    report.cleared = FacebookPage.objects.filter(silent_since__isnull=False, last_event_at__gte=window_start).update(
        silent_since=None
    )
    last_pk = 0
    while True:
        pages = list(
            _checkable_pages()
            .filter(pk__gt=last_pk, silent_since__isnull=True, created_at__lte=now - timedelta(weeks=MIN_HISTORY_WEEKS))
            .filter(Q(last_event_at__isnull=True) | Q(last_event_at__lt=window_start))
            .order_by("pk")
            .only("pk", "organization_id", "channel_id", "name", "created_at", "last_event_at")[:BATCH]
        )
        if not pages:
            break
        last_pk = pages[-1].pk
        report.raised += _raise_silences(pages, now=now)
    return report


def _raise_silences(pages: list[FacebookPage], *, now: datetime) -> int:
    end = hour_start(now)
    start = end - SILENCE_WINDOW
    windows = Q(pk__in=[])
    for week in range(1, HISTORY_WEEKS + 1):
        shift = timedelta(weeks=week)
        windows |= Q(hour__gte=start - shift, hour__lt=end - shift)
    history: dict[int, dict[int, int]] = defaultdict(dict)
    rows = PageActivityHour.objects.filter(windows, page_id__in=[page.pk for page in pages]).values_list(
        "page_id", "hour", "events"
    )
    for page_pk, hour, events in rows:
        week = (end - hour - timedelta(seconds=1)) // timedelta(weeks=1)
        history[page_pk][week] = history[page_pk].get(week, 0) + events
    silent: list[dict[str, Any]] = []
    for page in pages:
        weeks_known = min(HISTORY_WEEKS, (start - page.created_at) // timedelta(weeks=1))
        expected = expected_events(history=history.get(page.pk, {}), weeks_known=weeks_known)
        if expected is None or expected < SILENCE_MIN_EXPECTED:
            continue
        flagged = FacebookPage.objects.filter(pk=page.pk, silent_since__isnull=True).update(silent_since=now)
        if flagged:
            silent.append(
                {
                    "pk": page.pk,
                    "organization_id": page.organization_id,
                    "channel_id": page.channel_id,
                    "name": page.name,
                    "silent_since": now,
                    "last_event_at": page.last_event_at,
                    "expected": expected,
                }
            )
    if silent:
        notify_silent(silent)
    return len(silent)
