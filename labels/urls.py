"""HTML pages of labels (mounted under /o/<org_slug>/settings/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from labels import views

app_name = "labels"

urlpatterns: list[URLPattern | URLResolver] = [
    path("labels/", views.label_list, name="label_list"),
    path("labels/<id:label_id>/", views.label_edit, name="label_edit"),
]
