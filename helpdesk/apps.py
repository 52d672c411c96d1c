from __future__ import annotations

from django.apps import AppConfig

from helpdesk.celery import ensure_broker_folders


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Helpdesk"

    def ready(self) -> None:
        ensure_broker_folders()
