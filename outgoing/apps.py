from __future__ import annotations

from django.apps import AppConfig


class OutgoingConfig(AppConfig):
    name = "outgoing"
    verbose_name = "Outgoing webhooks"

    def ready(self) -> None:
        from helpdesk import signals
        from outgoing import receivers

        signals.domain_events.connect(receivers.domain_events, dispatch_uid="outgoing.domain_events")
