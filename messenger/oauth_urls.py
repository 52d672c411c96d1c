"""Facebook Login's one app-level redirect URI for every organization (mounted at
/messenger/oauth/callback/): the Facebook app lists this single URI."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from messenger.oauth import oauth_callback

urlpatterns: list[URLPattern | URLResolver] = [
    path("", oauth_callback, name="messenger_oauth_callback"),
]
