"""HTML pages of the tickets app (mounted under /o/<org_slug>/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

app_name = "tickets"

urlpatterns: list[URLPattern | URLResolver] = []
