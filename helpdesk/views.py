"""HTML views of the project itself: login, the organization home, departments, members,
API tokens, notifications, preferences, and the health endpoints."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from helpdesk import alerts, selectors, services, throttle
from helpdesk.celery import app as celery_app
from helpdesk.converters import parse_id
from helpdesk.exceptions import HelpdeskError, InvitationClosed, NotFound, http_errors
from helpdesk.forms import (
    ApiTokenForm,
    DepartmentForm,
    InvitationForm,
    InvitationSignupForm,
    LoginForm,
    MemberUpdateForm,
    OrganizationForm,
    PasswordResetForm,
    PreferencesForm,
    SetPasswordForm,
    attach_error,
)
from helpdesk.notifications import notification_text
from helpdesk.password_reset import password_reset_allowance
from helpdesk.tenancy import TenantRequest, activate_for, admin_required, default_membership, member_required


class LoginView(auth_views.LoginView):
    """The sign-in form, throttled by helpdesk.throttle: a locked account is refused with the
    right password too; an address with many failures across accounts waits a few seconds."""

    template_name = "helpdesk/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = throttle.address_wait_seconds(address=throttle.client_address(request))
        if wait:
            # Refused before any password is checked: nothing is counted against the account.
            form = throttle.refused_login_form(
                request,
                ngettext(
                    "Too many failed sign-ins from your network. Try again in %(seconds)d second.",
                    "Too many failed sign-ins from your network. Try again in %(seconds)d seconds.",
                    wait,
                )
                % {"seconds": wait},
            )
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        if form.has_error(NON_FIELD_ERRORS, "invalid_login"):
            throttle.address_failure_record(address=throttle.client_address(self.request))
        if throttle.account_locked(self.request):
            form.errors.clear()
            form.add_error(None, throttle.locked_message())
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_invalid(form)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = default_membership(request)
    if membership is None:
        return render(request, "helpdesk/no_organization.html", status=403)
    return redirect("org_home", org_slug=membership.organization.slug)


@login_required
def organization_switch(request: HttpRequest) -> HttpResponse:
    # Outside /o/<org_slug>/: in the language of the organization the user is working in
    # (helpdesk.tenancy.OrganizationMiddleware).
    assert request.user.is_authenticated  # login_required
    memberships = request.user.memberships.filter(is_active=True).select_related("organization")
    return render(request, "helpdesk/organization_switch.html", {"memberships": memberships})


# --- Departments -------------------------------------------------------------------------


@admin_required
def department_list(request: TenantRequest) -> HttpResponse:
    organization = request.organization
    form = DepartmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.department_create(
                organization=organization, acting_user=request.user, name=form.cleaned_data["name"]
            )
        except HelpdeskError as error:
            form.add_error("name", str(error.message))
        else:
            messages.success(request, _("Department created."))
            return redirect("department_list", org_slug=organization.slug)
    return render(
        request,
        "helpdesk/departments.html",
        {
            "departments": selectors.department_list(organization=organization),
            "form": form,
            "settings_tab": "departments",
        },
    )


@admin_required
@http_errors
@require_POST
def department_edit(request: TenantRequest, department_id: int) -> HttpResponse:
    """Rename or delete one department; a refusal is shown on that department's row."""
    organization = request.organization
    department = selectors.department_get(organization=organization, department_id=department_id)
    try:
        if request.POST.get("action") == "delete":
            services.department_delete(organization=organization, acting_user=request.user, department=department)
            messages.success(request, _("Department deleted."))
        else:
            services.department_rename(
                organization=organization,
                acting_user=request.user,
                department=department,
                name=request.POST.get("name", ""),
            )
            messages.success(request, _("Department renamed."))
    except NotFound:
        raise
    except HelpdeskError as error:
        return render(
            request,
            "helpdesk/departments.html",
            {
                "departments": selectors.department_list(organization=organization),
                "form": DepartmentForm(),
                "row_error": {"department_id": department.pk, "message": str(error.message)},
                "settings_tab": "departments",
            },
            status=error.status,
        )
    return redirect("department_list", org_slug=organization.slug)


# --- Members -----------------------------------------------------------------------------


