"""What the helpdesk and the apps below the live updates tell them without importing them
(live.receivers listens): notifications created, members whose visibility changed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.dispatch import Signal

# organization_id, notifications: [(user id, notification id, kind)]
notifications_created = Signal()
# organization_id, user_id: that member read notifications (their other tabs' bell and title)
notifications_read = Signal()
# organization_id, user_ids: the members whose channels, departments, role or activity changed
members_scope_changed = Signal()


def scope_changed_send(*, organization_id: int, user_ids: Iterable[int]) -> None:
    wanted = sorted(set(user_ids))
    if wanted:
        members_scope_changed.send(sender=None, organization_id=organization_id, user_ids=wanted)


# An agent finished a conversation: closed it, or resolved its ticket (csat asks for a rating).
# organization_id, conversation_ids, acting_user_id (None: nobody), occasion ("conversation_closed"
# or "ticket_resolved"), occasion_ids: {conversation id: the close's event id or the ticket's id}
conversation_finished = Signal()
# Customers' messages carrying a quick-reply payload were stored (after commit):
# quick_replies: [(organization id, conversation id, message id, payload)]
quick_replies_received = Signal()

# The occasions of conversation_finished (csat.models.SurveyOccasion's values).
FINISHED_CONVERSATION_CLOSED = "conversation_closed"
FINISHED_TICKET_RESOLVED = "ticket_resolved"


def conversation_finished_send(
    *, organization_id: int, acting_user_id: int | None, occasion: str, occasion_ids: dict[int, int]
) -> None:
    if occasion_ids:
        conversation_finished.send(
            sender=None,
            organization_id=organization_id,
            conversation_ids=sorted(occasion_ids),
            acting_user_id=acting_user_id,
            occasion=occasion,
            occasion_ids=dict(occasion_ids),
        )


# Something an API client may want to hear of happened (outgoing webhooks listen): sent inside
# the transaction of the change, so that the outbox row commits (or not) with it.
# organization_id, type (one of EVENT_TYPES), resource (one of RESOURCES),
# subjects: [(resource id, conversation id or None)]
domain_events = Signal()

EVENT_TYPES = (
    "conversation.created",
    "conversation.assigned",
    "conversation.closed",
    "message.received",
    "message.sent",
    "message.failed",
    "ticket.created",
    "ticket.updated",
    "sla.breached",
    "page.needs_reauthorization",
)
(
    CONVERSATION_CREATED,
    CONVERSATION_ASSIGNED,
    CONVERSATION_CLOSED,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
    MESSAGE_FAILED,
    TICKET_CREATED,
    TICKET_UPDATED,
    SLA_BREACHED,
    PAGE_NEEDS_REAUTHORIZATION,
) = EVENT_TYPES


RESOURCES = ("conversation", "message", "ticket", "page")
CONVERSATION, MESSAGE, TICKET, PAGE = RESOURCES


def domain_events_send(
    *, organization_id: int, type: str, resource: str, subjects: Iterable[tuple[int, int | None]]
) -> None:
    wanted = list(dict.fromkeys(subjects))
    if wanted and domain_events.receivers:
        domain_events.send(sender=None, organization_id=organization_id, type=type, resource=resource, subjects=wanted)


def domain_events_send_each(*, type: str, resource: str, rows: Iterable[tuple[int, int, int | None]]) -> None:
    """`domain_events_send` for rows of several organizations: (organization id, resource id,
    conversation id or None), sent once per organization in the rows' order."""
    by_organization: dict[int, list[tuple[int, int | None]]] = {}
    for organization_id, pk, conversation_id in rows:
        by_organization.setdefault(organization_id, []).append((pk, conversation_id))
    for organization_id, subjects in by_organization.items():
        domain_events_send(organization_id=organization_id, type=type, resource=resource, subjects=subjects)


# Rows of an audited model changed by a statement (an UPDATE, a bulk_update: the pages'
# authorization sweeps) rather than by saving each one, which is all django-auditlog sees:
# privacy.audit writes one entry per row, in the transaction of the change.
# sender: the model; changes: [RowChange]
rows_changed = Signal()


@dataclass(frozen=True, slots=True)
class RowChange:
    """One row's change: each changed field's (old, new) value as stored, and why (a code the
    audit log names in the reader's language, e.g. a page's re-authorization reason)."""

    organization_id: int
    pk: int
    object_repr: str
    changes: dict[str, tuple[Any, Any]]
    reason: str = ""


def rows_changed_send(*, model: type[Any], changes: Iterable[RowChange]) -> None:
    """Tell the audit log of the rows that did change (those with no changed field are left out)."""
    wanted = [change for change in changes if change.changes]
    if wanted and rows_changed.receivers:
        rows_changed.send(sender=model, changes=wanted)
