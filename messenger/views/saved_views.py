"""The saved views of the inbox's sidebar: save the current filters under a name, rename a view,
save the current filters to it, delete it (messenger.services.saved_views decides who may).

Every form posts ``filters``: the inbox's query string when it was shown (the filters in use),
which is what a new view keeps and what the sidebar compares each view with. With htmx a
success answers the sidebar's section again (and the "Save view" form, emptied, out of band),
a refusal the form with its error in place; without it, a redirect back to the inbox.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from helpdesk.exceptions import HelpdeskError, http_errors
from helpdesk.tenancy import TenantRequest, member_required
from helpdesk.toasts import toast_trigger
from messenger import saved_views as saved_view_selectors
from messenger.models import SavedView
from messenger.services import saved_views

SECTION_TEMPLATE = "messenger/inbox/_saved_views.html"
SAVE_TEMPLATE = "messenger/inbox/_saved_view_save.html"
RENAME_TEMPLATE = "messenger/inbox/_saved_view_rename.html"


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _current(request: TenantRequest) -> QueryDict:
    """The inbox's filters the form was shown with."""
    source = request.POST if request.method == "POST" else request.GET
    return QueryDict(source.get("filters", ""))


def saved_views_context(request: TenantRequest, *, current: Any) -> dict[str, Any]:
    """What the sidebar's section and the "Save view" form show."""
    return {
        "saved_views": saved_view_selectors.saved_view_entries(
            organization=request.organization, membership=request.membership, current=current
        ),
        "saved_view_filters": saved_view_selectors.params_query(saved_view_selectors.params_normalize(current)),
        "saved_view_max_length": saved_views.NAME_MAX_LENGTH,
    }


def _view_or_404(request: TenantRequest, view_id: int) -> SavedView:
    return saved_view_selectors.saved_view_get(
        organization=request.organization, membership=request.membership, view_id=view_id
    )


def _done(request: TenantRequest, message: str) -> HttpResponse:
    current = _current(request)
    if not _is_htmx(request):
        messages.success(request, message)
        url = reverse("messenger:inbox", kwargs={"org_slug": request.organization.slug})
        query = saved_view_selectors.params_query(saved_view_selectors.params_normalize(current))
        return redirect(f"{url}?{query}" if query else url)
    context = {**saved_views_context(request, current=current), "reset_save_form": True}
    return toast_trigger(render(request, SECTION_TEMPLATE, context), message)


def _refused(request: TenantRequest, error: HelpdeskError, *, template: str, extra: dict[str, Any]) -> HttpResponse:
    """The form again with its error (htmx: in place of itself), or the inbox with a toast."""
    if not _is_htmx(request):
        messages.error(request, str(error.message))
        url = reverse("messenger:inbox", kwargs={"org_slug": request.organization.slug})
        query = saved_view_selectors.params_query(saved_view_selectors.params_normalize(_current(request)))
        return redirect(f"{url}?{query}" if query else url)
    context = {**saved_views_context(request, current=_current(request)), **extra, "error": error.message}
    response = render(request, template, context, status=error.status)
    response["HX-Reswap"] = "outerHTML"
    return response


@member_required
@require_GET
@http_errors
def saved_view_section(request: TenantRequest) -> HttpResponse:
    """The sidebar's section (htmx: a rename cancelled)."""
    return render(request, SECTION_TEMPLATE, saved_views_context(request, current=_current(request)))


@member_required
@require_POST
@http_errors
def saved_view_create(request: TenantRequest) -> HttpResponse:
    name = request.POST.get("name", "")
    try:
        view = saved_views.saved_view_create(
            organization=request.organization,
            membership=request.membership,
            name=name,
            params=_current(request),
            shared=request.POST.get("shared") == "on",
        )
    except HelpdeskError as error:
        if error.status == 404:
            raise
        response = _refused(
            request, error, template=SAVE_TEMPLATE, extra={"name": name, "shared": request.POST.get("shared") == "on"}
        )
        response["HX-Retarget"] = "#saved-view-save"
        return response
    return _done(request, _("View “%(name)s” saved.") % {"name": view.name})


@member_required
@require_GET
@http_errors
def saved_view_rename_form(request: TenantRequest, view_id: int) -> HttpResponse:
    view = _view_or_404(request, view_id)
    context = {**saved_views_context(request, current=_current(request)), "view": view, "name": view.name}
    return render(request, RENAME_TEMPLATE, context)


@member_required
@require_POST
@http_errors
def saved_view_rename(request: TenantRequest, view_id: int) -> HttpResponse:
    view = _view_or_404(request, view_id)
    name = request.POST.get("name", "")
    try:
        saved_views.saved_view_rename(
            organization=request.organization, membership=request.membership, view=view, name=name
        )
    except HelpdeskError as error:
        if error.status in (403, 404):
            raise
        view.refresh_from_db(fields=["name"])
        response = _refused(request, error, template=RENAME_TEMPLATE, extra={"view": view, "name": name})
        response["HX-Retarget"] = f"#saved-view-{view.pk}"
        return response
    return _done(request, _("View renamed to “%(name)s”.") % {"name": view.name})


@member_required
@require_POST
@http_errors
def saved_view_update(request: TenantRequest, view_id: int) -> HttpResponse:
    view = _view_or_404(request, view_id)
    saved_views.saved_view_update_params(
        organization=request.organization, membership=request.membership, view=view, params=_current(request)
    )
    return _done(request, _("View “%(name)s” now keeps the current filters.") % {"name": view.name})


@member_required
@require_POST
@http_errors
def saved_view_delete(request: TenantRequest, view_id: int) -> HttpResponse:
    view = _view_or_404(request, view_id)
    saved_views.saved_view_delete(organization=request.organization, membership=request.membership, view=view)
    return _done(request, _("View “%(name)s” deleted.") % {"name": view.name})
