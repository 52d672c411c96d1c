"""Receiving a verified POST: parse it, store every event in one transaction committed before
Facebook gets its 200, log each event's outcome, and leave the follow-ups for after commit.

    parsing.parse_body            the events of the POST
    one_statement (PostgreSQL)    a batch of messages in existing conversations: one round trip
    route.routing_read            otherwise: the pages' routes and the known customers, one read,
    route.batch_route             the routing rules, in Python,
    apply.batch_apply             and the batch applied step by step, set-based
    eventlog.events_record        the event log (one INSERT)
    referrals                     where customers came from (ads, m.me links): after commit,
                                  read back from the stored messages
    followups                     profiles, new-conversation notices, downloads, routing
                                  (assignment, the out-of-hours reply): after commit
    live.publish                  the conversations changed, told to the pages: after commit

When applying fails for any reason but the database being unreachable, the raw events are
still committed, as pending, and `webhook_events_retry_pending` (a periodic job) applies
them again later; `webhook_events_prune` keeps the log to its retention.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from helpdesk import signals
from helpdesk.signals import quick_replies_received
from live.publish import conversation_changed, publish
from messenger.models import WebhookEvent, WebhookOutcome
from messenger.pages.health import hour_start, page_activity_record
from messenger.webhook import parsing
from messenger.webhook.apply import batch_apply
from messenger.webhook.eventlog import events_record, logged_reason, pending_reason, pending_was_standby
from messenger.webhook.followups import attachments_enqueue, followups_enqueue, routing_enqueue
from messenger.webhook.one_statement import one_statement_applies, store_in_one_statement
from messenger.webhook.outcomes import REASON_GAVE_UP, BatchResult, Outcome
from messenger.webhook.parsed import ParsedEvent
from messenger.webhook.referrals import referrals_on_commit
from messenger.webhook.route import batch_route, routing_read

logger = logging.getLogger(__name__)

# Events kept as pending are retried by the periodic job from this age on...
PENDING_RETRY_AFTER = timedelta(seconds=5)
# ...again at most this often when they fail...
PENDING_RETRY_BACKOFF = timedelta(minutes=5)
# ...and are marked failed (still kept, for an admin to see) when they keep failing this long.
PENDING_GIVE_UP_AFTER = timedelta(hours=24)


def webhook_receive(*, body: Any, received_at: datetime) -> BatchResult:
    """Store every event of a verified POST; returns once they are committed.

    Raises a DatabaseError when nothing could be stored (the receiver answers 503 and
    Facebook delivers again). When applying the batch fails for any other reason the
    raw events are still committed, as pending, for the periodic job to retry.
    """
    return events_store(parsing.parse_body(body, received_at=received_at))


def events_store(events: Sequence[ParsedEvent]) -> BatchResult:
    """Route, apply and log a batch of parsed events: one POST's, or several kept POSTs'
    (messenger.webhook.later), each event with the time its POST arrived."""
    _activity_record(events)
    if one_statement_applies(events):
        try:
            result = store_in_one_statement(events)
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            logger.exception("webhook: the one statement failed; applying the batch step by step")
            result = None
        if result is not None:
            # The statement committed by itself (or with the caller's transaction).
            followups_on_commit(result)
            referrals_on_commit(events)
            return result
    batch = batch_route(events, routing_read(events))
    try:
        with transaction.atomic():
            result = batch_apply(batch)
            events_record(events, result.outcomes)
            followups_on_commit(result)
            referrals_on_commit(events)
        return result
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.exception("webhook: applying %d event(s) failed; keeping them as pending", len(events))
    outcomes = [Outcome(organization_id=outcome.organization_id) for outcome in batch.outcomes]
    with transaction.atomic():
        events_record(events, outcomes)
    return BatchResult(outcomes)


def _activity_record(events: Sequence[ParsedEvent]) -> None:
    """Page health's counters (messenger.pages.health): Facebook delivered these events, whatever
    becomes of them. Never in the way of storing them. Counted in the hour their POST arrived."""
    by_hour: dict[datetime, list[ParsedEvent]] = {}
    for event in events:
        by_hour.setdefault(hour_start(event.received_at), []).append(event)
    try:
        for group in by_hour.values():
            page_activity_record(
                page_ids=(event.page_id for event in group), received_at=max(event.received_at for event in group)
            )
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.exception("webhook: counting the pages' events failed")


def events_apply(events: Sequence[ParsedEvent]) -> BatchResult:
    """Apply parsed events (the retry of pending ones). Runs inside the caller's transaction."""
    result = batch_apply(batch_route(events, routing_read(events)))
    referrals_on_commit(events)
    return result


