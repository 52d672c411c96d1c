"""REST API routes of the messenger app (mounted under /api/v1/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from messenger.api.avatars import ContactAvatarView
from messenger.api.conversations import ConversationViewSet
from messenger.api.messages import MessageViewSet
from messenger.api.notes import ConversationNoteViewSet
from messenger.api.saved_views import SavedViewViewSet
from messenger.webhook.api import WebhookEventViewSet

router = SimpleRouter(trailing_slash=True, use_regex_path=False)
router.register("conversations", ConversationViewSet, basename="conversation")
router.register("messages", MessageViewSet, basename="message")
router.register("webhook-events", WebhookEventViewSet, basename="webhook-event")
router.register("saved-views", SavedViewViewSet, basename="saved-view")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
urlpatterns += [
    path(
        "conversations/<id:conversation_id>/notes/",
        ConversationNoteViewSet.as_view({"get": "list", "post": "create"}),
        name="conversation-notes",
    ),
    path("contacts/<id:contact_id>/avatar/", ContactAvatarView.as_view(), name="contact-avatar"),
]
