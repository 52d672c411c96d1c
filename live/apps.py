from __future__ import annotations

from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "Live updates"

    def ready(self) -> None:
        from helpdesk import signals
        from live import receivers

        signals.notifications_created.connect(receivers.notifications_created, dispatch_uid="live.notifications")
        signals.notifications_read.connect(receivers.notifications_read, dispatch_uid="live.notifications-read")
        signals.members_scope_changed.connect(receivers.members_scope_changed, dispatch_uid="live.scope")
