"""Applying later: the receiver keeps a verified POST as it arrived, answers Facebook at once,
and a worker applies the POSTs waiting, joined into one batch (settings.WEBHOOK_APPLY_LATER).

    keep            the view: one INSERT of the raw body, committed before the 200
    apply_soon      wake the applier: a task is queued only when no run holds the wake-up mark
                    (a run keeps it while it applies and lingers, clears it, then reads once
                    more), so under steady traffic POSTs queue no task at all
    received_posts_apply
                    the worker: under a lock that makes it the only applier, claim the oldest
                    POSTs (DELETE … RETURNING), parse them, and store their events with
                    receive.events_store — the same path a POST applied at once takes — in the
                    transaction that claimed them. What fails to apply is kept as pending
                    events (receive.events_store), never lost; a database failure rolls the
                    claim back and the POSTs wait for the next run.

Joining POSTs is what makes this fast: a batch of a hundred messages costs one statement where
a hundred POSTs cost a hundred. Facebook recommends answering before processing, and retries a
POST it got no 200 for: nothing is acknowledged before it is committed here.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime

from django.core.cache import cache
from django.db import connection, models, transaction

from messenger.models import ReceivedPost
from messenger.tasks import webhook as tasks
from messenger.webhook import parsing, payload
from messenger.webhook.parsed import ParsedEvent
from messenger.webhook.receive import events_store

logger = logging.getLogger(__name__)

# The applier takes at most this many POSTs per batch (one transaction)...
BATCH_POSTS = 200
# ...and a new batch while any are left. A queued wake-up is trusted this long; after it, a
# lost one (a worker killed before it started) is replaced by the next POST's.
KICK_SECONDS = 30
# The worker's run looks for new POSTs this often, until none came for LINGER_SECONDS.
POLL_SECONDS = 0.05
LINGER_SECONDS = 1.0
# A process that saw the mark set (or set it, and queued the run) trusts it this long without
# asking again: that POST's row was committed, so the run that holds the mark sees a row at
# most POLL_SECONDS later and cannot end its linger for LINGER_SECONDS after that; every POST
# that skips the question commits well before, while the run still looks. It saves the cache's
# round trip on nearly every POST under steady traffic.
MARK_TRUSTED_SECONDS = 0.05
_mark_seen_at = -math.inf
KICK_KEY = "messenger:webhook:apply-kick"
# Transaction-level advisory lock: one applier at a time keeps the POSTs in arrival order.
_APPLIER_LOCK = 0x6D7367_77656268  # "msg" "webh"
# ReceivedPost's columns, as its fields write them.
_AT, _BODY = models.DateTimeField(), models.BinaryField()


def keep(*, body: bytes, received_at: datetime) -> None:
    """Store a verified POST to apply later (committed when this returns), and wake the applier."""
    table = connection.ops.quote_name(ReceivedPost._meta.db_table)
    with connection.cursor() as cursor:
        # One plain INSERT (autocommit): the model's save() costs more than the statement.
        cursor.execute(
            f"INSERT INTO {table} (received_at, body) VALUES (%s, %s)",  # noqa: S608 (table name)
            [_AT.get_db_prep_save(received_at, connection), _BODY.get_db_prep_save(body, connection)],
        )
    apply_soon()


def apply_soon() -> None:
    global _mark_seen_at
    now = time.monotonic()
    if now - _mark_seen_at < MARK_TRUSTED_SECONDS:
        return
    try:
        if not cache.add(KICK_KEY, 1, timeout=KICK_SECONDS):
            _mark_seen_at = now
            return
    except Exception:
        logger.warning("webhook: the cache is away; waking the applier anyway", exc_info=True)
    try:
        tasks.received_posts_apply.delay()
    except Exception:
        # The broker is away: the periodic catch-up (messenger.webhook.events_process_pending) applies them.
        logger.warning("webhook: could not wake the applier of received POSTs", exc_info=True)
        _kick_clear()
        return
    _mark_seen_at = now


def _kick_clear() -> None:
    global _mark_seen_at
    _mark_seen_at = -math.inf
    try:
        cache.delete(KICK_KEY)
    except Exception:
        logger.warning("webhook: the cache is away", exc_info=True)


def received_posts_apply(*, batch_posts: int = BATCH_POSTS, linger: float = 0.0) -> int:
    """Apply every POST waiting, oldest first, a batch per transaction; returns how many.

    With `linger` (the worker's task), the applier keeps looking every POLL_SECONDS until no
    POST came for that long, its wake-up mark left set meanwhile: under steady traffic one run
    applies everything and the POSTs queue no task. Then it clears the mark and applies what
    is left once more: a POST that found the mark set committed before it was cleared, and a
    POST after that queues the next run.
    """
    applied = 0
    idle_since = refreshed = time.monotonic()
    while True:
        count = _apply_batch(batch_posts)
        applied += count
        now = time.monotonic()
        if now - refreshed > KICK_SECONDS / 3:
            _kick_refresh()
            refreshed = now
        if count:
            idle_since = now
            if count >= batch_posts:
                continue  # more are waiting
        elif now - idle_since >= linger:
            break
        # Wait for more to come, then take them together: a batch's fixed cost (the claim, the
        # lock, the commit, the follow-ups) is paid once for all of them.
        time.sleep(POLL_SECONDS)
    _kick_clear()
    while count := _apply_batch(batch_posts):
        applied += count
    return applied


def _apply_batch(batch_posts: int) -> int:
    """Claim and apply the oldest waiting POSTs in one transaction, as the only applier."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_APPLIER_LOCK])
        posts = _claim(batch_posts)
        if posts:
            events: list[ParsedEvent] = []
            for post in posts:
                events.extend(_events(bytes(post.body), received_at=post.received_at))
            events_store(events)
    return len(posts)


def _kick_refresh() -> None:
    try:
        cache.set(KICK_KEY, 1, timeout=KICK_SECONDS)
    except Exception:
        logger.warning("webhook: the cache is away", exc_info=True)


def _claim(limit: int) -> list[ReceivedPost]:
    """The oldest waiting POSTs, deleted (taken) in the caller's transaction; in arrival order."""
    table = connection.ops.quote_name(ReceivedPost._meta.db_table)
    taken = ReceivedPost.objects.raw(
        f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id LIMIT %s) "  # noqa: S608 (table name)
        "RETURNING id, received_at, body",
        [limit],
    )
    return sorted(taken, key=lambda post: post.pk)


def _events(body: bytes, *, received_at: datetime) -> list[ParsedEvent]:
    """The events of a kept body, parsed as the receiver would have parsed them at once (its
    JSON was checked before it was kept)."""
    try:
        document = payload.body_document(body)
    except ValueError:
        document = None
    return parsing.parse_body(document, received_at=received_at)
