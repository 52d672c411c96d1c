from __future__ import annotations

from django.apps import AppConfig


class AvailabilityConfig(AppConfig):
    name = "availability"
    verbose_name = "Availability"

    def ready(self) -> None:
        from availability import receivers  # noqa: F401  (connects the logout receiver)
