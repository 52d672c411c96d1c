"""REST API routes of labels (mounted under /api/v1/ by helpdesk.urls); see labels.api."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from labels import api

router = SimpleRouter(trailing_slash=True, use_regex_path=False)
router.register("labels", api.LabelViewSet, basename="label")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
