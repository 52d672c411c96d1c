"""Telling the pages that something changed: `publish` and the helpers the services call.

Events published inside a transaction leave once it commits, each distinct event once per
transaction (ten messages stored in one webhook POST for one conversation are one event);
a transaction rolled back sends nothing. Outside a transaction an event leaves at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, transaction

from live import bus
from live.events import (
    CONVERSATION,
    LABEL,
    LABEL_TOPICS,
    NOTIFICATION,
    SCOPE,
    TICKET,
    LiveEvent,
    conversation_topics,
    ticket_topics,
)


class _PendingEvents:
    """The events of one transaction, flushed by the on-commit hook it registered."""

    def __init__(self) -> None:
        self.events: dict[bytes, LiveEvent] = {}
        self.flushed = False

    def __call__(self) -> None:
        self.flushed = True
        events, self.events = list(self.events.values()), {}
        bus.publish_now(events)


def publish(events: Iterable[LiveEvent], *, using: str = DEFAULT_DB_ALIAS) -> None:
    if not bus.enabled():
        return
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        bus.publish_now(events)
        return
    pending: _PendingEvents | None = getattr(connection, "live_pending", None)
    # A flush registered in a savepoint that was rolled back is gone from the hooks, and one that
    # ran already (a test's captured hooks stay listed) sends nothing more: start anew.
    if (
        pending is None
        or pending.flushed
        or not any(hook is pending for _sids, hook, _robust in connection.run_on_commit)
    ):
        pending = _PendingEvents()
        connection.live_pending = pending
        transaction.on_commit(pending, using=using, robust=True)
    for event in events:
        pending.events.setdefault(event.key(), event)


def conversation_changed(
    *, organization_id: int, channel_id: int, conversation_id: int, what: str, **data: Any
) -> LiveEvent:
    """A conversation's row, transcript or labels changed (`what` says how, for alerts)."""
    return LiveEvent(
        organization_id=organization_id,
        kind=CONVERSATION,
        data={"conversation": conversation_id, "what": what, **data},
        topics=conversation_topics(conversation_id),
        channel_id=channel_id,
    )


def conversations_changed(rows: Iterable[tuple[int, int, int]], *, what: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Publish one event per (organization id, channel id, conversation id)."""
    publish(
        (
            conversation_changed(organization_id=o, channel_id=c, conversation_id=i, what=what)
            for o, c, i in dict.fromkeys(rows)
        ),
        using=using,
    )


def conversation_publish(conversation: Any, *, what: str, **data: Any) -> None:
    """The event for a conversation instance (its organization_id, channel_id and pk)."""
    publish(
        [
            conversation_changed(
                organization_id=conversation.organization_id,
                channel_id=conversation.channel_id,
                conversation_id=conversation.pk,
                what=what,
                **data,
            )
        ]
    )


def ticket_publish(ticket: Any, *, what: str) -> None:
    """A ticket changed: seen by who sees its channel and works in its own department."""
    publish(
        [
            LiveEvent(
                organization_id=ticket.organization_id,
                kind=TICKET,
                data={"ticket": ticket.pk, "conversation": ticket.conversation_id, "what": what},
                topics=ticket_topics(ticket.pk, ticket.conversation_id),
                channel_id=ticket.channel_id,
                department_id=ticket.department_id,
            )
        ]
    )


def notification_publish(*, organization_id: int, user_id: int, notification_id: int, kind: str) -> None:
    """A notification for one member (the bell, the tab's title, desktop alerts)."""
    publish(
        [
            LiveEvent(
                organization_id=organization_id,
                kind=NOTIFICATION,
                data={"notification": notification_id, "what": kind},
                topics=("notifications",),
                user_id=user_id,
            )
        ]
    )


def label_publish(*, organization_id: int, label_id: int, what: str) -> None:
    """A label changed (`what`: "updated", "deleted"): the organization's lists show it again."""
    publish(
        [
            LiveEvent(
                organization_id=organization_id,
                kind=LABEL,
                data={"label": label_id, "what": what},
                topics=LABEL_TOPICS,
            )
        ]
    )


def scope_changed(*, organization_id: int, user_ids: Iterable[int]) -> None:
    """The members' visibility changed: their streams read it again and the pages resync."""
    publish(
        [LiveEvent(organization_id=organization_id, kind=SCOPE, user_id=user_id) for user_id in dict.fromkeys(user_ids)]
    )
