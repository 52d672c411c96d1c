"""HTML partials of customer satisfaction (mounted under /o/<org_slug>/ratings/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from csat import views

app_name = "csat"

urlpatterns: list[URLPattern | URLResolver] = [
    path("conversations/<id:conversation_id>/", views.conversation_rating, name="conversation_rating"),
    path("tickets/<id:ticket_id>/", views.ticket_rating, name="ticket_rating"),
]
