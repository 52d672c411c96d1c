from __future__ import annotations

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Customers' data and the audit log"

    def ready(self) -> None:
        from privacy import audit

        audit.register_audited_models()
        audit.connect_receivers()
