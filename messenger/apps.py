from __future__ import annotations

from django.apps import AppConfig


class MessengerConfig(AppConfig):
    name = "messenger"
    verbose_name = "Messenger"

    def ready(self) -> None:
        # Registers the sending tasks, which live outside the autodiscovered tasks module.
        from messenger import sending_tasks  # noqa: F401
