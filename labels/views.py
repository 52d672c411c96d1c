"""Settings → Labels (admins): the organization's labels with how much each is used; create,
rename or recolour, delete after a confirmation."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk.exceptions import HelpdeskError, NotFound, http_errors
from helpdesk.forms import attach_error
from helpdesk.tenancy import TenantRequest, admin_required
from labels import selectors, services
from labels.forms import LabelForm


def _page(
    request: TenantRequest, *, form: LabelForm, row_error: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    organization = request.organization
    return render(
        request,
        "labels/settings.html",
        {
            "labels": selectors.label_list_with_usage(organization=organization),
            "form": form,
            "colors": LabelForm.base_fields["color"].choices,  # type: ignore[attr-defined]
            "row_error": row_error,
            "settings_tab": "labels",
        },
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def label_list(request: TenantRequest) -> HttpResponse:
    form = LabelForm(request.POST or None)
    if request.method != "POST":
        return _page(request, form=form)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        label = services.label_create(
            organization=request.organization,
            acting_user=request.user,
            name=form.cleaned_data["name"],
            color=form.cleaned_data["color"],
        )
    except HelpdeskError as error:
        attach_error(form, error)
        return _page(request, form=form, status=error.status)
    messages.success(request, _("Label “%(name)s” created.") % {"name": label.name})
    return redirect("labels:label_list", org_slug=request.organization.slug)


@admin_required
@http_errors
@require_POST
def label_edit(request: TenantRequest, label_id: int) -> HttpResponse:
    """Rename, recolour or delete one label; a refusal is shown on that label's row."""
    organization = request.organization
    label = selectors.label_get(organization=organization, label_id=label_id)
    try:
        if request.POST.get("action") == "delete":
            services.label_delete(organization=organization, acting_user=request.user, label=label)
            messages.success(request, _("Label “%(name)s” deleted.") % {"name": label.name})
        else:
            services.label_update(
                organization=organization,
                acting_user=request.user,
                label=label,
                name=request.POST.get("name", ""),
                color=request.POST.get("color", label.color),
            )
            messages.success(request, _("Label saved."))
    except NotFound:
        raise
    except HelpdeskError as error:
        row_error = {"label_id": label.pk, "message": str(error.message)}
        return _page(request, form=LabelForm(), row_error=row_error, status=error.status)
    return redirect("labels:label_list", org_slug=organization.slug)
