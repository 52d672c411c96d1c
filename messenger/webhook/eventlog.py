"""The event log: one WebhookEvent row per event of every POST, with its outcome and reason
(what an admin reads to learn why an event was dropped), written in one INSERT.

An event kept as pending (applying it failed) keeps in its reason whether it came in
standby, so that its retry parses it again as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from messenger.models import WebhookEvent, WebhookOutcome
from messenger.webhook.outcomes import REASON_STANDBY, Outcome
from messenger.webhook.parsed import ParsedEvent
from messenger.webhook.sql import insert_rows

# The outcomes whose log row says "standby" when nothing else is to be said.
_STANDBY_LOGGED = (WebhookOutcome.STORED, WebhookOutcome.DUPLICATE, WebhookOutcome.PENDING)


def logged_reason(event: ParsedEvent, outcome: Outcome) -> str:
    """The event log's reason. A pending event that came in standby says so."""
    if event.standby and not outcome.reason and outcome.outcome in _STANDBY_LOGGED:
        return REASON_STANDBY
    return outcome.reason[:60]


def pending_reason(*, standby: bool, error: str) -> str:
    """A pending event's reason after a failed retry: its error, and whether it came in standby."""
    return (f"{REASON_STANDBY} " if standby else "") + f"error:{error}"[:40]


def pending_was_standby(reason: str) -> bool:
    return reason.split(" ", 1)[0] == REASON_STANDBY


def stored_payload(event: ParsedEvent) -> Any:
    """The item as received; a JSON null cannot be stored as such in a NOT NULL column: kept wrapped."""
    return event.payload if event.payload is not None else {"value": None}


def events_record(events: Sequence[ParsedEvent], outcomes: Sequence[Outcome]) -> None:
    processed_at = timezone.now()
    insert_rows(
        WebhookEvent,
        [
            {
                "organization_id": outcome.organization_id,
                "page_id": event.page_id[:40],
                "kind": event.kind[:30],
                "mid": event.mid[:255],
                "payload": stored_payload(event),
                "outcome": outcome.outcome,
                "reason": logged_reason(event, outcome),
                "received_at": event.received_at,
                "processed_at": None if outcome.outcome == WebhookOutcome.PENDING else processed_at,
            }
            for event, outcome in zip(events, outcomes, strict=True)
        ],
    )
