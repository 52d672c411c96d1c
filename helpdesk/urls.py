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
router.register("invitations", api.InvitationViewSet, basename="invitation")
router.register("notifications", api.NotificationViewSet, basename="notification")
router.register("api-tokens", api.ApiTokenViewSet, basename="api-token")

api_urlpatterns = [
    path(
        "notifications/mark-read/",
        api.NotificationViewSet.as_view({"post": "mark_read"}),
        name="notification-mark-read",
    ),
    path("organization/", api.OrganizationSettingsView.as_view(), name="organization-settings"),
    path("me/preferences/", api.MyPreferencesView.as_view(), name="my-preferences"),
    *router.urls,
]

org_urlpatterns = [
    path("settings/organization/", views.organization_settings, name="organization_settings"),
    path("settings/departments/", views.department_list, name="department_list"),
    path("settings/departments/<id:department_id>/", views.department_edit, name="department_edit"),
    path("settings/members/", views.member_list, name="member_list"),
    path("settings/members/<id:membership_id>/", views.member_edit, name="member_edit"),
    path(
        "settings/members/invitations/<id:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("settings/api-tokens/", views.api_tokens, name="api_tokens"),
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/badge/", views.notification_badge, name="notification_badge"),
    path("notifications/read/", views.notification_mark_all_read, name="notification_mark_all_read"),
    path("notifications/<id:notification_id>/", views.notification_open, name="notification_open"),
    path("notifications/<id:notification_id>/alert.json", views.notification_alert, name="notification_alert"),
    path("preferences/", views.preferences, name="preferences"),
]

urlpatterns = [
    # First: Facebook's POSTs are the busiest requests, resolved before any other pattern is tried.
    path("webhooks/messenger/", include("messenger.webhook_urls")),
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="helpdesk/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "accounts/password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(template_name="helpdesk/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    # An invitation's link, sent by email; its secret token is the credential.
    path("invitations/<str:token>/", views.invitation_respond, name="invitation_respond"),
    path("organizations/", views.organization_switch, name="organization_switch"),
    path("o/<slug:org_slug>/", include("home.urls")),
    path("o/<slug:org_slug>/", include(org_urlpatterns)),
    path("o/<slug:org_slug>/", include("availability.urls")),
    path("o/<slug:org_slug>/settings/", include("channels.urls")),
    path("o/<slug:org_slug>/settings/", include("labels.urls")),
    path("o/<slug:org_slug>/settings/", include("sla.urls")),
    path("o/<slug:org_slug>/settings/", include("outgoing.urls")),
    path("o/<slug:org_slug>/", include("messenger.urls")),
    path("o/<slug:org_slug>/tickets/", include("tickets.urls")),
    path("o/<slug:org_slug>/ratings/", include("csat.urls")),
    path("o/<slug:org_slug>/", include("canned.urls")),
    path("o/<slug:org_slug>/reports/", include("reports.urls")),
    path("o/<slug:org_slug>/contacts/", include("contacts.urls")),
    path("o/<slug:org_slug>/", include("live.urls")),
    path("o/<slug:org_slug>/", include("privacy.urls")),
    path("messenger/oauth/callback/", include("messenger.oauth_urls")),
    # Meta's Data Deletion Request URL (public; its signed request is the credential).
    path("messenger/data-deletion/", include("privacy.public_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        # Its start-up script carries the CSP nonce (settings.CONTENT_SECURITY_POLICY).
        # GET only: DRF's OPTIONS would render its metadata through the page's template renderer (a 500).
        SpectacularSwaggerView.as_view(
            url_name="api-schema", template_name="helpdesk/swagger_ui.html", http_method_names=["get", "head"]
        ),
        name="api-docs",
    ),
    path("api/v1/", include(api_urlpatterns)),
    path("api/v1/", include("availability.api_urls")),
    path("api/v1/", include("channels.api_urls")),
    path("api/v1/", include("labels.api_urls")),
    path("api/v1/", include("sla.api_urls")),
    path("api/v1/", include("messenger.api_urls")),
    path("api/v1/", include("tickets.api_urls")),
    path("api/v1/", include("canned.api_urls")),
    path("api/v1/", include("reports.api_urls")),
    path("api/v1/", include("privacy.api_urls")),
    path("api/v1/", include("outgoing.api_urls")),
    path("api/v1/", include("contacts.api_urls")),
    path("api/v1/", include("csat.api_urls")),
]

if settings.GRAPH_SANDBOX:
    # The local stand-in for Facebook (OAuth dialog, Graph API, customer simulator).
    urlpatterns.append(path("sandbox/", include("messenger.sandbox.urls")))

# No route serves MEDIA_ROOT, in development or production: every kept file (customers'
# and agents' attachments, channel icons) goes through a view that checks who may see it
# (helpdesk.files decides how it is sent).

handler404 = "helpdesk.views.api_not_found"
handler500 = "helpdesk.views.server_error"
