"""The common case on PostgreSQL in one round trip: a POST whose events are all either
ignored as parsed or messages in conversations that exist already is routed, stored and
logged by one statement (messenger.webhook.one_statement_sql). This module turns the
parsed events into the statement's rows and its answer into outcomes.

Routing is not decided here: the statement applies `route.ROUTING_RULES` and
`outcomes.MESSAGE_REASONS` in SQL, and the rows carry what only Python knows (a repeat
within the POST, files over the caps, standby) by the same rules the step-by-step way uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from messenger.conversation_changes import AGENT_MESSAGE, CUSTOMER_MESSAGE
from messenger.models import Message, WebhookOutcome
from messenger.services.attachments.caps import attachments_cap, attachments_over_delivery_cap, downloadable_message_ids
from messenger.webhook import one_statement_sql
from messenger.webhook.eventlog import stored_payload
from messenger.webhook.messages import message_new
from messenger.webhook.one_statement_sql import ANSWERS, COUNTS, INBOUND, PREVIEW, PREVIEWS, WINDOW
from messenger.webhook.outcomes import (
    BatchResult,
    ConversationChanged,
    CustomerWrote,
    Outcome,
    QuickReplied,
    customer_wrote_merge,
)
from messenger.webhook.parsed import ParsedEvent
from messenger.webhook.route import creates_message, log_if_unknown_kind, repeated_deliveries
from messenger.webhook.sql import connection_for


def one_statement_applies(events: Sequence[ParsedEvent]) -> bool:
    """PostgreSQL, and every event either ignored as parsed or a message to store."""
    if not events or connection_for(Message).vendor != "postgresql":
        return False
    return all(event.ignored_reason or (creates_message(event) and event.customer_id and event.mid) for event in events)


def store_in_one_statement(events: Sequence[ParsedEvent]) -> BatchResult | None:
    """The whole batch in one statement, or None when a message's conversation does not exist
    yet or the POST has more files than it keeps (nothing was written then)."""
    creating = [(index, event, event.page_id) for index, event in enumerate(events) if not event.ignored_reason]
    repeats = repeated_deliveries(creating)
    rows: list[dict[str, Any]] = []
    message_rows: list[dict[str, Any]] = []  # the messages to store, in the order of the POST
    for index, event in enumerate(events):
        row: dict[str, Any] = {
            "page": event.page_id,
            "event_kind": event.kind[:30],
            "mid": event.mid,
            "payload": stored_payload(event),
            "ord": index,
            "standby": event.standby,
            "received_at": event.received_at,
            "capped": False,
        }
        if event.ignored_reason:
            row["outcome"], row["reason"] = WebhookOutcome.IGNORED, event.ignored_reason[:60]
        else:
            message = message_new(index, event)
            row.update(message.columns, creates=True, customer=event.customer_id, again=index in repeats)
            row[INBOUND], row[COUNTS], row[ANSWERS] = message.inbound, message.customer_wrote, message.answers
            row[WINDOW] = message.opens_window
            previews = message.previews()
            if len(set(previews.values())) == 1:  # it has text, or reads alike in every language
                row[PREVIEW] = next(iter(previews.values()))
            else:
                row[PREVIEWS] = previews
            if not row["again"]:
                message_rows.append(row)
        rows.append(row)
    if attachments_over_delivery_cap(message_rows):
        # Only the files of messages that are stored count towards the POST's cap, and which
        # are is decided in the statement (a disabled channel's, an unknown page's are not):
        # such a POST, rare, is applied step by step.
        return None
    for row, capped in zip(message_rows, attachments_cap(message_rows), strict=True):
        row["capped"] = capped
    now = timezone.now()
    decided = one_statement_sql.statement_run(rows=rows, batch_values={"processed_at": now}, now=now)
    if decided is None:
        return None
    for event in events:
        log_if_unknown_kind(event)
    result = BatchResult([Outcome(d.outcome, d.reason, d.organization_id) for d in decided])
    result.download_message_ids = downloadable_message_ids(
        (row, d.message_id) for d, row in zip(decided, rows, strict=True) if row.get("creates")
    )
    result.customer_wrote = customer_wrote_merge(
        [
            CustomerWrote(
                d.conversation_id, d.channel_id, d.department_id, d.sent_at, bool(d.reopened and d.assignment_on)
            )
            for d in decided
            if d.customer_wrote and d.conversation_id and d.channel_id and d.department_id and d.sent_at
        ]
    )
    result.quick_replied = [
        QuickReplied(d.organization_id, d.conversation_id, d.message_id, row["quick_reply_payload"])
        for d, row in zip(decided, rows, strict=True)
        if row.get("quick_reply_payload") and row[INBOUND] and d.shown
        if d.organization_id and d.conversation_id and d.message_id
    ]
    result.received = [
        (d.organization_id, d.conversation_id, d.message_id)
        for d, row in zip(decided, rows, strict=True)
        if row.get(INBOUND) and d.shown and d.organization_id and d.conversation_id and d.message_id
    ]
    result.changed = sorted(
        {
            ConversationChanged(
                d.conversation_id,
                CUSTOMER_MESSAGE if row[INBOUND] else AGENT_MESSAGE,
                d.organization_id,
                d.conversation_channel_id,
                d.assignee_id,
            )
            for d, row in zip(decided, rows, strict=True)
            if d.shown and d.conversation_id and d.organization_id and d.conversation_channel_id
        }
    )
    return result
