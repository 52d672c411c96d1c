from __future__ import annotations

import logging

from django.apps import AppConfig

from messenger.sandbox.log_filters import RedactTokensFilter


class GraphSandboxConfig(AppConfig):
    """The local stand-in for Facebook: its own tables, never present in production."""

    name = "messenger.sandbox"
    label = "graph_sandbox"
    verbose_name = "Graph API sandbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The development server logs every request line, and Graph URLs carry tokens in
        # their query strings (access_token, input_token, code...): scrub them there.
        server_logger = logging.getLogger("django.server")
        if not any(isinstance(f, RedactTokensFilter) for f in server_logger.filters):
            server_logger.addFilter(RedactTokensFilter())
