from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from availability import signals as availability_signals
from messenger import open_counts
from messenger.routing import triggers


class MessengerConfig(AppConfig):
    name = "messenger"
    verbose_name = "Messenger"

    def ready(self) -> None:
        # Automatic assignment: an agent who comes online, or gains capacity, takes from the queue.
        availability_signals.status_changed.connect(triggers.on_status_changed, dispatch_uid="routing-status")
        availability_signals.capacity_changed.connect(triggers.on_capacity_changed, dispatch_uid="routing-capacity")
        # The inbox's counts are kept by triggers, put (back) in place after every migrate.
        post_migrate.connect(open_counts.on_post_migrate, sender=self, dispatch_uid="messenger-open-counts")
