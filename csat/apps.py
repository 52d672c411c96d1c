from __future__ import annotations

from django.apps import AppConfig


class CsatConfig(AppConfig):
    name = "csat"
    verbose_name = "Customer satisfaction"

    def ready(self) -> None:
        from csat import receivers
        from helpdesk import signals

        signals.conversation_finished.connect(receivers.conversation_finished, dispatch_uid="csat.finished")
        signals.quick_replies_received.connect(receivers.quick_replies_received, dispatch_uid="csat.quick_replies")
