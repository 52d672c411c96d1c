"""HTML pages of the channels app (mounted under /o/<org_slug>/settings/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from channels import views

app_name = "channels"

urlpatterns: list[URLPattern | URLResolver] = [
    path("channels/", views.channel_overview, name="channel_overview"),
    path("channels/messenger/", views.channel_list, name="channel_list"),
    path("channels/messenger/new/", views.channel_create, name="channel_create"),
    path("channels/<id:channel_id>/", views.channel_edit, name="channel_edit"),
    path("channels/<id:channel_id>/icon/", views.channel_icon, name="channel_icon"),
    path("channels/<id:channel_id>/disable/", views.channel_disable, name="channel_disable"),
    path("channels/<id:channel_id>/enable/", views.channel_enable, name="channel_enable"),
    path("channels/<id:channel_id>/delete/", views.channel_delete, name="channel_delete"),
    path("channels/<id:channel_id>/assignment/", views.channel_assignment, name="channel_assignment"),
    path("channels/<id:channel_id>/pages/<id:page_pk>/remove/", views.page_remove, name="page_remove"),
    path("agents/", views.agent_list, name="agent_list"),
    path("agents/<id:membership_id>/channels/", views.agent_channels, name="agent_channels"),
    path("tickets/", views.ticket_settings, name="ticket_settings"),
    path("business-hours/", views.business_hours_list, name="business_hours_list"),
    path("business-hours/<id:department_id>/", views.business_hours_edit, name="business_hours_edit"),
]
