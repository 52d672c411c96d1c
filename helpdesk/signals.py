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
