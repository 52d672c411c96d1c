"""The reports' pages (mounted under /o/<org_slug>/reports/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from reports import views

app_name = "reports"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.report_index, name="index"),
    path("<slug:report_name>/", views.report_page, name="report"),
    path("<slug:report_name>/csv/", views.report_csv, name="csv"),
]
