"""HTML pages of a contact's data and the audit log (mounted under /o/<org_slug>/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from privacy import views

app_name = "privacy"

urlpatterns: list[URLPattern | URLResolver] = [
    path("settings/audit-log/", views.audit_log, name="audit_log"),
    path("contacts/<id:contact_id>/data/", views.contact_data_page, name="contact_data"),
    path("contacts/<id:contact_id>/data/export/", views.contact_export_download, name="contact_export"),
]
