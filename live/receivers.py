"""The live events of what lower apps signal (helpdesk.signals): a notification for each
member notified, notifications read, a scope change for each member whose visibility changed."""

from __future__ import annotations

from typing import Any

from live.publish import notification_publish, scope_changed


def notifications_created(
    sender: Any, *, organization_id: int, notifications: list[tuple[int, int | None, str]], **kwargs: Any
) -> None:
    for user_id, notification_id, kind in notifications:
        notification_publish(
            organization_id=organization_id, user_id=user_id, notification_id=notification_id or 0, kind=kind
        )


def notifications_read(sender: Any, *, organization_id: int, user_id: int, **kwargs: Any) -> None:
    """The member's other tabs count again (no notice: nothing new)."""
    notification_publish(organization_id=organization_id, user_id=user_id, notification_id=0, kind="read")


def members_scope_changed(sender: Any, *, organization_id: int, user_ids: list[int], **kwargs: Any) -> None:
    scope_changed(organization_id=organization_id, user_ids=user_ids)
