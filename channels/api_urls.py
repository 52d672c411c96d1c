"""REST API routes of the channels app (mounted under /api/v1/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
