"""How a ticket changed, as the pages are told (live.publish.ticket_publish, after commit):
the codes of a ticket event's `what`. Addressed to the ticket's channel and its own
department (the visibility rule)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from live.publish import ticket_publish

TICKET_CREATED = "created"
TICKET_STATE = "state"
TICKET_ASSIGNMENT = "assignment"
TICKET_DETAILS = "details"  # subject, priority
TICKET_LABELS = "labels"
TICKET_REPLY = "reply"


@dataclass(frozen=True, slots=True)
class TicketRef:
    """What an event needs of a ticket (the fields ticket_publish reads), without loading it."""

    pk: int
    organization_id: int
    channel_id: int
    department_id: int
    conversation_id: int | None


def tickets_told(tickets: Iterable[Any], *, what: str) -> None:
    for ticket in tickets:
        ticket_publish(ticket, what=what)
