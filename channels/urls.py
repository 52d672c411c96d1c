"""HTML pages of the channels app (mounted under /o/<org_slug>/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

app_name = "channels"

urlpatterns: list[URLPattern | URLResolver] = []
