"""The one app-level webhook URL for every organization (mounted at /webhooks/messenger/)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from messenger.webhook.views import messenger_webhook

urlpatterns: list[URLPattern | URLResolver] = [
    path("", messenger_webhook, name="messenger_webhook"),
]
