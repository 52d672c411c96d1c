"""REST API routes of availability (mounted under /api/v1/ by helpdesk.urls); see availability.api."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from availability import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("me/availability/", api.MyAvailabilityView.as_view(), name="my-availability"),
    path("availability/settings/", api.AvailabilitySettingsView.as_view(), name="availability-settings"),
    path("availability/", api.AvailabilityListView.as_view(), name="availability-list"),
    path("availability/<id:membership_id>/", api.MemberAvailabilityView.as_view(), name="member-availability"),
]
