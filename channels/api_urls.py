"""REST API routes of the channels app (mounted under /api/v1/ by helpdesk.urls); see channels.api."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from channels import api

router = SimpleRouter(trailing_slash=True, use_regex_path=False)
router.register("channels", api.ChannelViewSet, basename="channel")

urlpatterns: list[URLPattern | URLResolver] = [
    path("channels/<id:channel_id>/icon/", api.ChannelIconView.as_view(), name="channel-icon"),
    path("channels/<id:channel_id>/pages/", api.ChannelPagesView.as_view(), name="channel-pages"),
    path("channels/<id:channel_id>/pages/<id:page_pk>/", api.ChannelPageView.as_view(), name="channel-page"),
    path("channels/<id:channel_id>/agents/", api.ChannelAgentsView.as_view(), name="channel-agents"),
    path("departments/<id:department_id>/settings/", api.DepartmentSettingsView.as_view(), name="department-settings"),
    path(
        "departments/<id:department_id>/business-hours/",
        api.DepartmentBusinessHoursView.as_view(),
        name="department-business-hours",
    ),
    *router.urls,
]
