from __future__ import annotations

from django.apps import AppConfig

from availability import signals as availability_signals
from messenger.routing import triggers


class MessengerConfig(AppConfig):
    name = "messenger"
    verbose_name = "Messenger"

    def ready(self) -> None:
        # Automatic assignment: an agent who comes online, or gains capacity, takes from the queue.
        availability_signals.status_changed.connect(triggers.on_status_changed, dispatch_uid="routing-status")
        availability_signals.capacity_changed.connect(triggers.on_capacity_changed, dispatch_uid="routing-capacity")
