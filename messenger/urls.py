"""HTML pages of the messenger app (mounted under /o/<org_slug>/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from messenger.webhook import views as webhook_views

app_name = "messenger"

urlpatterns: list[URLPattern | URLResolver] = [
    path("settings/webhook-events/", webhook_views.webhook_events, name="webhook_events"),
]
