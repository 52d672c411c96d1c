"""REST API routes of the contacts (mounted under /api/v1/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from contacts import api

router = SimpleRouter(trailing_slash=True, use_regex_path=False)
router.register("contacts", api.ContactViewSet, basename="contact")

urlpatterns: list[URLPattern | URLResolver] = [
    path("contacts/<id:contact_id>/notes/", api.ContactNoteListView.as_view(), name="contact-notes"),
    path(
        "contacts/<id:contact_id>/notes/<id:note_id>/", api.ContactNoteDetailView.as_view(), name="contact-note-detail"
    ),
    *router.urls,
]
