"""HTML pages of the contacts (mounted under /o/<org_slug>/contacts/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from contacts import views

app_name = "contacts"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.contact_list, name="list"),
    path("<id:contact_id>/", views.contact_detail, name="detail"),
    path("<id:contact_id>/notes/", views.note_add, name="note_add"),
    path("<id:contact_id>/notes/<id:note_id>/", views.note_edit, name="note_edit"),
    path("<id:contact_id>/merge/", views.contact_merge, name="merge"),
    path("<id:contact_id>/unmerge/", views.contact_unmerge, name="unmerge"),
]
