"""REST API routes of canned responses (mounted under /api/v1/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from canned import api

router = SimpleRouter(trailing_slash=True, use_regex_path=False)
router.register("canned-responses", api.CannedResponseViewSet, basename="canned-response")

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "conversations/<id:conversation_id>/canned-responses/<id:canned_id>/render/",
        api.CannedRenderView.as_view(),
        name="canned-response-render",
    ),
    *router.urls,
]
