"""Settings → SLA (admins): the policies of departments and channels; add, change, delete."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from channels.selectors import channel_list
from helpdesk.exceptions import HelpdeskError, http_errors
from helpdesk.forms import attach_error
from helpdesk.selectors import department_list
from helpdesk.tenancy import TenantRequest, admin_required
from sla import selectors, services
from sla.forms import NewPolicyForm, PolicyForm
from sla.models import TARGET_MAX_MINUTES, SlaClock


def _scopes(request: TenantRequest) -> list[tuple[str, str]]:
    organization = request.organization
    scopes = [
        (f"department:{d.pk}", _("Department: %(name)s") % {"name": d.name})
        for d in department_list(organization=organization)
    ]
    scopes += [
        (f"channel:{c.pk}", _("Channel: %(name)s") % {"name": c.name}) for c in channel_list(organization=organization)
    ]
    return scopes


def _page(
    request: TenantRequest, *, form: NewPolicyForm, row_error: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "sla/settings.html",
        {
            "policies": selectors.policy_list(organization=request.organization),
            "form": form,
            "clocks": SlaClock.choices,
            "max_minutes": TARGET_MAX_MINUTES,
            "row_error": row_error,
            "settings_tab": "sla",
        },
        status=status,
    )


@admin_required
@http_errors
@require_http_methods(["GET", "POST"])
def policy_list(request: TenantRequest) -> HttpResponse:
    form = NewPolicyForm(request.POST or None, scopes=_scopes(request))
    if request.method != "POST":
        return _page(request, form=form)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    department_id, channel_id = form.scope_ids()
    try:
        services.policy_create(
            organization=request.organization,
            acting_user=request.user,
            department_id=department_id or 0,
            channel_id=channel_id,
            targets=form.targets(),
            clock=form.cleaned_data["clock"],
        )
    except HelpdeskError as error:
        attach_error(form, error)
        return _page(request, form=form, status=error.status)
    messages.success(request, _("SLA policy added."))
    return redirect("sla:policy_list", org_slug=request.organization.slug)


@admin_required
@http_errors
@require_POST
def policy_edit(request: TenantRequest, policy_id: int) -> HttpResponse:
    """Change or delete one policy; a refusal is shown on that policy's row."""
    organization = request.organization
    policy = selectors.policy_get(organization=organization, policy_id=policy_id)
    if request.POST.get("action") == "delete":
        services.policy_delete(organization=organization, acting_user=request.user, policy=policy)
        messages.success(request, _("SLA policy deleted."))
        return redirect("sla:policy_list", org_slug=organization.slug)
    form = PolicyForm(request.POST)
    try:
        if not form.is_valid():
            raise services.InvalidSlaTarget()
        services.policy_update(
            organization=organization,
            acting_user=request.user,
            policy=policy,
            targets=form.targets(),
            clock=form.cleaned_data["clock"],
        )
    except HelpdeskError as error:
        new_form = NewPolicyForm(scopes=_scopes(request))
        return _page(
            request,
            form=new_form,
            row_error={"policy_id": policy.pk, "message": str(error.message)},
            status=error.status,
        )
    messages.success(request, _("SLA policy saved."))
    return redirect("sla:policy_list", org_slug=organization.slug)
