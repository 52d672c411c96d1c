"""HTML views of availability: the tab's heartbeat, the header's status switch, an admin
setting a member offline, a member's capacity and Settings → Availability."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBase, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from availability import selectors, services
from availability.forms import AvailabilitySettingsForm, CapacityForm
from availability.models import ChangeReason, Status
from helpdesk import selectors as helpdesk_selectors
from helpdesk.exceptions import HelpdeskError, InvalidStatus, http_errors
from helpdesk.forms import attach_error
from helpdesk.tenancy import TenantRequest, admin_required, member_required


def _back(request: TenantRequest, fallback: str) -> HttpResponseBase:
    target = request.POST.get("next", "")
    # A path of this site only; `redirect` would take a bare word for a view name.
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return redirect(fallback, org_slug=request.organization.slug)


@member_required
@require_POST
def heartbeat(request: TenantRequest) -> HttpResponse:
    """A tab says it is open (every minute) and whether its user touched keys, mouse or screen since."""
    availability = services.activity_record(membership=request.membership, input_seen=request.POST.get("input") == "1")
    return JsonResponse({"status": availability.status, "label": Status(availability.status).label})


@member_required
@require_POST
def status_set(request: TenantRequest) -> HttpResponseBase:
    """The header's switch: the member sets their own status."""
    try:
        availability = services.availability_set(
            membership=request.membership,
            status=request.POST.get("status", ""),
            reason=ChangeReason.CHOSEN,
            acting_user=request.user,
        )
    except InvalidStatus as error:
        messages.error(request, str(error.message))
        return _back(request, "org_home")
    messages.success(request, _("Your status is now: %(status)s.") % {"status": Status(availability.status).label})
    return _back(request, "org_home")


@admin_required
@http_errors
@require_POST
def member_set_offline(request: TenantRequest, membership_id: int) -> HttpResponseBase:
    """Settings → Members: an admin sets someone offline (agents get 403)."""
    member = helpdesk_selectors.member_get(organization=request.organization, membership_id=membership_id)
    services.availability_set(
        membership=member, status=Status.OFFLINE, reason=ChangeReason.ADMIN, acting_user=request.user
    )
    messages.success(request, _("Set offline."))
    return redirect("member_list", org_slug=request.organization.slug)


@admin_required
@http_errors
@require_http_methods(["GET", "POST"])
def member_capacity(request: TenantRequest, membership_id: int) -> HttpResponseBase:
    """A member's own capacity (the member edit page shows the form; errors come back here)."""
    organization = request.organization
    member = helpdesk_selectors.member_get(organization=organization, membership_id=membership_id)
    form = CapacityForm(
        request.POST or None, initial={"capacity": selectors.availability_of(membership=member).capacity}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.availability_capacity_set(
                membership=member, capacity=form.cleaned_data["capacity"], acting_user=request.user
            )
        except HelpdeskError as error:
            attach_error(form, error)
        else:
            messages.success(request, _("Capacity saved."))
            return redirect("member_edit", org_slug=organization.slug, membership_id=member.pk)
    return render(
        request,
        "availability/member_capacity.html",
        {
            "member": member,
            "form": form,
            "default_capacity": selectors.default_capacity_of(organization=organization),
            "settings_tab": "members",
        },
        status=400 if form.errors else 200,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def availability_settings(request: TenantRequest) -> HttpResponse:
    """Settings → Availability: capacity by default, idleness, the offline agent's conversations."""
    organization = request.organization
    rules = services.availability_settings_get(organization=organization)
    form = AvailabilitySettingsForm(
        request.POST or None,
        initial={
            "default_capacity": rules.default_capacity,
            "idle_minutes": rules.idle_minutes,
            "requeue_when_offline": rules.requeue_when_offline,
            "offline_grace_minutes": rules.offline_grace_minutes,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.availability_settings_update(
                organization=organization, acting_user=request.user, **form.cleaned_data
            )
        except HelpdeskError as error:
            attach_error(form, error)
        else:
            messages.success(request, _("Availability settings saved."))
            return redirect("availability:settings", org_slug=organization.slug)
    return render(
        request,
        "availability/settings.html",
        {"form": form, "settings_tab": "availability"},
        status=400 if form.errors else 200,
    )
