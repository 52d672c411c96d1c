"""REST API routes of SLA policies (mounted under /api/v1/ by helpdesk.urls); see sla.api."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from sla import api

router = SimpleRouter(trailing_slash=True, use_regex_path=False)
router.register("sla-policies", api.SlaPolicyViewSet, basename="sla-policy")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