@admin_required
def member_list(request: TenantRequest) -> HttpResponse:
    """The members, the pending invitations, and the form that invites someone by email.

    The answer to an invitation is the same whether the address has an account or not."""
    organization = request.organization
    form = InvitationForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invitation, _token = services.invitation_create(
                organization=organization,
                acting_user=request.user,
                email=data["email"],
                role=data["role"],
                department_ids=[d.pk for d in data["departments"]],
            )
        except HelpdeskError as error:
            attach_error(form, error)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
            return redirect("member_list", org_slug=organization.slug)
    return render(
        request,
        "helpdesk/members.html",
        {
            "members": selectors.member_list(organization=organization),
            "invitations": selectors.invitation_list_pending(organization=organization),
            "form": form,
            "settings_tab": "members",
        },
        status=400 if form.errors else 200,
    )


@admin_required
@http_errors
@require_POST
def invitation_revoke(request: TenantRequest, invitation_id: int) -> HttpResponse:
    organization = request.organization
    try:
        services.invitation_revoke(organization=organization, acting_user=request.user, invitation_id=invitation_id)
    except NotFound:
        raise
    except HelpdeskError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Invitation revoked."))
    return redirect("member_list", org_slug=organization.slug)


@admin_required
@http_errors
def member_edit(request: TenantRequest, membership_id: int) -> HttpResponse:
    organization = request.organization
    member = selectors.member_get(organization=organization, membership_id=membership_id)
    initial = {"role": member.role, "is_active": member.is_active, "departments": list(member.departments.all())}
    form = MemberUpdateForm(request.POST or None, organization=organization, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.member_update(
                organization=organization,
                acting_user=request.user,
                membership=member,
                role=form.cleaned_data["role"],
                is_active=form.cleaned_data["is_active"],
                department_ids=[d.pk for d in form.cleaned_data["departments"]],
            )
        except HelpdeskError as error:
            form.add_error(None, str(error.message))
        else:
            messages.success(request, _("Member updated."))
            return redirect("member_list", org_slug=organization.slug)
    return render(request, "helpdesk/member_edit.html", {"member": member, "form": form, "settings_tab": "members"})


# --- Invitation links (outside /o/<org_slug>/: the token is the credential) ---------------


def _invitation_gone(request: HttpRequest, message: Any, *, status: int) -> HttpResponse:
    return render(request, "helpdesk/invitation_closed.html", {"message": message}, status=status)


@never_cache
@sensitive_post_parameters("password", "password_again")
def invitation_respond(request: HttpRequest, token: str) -> HttpResponse:
    """The page of an invitation link: a signed-in user accepts or declines; a new person
    chooses a name, username and password and joins; anyone holding the link may decline.

    An unknown token is a 404 page, a used, revoked or expired one a 410 page naming why.
    """
    try:
        invitation = selectors.invitation_get_by_token(token=token)
    except NotFound:
        return _invitation_gone(request, _("This invitation link is not valid."), status=404)
    # The invitee's own language is not known: the page speaks the organization's.
    translation.activate(invitation.organization.language)
    request.LANGUAGE_CODE = translation.get_language()
    try:
        services.check_invitation_open(invitation)
    except InvitationClosed as closed:
        return _invitation_gone(request, closed.message, status=closed.status)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    signup_form = InvitationSignupForm(request.POST if action == "signup" else None)
    error_message: Any = None
    status = 200
    if request.method == "POST":
        try:
            if action == "accept" and request.user.is_authenticated:
                membership = services.invitation_accept(token=token, user=request.user)
                messages.success(request, _("You joined %(name)s.") % {"name": membership.organization.name})
                return redirect("org_home", org_slug=membership.organization.slug)
            if action == "decline":
                services.invitation_decline(token=token)
                return render(request, "helpdesk/invitation_declined.html", {"invitation": invitation})
            if action == "signup" and not request.user.is_authenticated:
                if signup_form.is_valid():
                    data = signup_form.cleaned_data
                    membership = services.invitation_signup(
                        token=token,
                        username=data["username"],
                        password=data["password"],
                        first_name=data["first_name"],
                        last_name=data["last_name"],
                    )
                    auth_login(request, membership.user, backend="helpdesk.backends.CaseInsensitiveModelBackend")
                    messages.success(
                        request, _("Welcome! You joined %(name)s.") % {"name": membership.organization.name}
                    )
                    return redirect("org_home", org_slug=membership.organization.slug)
            else:
                error_message = _("This action is not available. Reload the page and try again.")
        except NotFound:
            return _invitation_gone(request, _("This invitation link is not valid."), status=404)
        except InvitationClosed as closed:
            return _invitation_gone(request, closed.message, status=closed.status)
        except HelpdeskError as error:
            if action == "signup":
                attach_error(signup_form, error)
            else:
                error_message = error.message
            status = error.status
        if signup_form.errors or error_message:
            status = status if status != 200 else 400
    return render(
        request,
        "helpdesk/invitation.html",
        {
            "invitation": invitation,
            "signup_form": signup_form,
            "error_message": error_message,
            "login_url": f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': request.path})}",
        },
        status=status,
    )


# --- Password reset (Django's views in the product's look, throttled) -----------------------


class PasswordResetView(auth_views.PasswordResetView):
    """The same answer whether the address has an account or not; see helpdesk.password_reset
    for how often an email goes out."""

    template_name = "helpdesk/password_reset_form.html"
    email_template_name = "helpdesk/email/password_reset.txt"
    subject_template_name = "helpdesk/email/password_reset_subject.txt"
    form_class = PasswordResetForm

    def form_valid(self, form: Any) -> HttpResponse:
        allowance = password_reset_allowance(
            email=form.cleaned_data["email"], client_address=throttle.client_address(self.request)
        )
        if allowance.client_refused:
            form.add_error(None, _("Too many password reset requests. Try again in an hour."))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        if not allowance.send_email:
            return HttpResponseRedirect(self.get_success_url())
        # The link is built on PUBLIC_URL, never on the Host header of the request.
        self.extra_email_context = {"public_url": settings.PUBLIC_URL}
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "helpdesk/password_reset_confirm.html"
    form_class = SetPasswordForm

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # Whoever proved they hold the address may sign in at once, even after a lockout.
        throttle.login_unlock(username=form.user.get_username())
        return response


# --- API tokens, notifications, preferences ----------------------------------------------


@member_required
def api_tokens(request: TenantRequest) -> HttpResponse:
    membership = request.membership
    form = ApiTokenForm(request.POST or None)
    new_key = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            try:
                services.api_token_revoke(membership=membership, token_id=parse_id(request.POST.get("token_id")))
                messages.success(request, _("Token revoked."))
            except (HelpdeskError, ValueError):
                messages.error(request, _("Token not found."))
            return redirect("api_tokens", org_slug=request.organization.slug)
        if form.is_valid():
            _token, new_key = services.api_token_create(membership=membership, name=form.cleaned_data["name"])
            form = ApiTokenForm()
    return render(
        request,
        "helpdesk/api_tokens.html",
        {
            "tokens": selectors.api_token_list(membership=membership),
            "form": form,
            "new_key": new_key,
            "settings_tab": "api_tokens",
        },
    )


@member_required
def notification_list(request: TenantRequest) -> HttpResponse:
    if request.method == "POST":
        # The page's form posted here before it had an address of its own.
        return _notifications_mark_all_read(request)
    organization = request.organization
    notifications = selectors.notification_list(organization=organization, user_id=request.user.pk)[:100]
    unread = selectors.notification_unread_count(organization=organization, user_id=request.user.pk)
    return render(request, "helpdesk/notifications.html", {"notifications": notifications, "unread": unread})


@member_required
@require_GET
def notification_open(request: TenantRequest, notification_id: int) -> HttpResponse:
    """Opening a notification: it is read, and the browser goes where it points.

    A GET, so that it stays a link (opened in a new tab, copied): marking one's own notice read
    is idempotent and harmless, and a notice only points inside the helpdesk."""
    organization = request.organization
    try:
        notification = selectors.notification_get(
            organization=organization, user_id=request.user.pk, notification_id=notification_id
        )
    except NotFound:
        raise Http404 from None
    services.notification_mark_read(
        organization=organization, user_id=request.user.pk, notification_ids=[notification.pk]
    )
    if notification.url and url_has_allowed_host_and_scheme(
        notification.url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(notification.url)
    return redirect("notification_list", org_slug=organization.slug)


@member_required
@require_POST
def notification_mark_all_read(request: TenantRequest) -> HttpResponse:
    return _notifications_mark_all_read(request)


def _notifications_mark_all_read(request: TenantRequest) -> HttpResponse:
    organization = request.organization
    marked = services.notification_mark_read(organization=organization, user_id=request.user.pk, notification_ids=None)
    if marked:
        messages.success(request, _("All notifications are marked as read."))
    return redirect("notification_list", org_slug=organization.slug)


@member_required
@require_GET
def notification_alert(request: TenantRequest, notification_id: int) -> JsonResponse:
    """What a desktop alert of one of the member's own notices says, in their language:
    `{title, body, url, kind, desktop, sound}` (`desktop`/`sound`: whether their Preferences
    want it shown, and heard, that way). 404 for anyone else's."""
    organization = request.organization
    try:
        notification = selectors.notification_get(
            organization=organization, user_id=request.user.pk, notification_id=notification_id
        )
    except NotFound:
        raise Http404 from None
    text = notification_text(notification)
    choices = alerts.choices_of(request.membership)
    event = alerts.EVENT_OF_KIND.get(notification.kind)
    wanted = event is None or event in choices.events
    return JsonResponse(
        {
            "title": text.title,
            "body": text.body,
            "url": reverse(
                "notification_open", kwargs={"org_slug": organization.slug, "notification_id": notification.pk}
            ),
            "kind": notification.kind,
            "desktop": wanted and alerts.DESKTOP in choices.ways,
            "sound": wanted and alerts.SOUND in choices.ways,
        }
    )


@member_required
def notification_badge(request: TenantRequest) -> HttpResponse:
    count = selectors.notification_unread_count(organization=request.organization, user_id=request.user.pk)
    return render(request, "helpdesk/_notification_badge.html", {"unread_notifications": count})


@member_required
def preferences(request: TenantRequest) -> HttpResponse:
    """The member's own language and time zone (blank: the organization's)."""
    membership = request.membership
    choices = alerts.choices_of(membership)
    form = PreferencesForm(
        request.POST or None,
        organization=request.organization,
        is_admin=membership.is_admin,
        initial={
            "language": membership.language,
            "time_zone": membership.time_zone,
            "alert_events": sorted(choices.events),
            "alert_ways": sorted(choices.ways),
        },
    )
    if request.method == "POST" and form.is_valid():
        events = set(form.cleaned_data["alert_events"])
        try:
            services.membership_preferences_update(
                membership=membership,
                language=form.cleaned_data["language"],
                time_zone=form.cleaned_data["time_zone"],
            )
            services.membership_alert_preferences_update(
                membership=membership, events=events, ways=form.cleaned_data["alert_ways"]
            )
        except HelpdeskError as error:
            attach_error(form, error)
        else:
            # The confirmation already speaks the chosen language.
            activate_for(membership)
            messages.success(request, _("Preferences saved."))
            return redirect("preferences", org_slug=request.organization.slug)
    return render(request, "helpdesk/preferences.html", {"form": form, "alert_choices": choices})


@admin_required
def organization_settings(request: TenantRequest) -> HttpResponse:
    """The organization's name, language and time zone."""
    organization = request.organization
    form = OrganizationForm(
        request.POST or None,
        initial={
            "name": organization.name,
            "language": organization.language,
            "time_zone": organization.time_zone,
            "unassigned_alert_minutes": organization.unassigned_alert_minutes,
            "response_window_alert_minutes": organization.response_window_alert_minutes,
            "human_agent_window_alert_hours": organization.human_agent_window_alert_hours,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.organization_update(
                organization=organization,
                acting_user=request.user,
                name=form.cleaned_data["name"],
                language=form.cleaned_data["language"],
                time_zone=form.cleaned_data["time_zone"],
                unassigned_alert_minutes=form.cleaned_data["unassigned_alert_minutes"],
                response_window_alert_minutes=form.cleaned_data["response_window_alert_minutes"],
                human_agent_window_alert_hours=form.cleaned_data["human_agent_window_alert_hours"],
            )
        except HelpdeskError as error:
            attach_error(form, error)
        else:
            activate_for(request.membership)
            messages.success(request, _("Organization settings saved."))
            return redirect("organization_settings", org_slug=organization.slug)
    return render(request, "helpdesk/organization_settings.html", {"form": form, "settings_tab": "organization"})


# --- Health ------------------------------------------------------------------------------


@never_cache
@require_GET
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico by themselves, whatever a page links: the static file's
    address (hashed in production, so not a permanent redirect)."""
    response = HttpResponseRedirect(static("helpdesk/favicon.ico"))
    patch_cache_control(response, public=True, max_age=60 * 60 * 24)
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def _database_ready() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def _broker_ready() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return True
    except Exception:
        return False


@never_cache
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    checks = {"database": _database_ready(), "broker": _broker_ready()}
    ready = all(checks.values())
    return JsonResponse({"status": "ready" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 for any unknown path; JSON in the API error format under /api/."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "not_found", "message": _("Not found."), "details": None}}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Exception())


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": {"code": "server_error", "message": _("An unexpected error occurred."), "details": None}},
            status=500,
        )
    from django.views.defaults import server_error as default_server_error

    return default_server_error(request)
