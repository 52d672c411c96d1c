"""REST API routes of outgoing webhooks (mounted under /api/v1/ by helpdesk.urls); see outgoing.api."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from outgoing import api

router = SimpleRouter(trailing_slash=True, use_regex_path=False)
router.register("webhook-endpoints", api.WebhookEndpointViewSet, basename="webhook-endpoint")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
