"""The recovery job: what a dead worker or a lost publication left behind.

A message still ``sending`` after ``SENDING_TIMEOUT`` (the worker died mid-call, so nobody
knows whether Facebook got it) and not reconciled by its echo meanwhile is marked ``failed``
with reason ``unknown_outcome``. It is never resent by itself: the agent sees it and may
press Retry. A message whose task could not be published (the broker was down: the failure
is recorded in ``dispatch_failed_at``) is published again by the next run of the sweep,
which itself came through the broker and so finds it back: within ``SWEEP_INTERVAL_SECONDS``
plus the worker's reconnection of the broker's return. A message ``queued`` for longer than
``QUEUED_REDISPATCH_AFTER`` without any such record (the process died between the commit
and the publication) is published again too. Both are safe because only the task that wins
the claim (``delivery.message_deliver``) sends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from helpdesk import signals
from messenger.conversation_changes import STATUS, conversation_rows_told
from messenger.models import Direction, Message, MessageStatus
from messenger.services.sending.failures import UNKNOWN_OUTCOME
from messenger.services.sending.replies import message_dispatch_on_commit

SENDING_TIMEOUT = timedelta(minutes=5)
# A queued message with no failed publication on record is published again after this long
# (a publication lost without a trace); one whose publication failed, at the sweep's next run.
QUEUED_REDISPATCH_AFTER = timedelta(minutes=10)
# How often beat runs message_sweep (settings.CELERY_BEAT_SCHEDULE): a reply queued while the
# broker was down goes out within this plus the worker's reconnection (at most 30 s) of its return.
SWEEP_INTERVAL_SECONDS = 20.0
SWEEP_BATCH = 500


def message_sweep(*, now: datetime | None = None) -> tuple[int, list[int]]:
    """Fail sends of unknown outcome, publish again what was never queued.

    Returns (messages marked failed, ids queued again). A second run changes nothing.
    """
    now = now or timezone.now()
    timed_out = Message.objects.filter(status=MessageStatus.SENDING, status_changed_at__lt=now - SENDING_TIMEOUT)
    with transaction.atomic():
        # Locked: an echo settling one of them meanwhile waits, and each one failed here is
        # announced (API clients hear of it in this transaction), in the order they were written.
        rows = list(
            timed_out.select_for_update(skip_locked=True, of=("self",))
            .order_by("pk")
            .values_list(
                "pk", "organization_id", "conversation__channel_id", "conversation_id", "conversation__assignee_id"
            )
        )
        failed = 0
        if rows:
            failed = timed_out.filter(pk__in=[row[0] for row in rows]).update(
                status=MessageStatus.FAILED, error_code=UNKNOWN_OUTCOME, error_message="", status_changed_at=now
            )
            signals.domain_events_send_each(
                type=signals.MESSAGE_FAILED,
                resource=signals.MESSAGE,
                rows=(
                    (organization_id, message_id, conversation_id)
                    for message_id, organization_id, _channel_id, conversation_id, _assignee_id in rows
                ),
            )
    if rows:
        conversation_rows_told((row[1:] for row in rows), what=STATUS)
    # Publishing failed since the message last changed state, or it has waited far too long.
    unpublished = Q(dispatch_failed_at__gte=F("status_changed_at")) | Q(
        status_changed_at__lt=now - QUEUED_REDISPATCH_AFTER
    )
    stale = list(
        Message.objects.filter(unpublished, status=MessageStatus.QUEUED, direction=Direction.OUTBOUND)
        .order_by("status_changed_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    if stale:
        Message.objects.filter(pk__in=stale, status=MessageStatus.QUEUED).update(
            status_changed_at=now, dispatch_failed_at=None
        )
        for message_id in stale:
            message_dispatch_on_commit(message_id)
    return failed, stale
