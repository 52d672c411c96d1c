"""HTML pages of availability (mounted under /o/<org_slug>/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from availability import views

app_name = "availability"

urlpatterns: list[URLPattern | URLResolver] = [
    path("availability/heartbeat/", views.heartbeat, name="heartbeat"),
    path("availability/status/", views.status_set, name="status_set"),
    path("settings/availability/", views.availability_settings, name="settings"),
    path("settings/members/<id:membership_id>/capacity/", views.member_capacity, name="member_capacity"),
    path("settings/members/<id:membership_id>/set-offline/", views.member_set_offline, name="member_set_offline"),
]
