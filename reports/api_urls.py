"""REST API routes of the reports (mounted under /api/v1/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from reports import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("reports/<slug:report_name>/", api.ReportView.as_view(), name="report"),
]
