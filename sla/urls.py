"""HTML pages of SLA policies (mounted under /o/<org_slug>/settings/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from sla import views

app_name = "sla"

urlpatterns: list[URLPattern | URLResolver] = [
    path("sla/", views.policy_list, name="policy_list"),
    path("sla/<id:policy_id>/", views.policy_edit, name="policy_edit"),
]
