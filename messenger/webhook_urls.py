"""The one app-level webhook URL for every organization (mounted at /webhooks/messenger/)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
