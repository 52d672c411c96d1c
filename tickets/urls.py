"""HTML pages of the tickets app (mounted under /o/<org_slug>/tickets/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from tickets import views

app_name = "tickets"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.ticket_list, name="ticket_list"),
    path("<id:ticket_id>/", views.ticket_detail, name="ticket_detail"),
    path("<id:ticket_id>/transcript/", views.ticket_transcript, name="ticket_transcript"),
    path("<id:ticket_id>/reply/", views.ticket_reply, name="ticket_reply"),
    path("<id:ticket_id>/notes/", views.ticket_note_add, name="ticket_note"),
    path("<id:ticket_id>/subject/", views.ticket_subject_update, name="ticket_subject"),
    path("<id:ticket_id>/state/", views.ticket_state_change, name="ticket_state"),
    path("<id:ticket_id>/details/", views.ticket_details_update, name="ticket_details"),
    path("<id:ticket_id>/labels/", views.ticket_label_add, name="ticket_label_add"),
    path("<id:ticket_id>/labels/<id:label_id>/remove/", views.ticket_label_remove, name="ticket_label_remove"),
    path("convert/<id:conversation_id>/", views.ticket_convert, name="convert"),
    path("contact/<id:contact_id>/", views.contact_tickets, name="contact_tickets"),
]
