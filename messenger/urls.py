"""HTML pages of the messenger app (mounted under /o/<org_slug>/ by helpdesk.urls)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from messenger import oauth

app_name = "messenger"

urlpatterns: list[URLPattern | URLResolver] = [
    # Linking Facebook Pages through Facebook Login (messenger.oauth).
    path("messenger/channels/<int:channel_id>/pages/link/", oauth.page_link, name="page_link"),
    path("messenger/pages/<int:page_pk>/reauthorize/", oauth.page_reauthorize, name="page_reauthorize"),
    path("messenger/oauth/callback/", oauth.oauth_callback, name="oauth_callback"),
    path("messenger/oauth/choose/", oauth.oauth_choose, name="oauth_choose"),
]
