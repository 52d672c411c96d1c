"""REST API routes of the tickets app (mounted under /api/v1/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from tickets import api

router = SimpleRouter(trailing_slash=True, use_regex_path=False)
router.register("tickets", api.TicketViewSet, basename="ticket")

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "conversations/<id:conversation_id>/convert/",
        api.ConversationConvertView.as_view(),
        name="conversation-convert",
    ),
    *router.urls,
]
