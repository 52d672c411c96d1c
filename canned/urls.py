"""HTML pages of canned responses (mounted under /o/<org_slug>/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from canned import views

app_name = "canned"

urlpatterns: list[URLPattern | URLResolver] = [
    path("settings/canned-responses/", views.canned_list, name="list"),
    path("settings/canned-responses/new/", views.canned_create, name="create"),
    path("settings/canned-responses/<id:canned_id>/", views.canned_edit, name="edit"),
    path("settings/canned-responses/<id:canned_id>/delete/", views.canned_delete, name="delete"),
    path("settings/canned-responses/<id:canned_id>/files/", views.canned_attachment_add, name="attachment_add"),
    path(
        "settings/canned-responses/<id:canned_id>/files/<id:attachment_id>/remove/",
        views.canned_attachment_remove,
        name="attachment_remove",
    ),
    path("canned-files/<id:attachment_id>/", views.canned_attachment_file, name="attachment_file"),
    path("inbox/<id:conversation_id>/canned/", views.composer_search, name="composer_search"),
    path(
        "inbox/<id:conversation_id>/canned/<id:canned_id>/render/",
        views.composer_render,
        name="composer_render",
    ),
    # The same two on a ticket's page: its conversation, with the ticket's number.
    path("tickets/<id:ticket_id>/canned/", views.composer_search, name="ticket_composer_search"),
    path(
        "tickets/<id:ticket_id>/canned/<id:canned_id>/render/",
        views.composer_render,
        name="ticket_composer_render",
    ),
]
