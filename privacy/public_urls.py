"""Meta's data deletion callback and its status page (mounted under /messenger/data-deletion/):
public, no organization in the URL."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from privacy import views

app_name = "privacy_public"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.data_deletion_callback, name="data_deletion_callback"),
    path("<slug:code>/", views.data_deletion_status, name="data_deletion_status"),
]
