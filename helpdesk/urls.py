"""The URL map. HTML pages of an organization live under /o/<org_slug>/ (see helpdesk.tenancy)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from helpdesk import (
    api,
    converters,  # noqa: F401  (registers the <id:…> path converter)
    views,
)

router = SimpleRouter(trailing_slash=True, use_regex_path=False)
router.register("departments", api.DepartmentViewSet, basename="department")
router.register("members", api.MemberViewSet, basename="member")
router.register("notifications", api.NotificationViewSet, basename="notification")

api_urlpatterns = [
    path(
        "notifications/mark-read/",
        api.NotificationViewSet.as_view({"post": "mark_read"}),
        name="notification-mark-read",
    ),
    *router.urls,
]

org_urlpatterns = [
    path("", views.org_home, name="org_home"),
    path("settings/departments/", views.department_list, name="department_list"),
    path("settings/departments/<id:department_id>/", views.department_edit, name="department_edit"),
    path("settings/members/", views.member_list, name="member_list"),
    path("settings/members/<id:membership_id>/", views.member_edit, name="member_edit"),
    path("settings/api-tokens/", views.api_tokens, name="api_tokens"),
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/badge/", views.notification_badge, name="notification_badge"),
    path("preferences/", views.preferences, name="preferences"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("organizations/", views.organization_switch, name="organization_switch"),
    path("o/<slug:org_slug>/", include(org_urlpatterns)),
    path("o/<slug:org_slug>/settings/", include("channels.urls")),
    path("o/<slug:org_slug>/", include("messenger.urls")),
    path("o/<slug:org_slug>/tickets/", include("tickets.urls")),
    path("webhooks/messenger/", include("messenger.webhook_urls")),
    path("messenger/oauth/callback/", include("messenger.oauth_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # GET only: DRF's OPTIONS would render its metadata through the page's template renderer (a 500).
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", http_method_names=["get", "head"]),
        name="api-docs",
    ),
    path("api/v1/", include(api_urlpatterns)),
    path("api/v1/", include("channels.api_urls")),
    path("api/v1/", include("messenger.api_urls")),
    path("api/v1/", include("tickets.api_urls")),
]

if settings.GRAPH_SANDBOX:
    # The local stand-in for Facebook (OAuth dialog, Graph API, customer simulator).
    urlpatterns.append(path("sandbox/", include("messenger.sandbox.urls")))

if settings.DEBUG:
    from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
    from django.views.static import serve

    def _not_public(request: HttpRequest, rest: str) -> HttpResponse:
        raise Http404

    def _media(request: HttpRequest, path: str) -> HttpResponseBase:
        try:
            return serve(request, path, document_root=str(settings.MEDIA_ROOT))
        except OSError:  # a name the file system refuses (too long): no such file
            raise Http404 from None

    # Customers' files are served only through views that check who may see them.
    urlpatterns += [path(f"{settings.MEDIA_URL.strip('/')}/messenger/inbound/<path:rest>", _not_public)]
    urlpatterns += [path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", _media)]

handler404 = "helpdesk.views.api_not_found"
handler500 = "helpdesk.views.server_error"
