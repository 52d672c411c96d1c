"""REST API routes of customer satisfaction (mounted under /api/v1/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from csat import api

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "conversations/<id:conversation_id>/ratings/",
        api.ConversationRatingsView.as_view(),
        name="conversation-ratings",
    ),
    path("tickets/<id:ticket_id>/ratings/", api.TicketRatingsView.as_view(), name="ticket-ratings"),
]