def followups_on_commit(result: BatchResult) -> None:
    """Queue the batch's follow-ups and tell the pages what changed once it is committed (at
    once outside a transaction)."""
    if result.changed:
        # One event per conversation and change; one Redis call per organization for the POST.
        publish(
            conversation_changed(
                organization_id=change.organization_id,
                channel_id=change.channel_id,
                conversation_id=change.conversation_id,
                what=change.what,
                assignee=change.assignee_id,
            )
            for change in sorted(set(result.changed))
        )
    _signalled(result)
    if result.download_message_ids:
        transaction.on_commit(partial(attachments_enqueue, message_ids=list(result.download_message_ids)), robust=True)
    if result.customer_wrote:
        transaction.on_commit(partial(routing_enqueue, customer_wrote=list(result.customer_wrote)), robust=True)
    if result.quick_replied:
        # Rare (a tap on a button the page offered): the apps above decide after commit what it
        # answers (csat records a rating), off the webhook's path.
        quick_replied = [
            (item.organization_id, item.conversation_id, item.message_id, item.payload)
            for item in sorted(set(result.quick_replied))
        ]
        transaction.on_commit(
            partial(quick_replies_received.send_robust, sender=None, quick_replies=quick_replied), robust=True
        )
    if result.new_contact_ids or result.announce_conversation_ids:
        transaction.on_commit(
            partial(
                followups_enqueue,
                contact_ids=list(result.new_contact_ids),
                conversation_ids=list(result.announce_conversation_ids),
            ),
            robust=True,
        )


def _signalled(result: BatchResult) -> None:
    """Tell the apps above (outgoing webhooks) of new conversations, customers' messages and
    replies an echo proved sent, in the batch's transaction (the one statement's committed
    already: just after it)."""
    signals.domain_events_send_each(
        type=signals.CONVERSATION_CREATED,
        resource=signals.CONVERSATION,
        rows=((organization_id, pk, pk) for organization_id, pk in result.created),
    )
    for type, messages in ((signals.MESSAGE_RECEIVED, result.received), (signals.MESSAGE_SENT, result.sent)):
        # Each organization's messages in the order they were stored (by id).
        signals.domain_events_send_each(
            type=type,
            resource=signals.MESSAGE,
            rows=sorted(
                (
                    (organization_id, message_id, conversation_id)
                    for organization_id, conversation_id, message_id in messages
                ),
                key=lambda row: (row[1], row[2]),
            ),
        )


# --------------------------------------------------------------------------- the periodic jobs


@dataclass
class RetryReport:
    retried: int = 0
    still_pending: int = 0
    failed: int = 0


def webhook_events_retry_pending(*, now: datetime | None = None, limit: int = 200) -> RetryReport:
    """Apply events kept as pending, one by one (each in its own savepoint, so that one bad
    event does not hold the others back). Safe to run concurrently: rows are claimed with
    SKIP LOCKED.

    A pending event's processed_at is its last failed attempt: events never tried come
    first, and one that keeps failing waits PENDING_RETRY_BACKOFF, so that a few bad events
    never starve the others.
    """
    now = now or timezone.now()
    report = RetryReport()
    with transaction.atomic():
        rows = list(
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(outcome=WebhookOutcome.PENDING, received_at__lte=now - PENDING_RETRY_AFTER)
            .filter(Q(processed_at__isnull=True) | Q(processed_at__lte=now - PENDING_RETRY_BACKOFF))
            .order_by(F("processed_at").asc(nulls_first=True), "received_at", "pk")[:limit]
        )
        for row in rows:
            standby = pending_was_standby(row.reason)
            event = parsing.parse_stored(
                row.kind, row.page_id, row.payload, received_at=row.received_at, standby=standby
            )
            try:
                with transaction.atomic():
                    result = events_apply([event])
            except Exception as error:
                logger.exception("webhook: pending event %s failed again", row.pk)
                if row.received_at <= now - PENDING_GIVE_UP_AFTER:
                    row.outcome, row.reason, row.processed_at = WebhookOutcome.FAILED, REASON_GAVE_UP, now
                    report.failed += 1
                else:
                    row.reason = pending_reason(standby=standby, error=type(error).__name__)
                    row.processed_at = now
                    report.still_pending += 1
                row.save(update_fields=["outcome", "reason", "processed_at"])
                continue
            outcome = result.outcomes[0]
            row.outcome, row.reason, row.processed_at = outcome.outcome, logged_reason(event, outcome), now
            row.organization_id = outcome.organization_id
            row.save(update_fields=["outcome", "reason", "processed_at", "organization"])
            report.retried += 1
            followups_on_commit(result)
    return report


def webhook_events_prune(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Delete the log older than WEBHOOK_EVENT_RETENTION_DAYS (pending events excepted), in batches."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_EVENT_RETENTION_DAYS)
    deleted = 0
    for outcome in WebhookOutcome.values:
        if outcome == WebhookOutcome.PENDING:
            continue
        while True:
            # One outcome at a time: the (outcome, received_at) index serves the lookup.
            ids = list(
                WebhookEvent.objects.filter(outcome=outcome, received_at__lt=cutoff).values_list("pk", flat=True)[
                    :batch_size
                ]
            )
            if not ids:
                break
            deleted += WebhookEvent.objects.filter(pk__in=ids).delete()[0]
    return deleted
