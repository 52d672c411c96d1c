"""The home page (mounted under /o/<org_slug>/ by helpdesk.urls; the name `org_home` is
the one every "home" link and redirect of the project uses)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from home import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="org_home"),
]
