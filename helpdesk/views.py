"""HTML views of the project itself: login, the organization home, departments, members,
API tokens, notifications, preferences, and the health endpoints."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from helpdesk import selectors, services, throttle
from helpdesk.celery import app as celery_app
from helpdesk.converters import parse_id
from helpdesk.exceptions import HelpdeskError, NotFound, http_errors
from helpdesk.forms import (
    ApiTokenForm,
    DepartmentForm,
    LoginForm,
    MemberCreateForm,
    MemberUpdateForm,
    PreferencesForm,
    attach_error,
)
from helpdesk.tenancy import TenantRequest, activate_for, admin_required, default_membership, member_required


def _client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


class LoginView(auth_views.LoginView):
    template_name = "helpdesk/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        if throttle.is_locked(username, _client_address(request)):
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, _("Too many failed attempts. Try again in a few minutes."))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        throttle.record_failure(self.request.POST.get("username", ""), _client_address(self.request))
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        throttle.reset(form.get_user().get_username(), _client_address(self.request))
        return super().form_valid(form)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = default_membership(request)
    if membership is None:
        return render(request, "helpdesk/no_organization.html", status=403)
    return redirect("org_home", org_slug=membership.organization.slug)


@member_required
def org_home(request: TenantRequest) -> HttpResponse:
    return redirect("messenger:inbox", org_slug=request.organization.slug)


@login_required
def organization_switch(request: HttpRequest) -> HttpResponse:
    # Outside /o/<org_slug>/: in the language of the organization the user is working in.
    current = default_membership(request)
    if current is not None:
        activate_for(current)
        request.LANGUAGE_CODE = translation.get_language()
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
    organization = request.organization
    form = MemberCreateForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.member_create(
                organization=organization,
                acting_user=request.user,
                username=data["username"],
                password=data["password"],
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                role=data["role"],
                department_ids=[d.pk for d in data["departments"]],
            )
        except HelpdeskError as error:
            attach_error(form, error)
        else:
            messages.success(request, _("Member added."))
            return redirect("member_list", org_slug=organization.slug)
    return render(
        request,
        "helpdesk/members.html",
        {"members": selectors.member_list(organization=organization), "form": form, "settings_tab": "members"},
    )


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
    organization = request.organization
    if request.method == "POST":
        services.notification_mark_read(organization=organization, user_id=request.user.pk, notification_ids=None)
        return redirect("notification_list", org_slug=organization.slug)
    notifications = selectors.notification_list(organization=organization, user_id=request.user.pk)[:100]
    return render(request, "helpdesk/notifications.html", {"notifications": notifications})


@member_required
def notification_badge(request: TenantRequest) -> HttpResponse:
    count = selectors.notification_unread_count(organization=request.organization, user_id=request.user.pk)
    return render(request, "helpdesk/_notification_badge.html", {"unread_notifications": count})


@member_required
def preferences(request: TenantRequest) -> HttpResponse:
    membership = request.membership
    form = PreferencesForm(request.POST or None, initial={"language": membership.language})
    if request.method == "POST" and form.is_valid():
        membership.language = form.cleaned_data["language"]
        membership.save(update_fields=["language"])
        messages.success(request, _("Preferences saved."))
        return redirect("preferences", org_slug=request.organization.slug)
    return render(request, "helpdesk/preferences.html", {"form": form})


# --- Health ------------------------------------------------------------------------------


@never_cache
@require_GET
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
