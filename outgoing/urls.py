"""HTML pages of outgoing webhooks (mounted under /o/<org_slug>/settings/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from outgoing import views

app_name = "outgoing"

urlpatterns: list[URLPattern | URLResolver] = [
    path("webhooks/", views.endpoint_list, name="endpoint_list"),
    path("webhooks/<id:endpoint_id>/", views.endpoint_detail, name="endpoint_detail"),
    path(
        "webhooks/<id:endpoint_id>/deliveries/<id:delivery_id>/send-again/",
        views.delivery_send_again,
        name="delivery_send_again",
    ),
]
