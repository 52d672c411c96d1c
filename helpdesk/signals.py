"""What the helpdesk and the apps below the live updates tell them without importing them
(live.receivers listens): notifications created, members whose visibility changed."""

from __future__ import annotations

from collections.abc import Iterable

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

CONVERSATION_CLOSED = "conversation_closed"
TICKET_RESOLVED = "ticket_resolved"


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
