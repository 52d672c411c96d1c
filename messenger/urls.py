"""HTML pages of the messenger app (mounted under /o/<org_slug>/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

app_name = "messenger"

urlpatterns: list[URLPattern | URLResolver] = []
