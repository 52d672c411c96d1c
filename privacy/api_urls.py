"""REST API of a contact's data and the audit log (mounted under /api/v1/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from privacy import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("contacts/<id:contact_id>/export/", api.ContactExportView.as_view(), name="contact-export"),
    path("contacts/<id:contact_id>/erase/", api.ContactEraseView.as_view(), name="contact-erase"),
    path("audit-log/", api.AuditLogView.as_view(), name="audit-log"),
]
