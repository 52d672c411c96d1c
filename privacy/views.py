"""HTML views: Meta's data deletion callback and its public status page; a contact's data
(export, erase) and the audit log, for admins."""

from __future__ import annotations

import logging
from datetime import date

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk.drf import error_body
from helpdesk.exceptions import HelpdeskError, NotFound
from helpdesk.tenancy import TenantRequest, admin_required, member_required
from messenger.contact_names import contact_name
from messenger.models import Contact
from messenger.selectors import visibility as visibility_selectors
from privacy import contact_data, deletion, selectors
from privacy.audit import entries_change_lines, entry_action_label, entry_detail_lines, entry_object_label
from privacy.signed_request import InvalidSignedRequest

logger = logging.getLogger(__name__)

AUDIT_PAGE_SIZE = 50


@csrf_exempt
@never_cache
@require_POST
def data_deletion_callback(request: HttpRequest) -> HttpResponse:
    """Meta's Data Deletion Request URL: 200 {url, confirmation_code}, or 400 with nothing erased."""
    try:
        record = deletion.data_deletion_request_handle(
            signed_request=request.POST.get("signed_request", ""), now=timezone.now()
        )
    except InvalidSignedRequest as error:
        return JsonResponse(error_body(error.code, str(error.message)), status=error.status)
    status_url = request.build_absolute_uri(
        reverse("privacy_public:data_deletion_status", kwargs={"code": record.confirmation_code})
    )
    return JsonResponse({"url": status_url, "confirmation_code": record.confirmation_code})


@never_cache
@require_GET
def data_deletion_status(request: HttpRequest, code: str) -> HttpResponse:
    """Public: the state of one request, in plain words; nothing else."""
    record = deletion.data_deletion_request_get(confirmation_code=code)
    return render(request, "privacy/data_deletion_status.html", {"record": record}, status=200 if record else 404)


class EraseForm(forms.Form):
    confirm = forms.BooleanField(required=False, label=_("I understand that this cannot be undone"))
    typed_name = forms.CharField(required=False, max_length=200, label=_("Or type the contact's name"))


@member_required
@never_cache
@require_http_methods(["GET", "POST"])
def contact_data_page(request: TenantRequest, contact_id: int) -> HttpResponse:
    """A contact's data: export it, or erase it (with confirmation). Whoever does not see the
    contact gets 404; an agent who does sees that only admins may act (and 403 on a POST)."""
    contact = _contact_or_404(request, contact_id, admin=request.method == "POST")
    form = EraseForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        confirmed = contact_data.erase_confirmed(
            contact=contact, confirm=form.cleaned_data["confirm"], typed_name=form.cleaned_data["typed_name"]
        )
        try:
            counts = contact_data.contact_erase(
                organization=request.organization,
                acting_user=request.user,
                contact=contact,
                confirmed=confirmed,
                now=timezone.now(),
            )
        except HelpdeskError as error:
            form.add_error(None, str(error.message))
            status = 400
        else:
            messages.success(
                request,
                _("The contact's data was erased: %(messages)s message(s), %(files)s file(s).")
                % {"messages": counts["messages"], "files": counts["files"]},
            )
            return redirect("privacy:contact_data", org_slug=request.organization.slug, contact_id=contact.pk)
    return render(
        request,
        "privacy/contact_data.html",
        {
            "contact": contact,
            "contact_label": contact_name(contact),
            "form": form,
            "may_act": request.membership.is_admin,
        },
        status=status,
    )


@member_required
@never_cache
@require_POST
def contact_export_download(request: TenantRequest, contact_id: int) -> HttpResponse:
    contact = _contact_or_404(request, contact_id)
    export = contact_data.contact_export(organization=request.organization, acting_user=request.user, contact=contact)
    response = HttpResponse(export.content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export.file_name}"'
    return response


def _contact_or_404(request: TenantRequest, contact_id: int, *, admin: bool = True) -> Contact:
    """The contact if the member sees it (else 404); with `admin`, only for admins (else 403)."""
    try:
        contact = visibility_selectors.contact_get(
            organization=request.organization, membership=request.membership, contact_id=contact_id
        )
    except NotFound as error:
        raise Http404 from error
    if admin and not request.membership.is_admin:
        raise PermissionDenied
    return contact


class AuditFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label=_("Search"))
    date_from = forms.DateField(
        required=False, label=pgettext_lazy("date range", "From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label=pgettext_lazy("date range", "To"), widget=forms.DateInput(attrs={"type": "date"})
    )


@admin_required
@require_GET
def audit_log(request: TenantRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    query = ""
    date_from: date | None = None
    date_to: date | None = None
    if form.is_valid():
        query = form.cleaned_data["q"] or ""
        date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    entries = selectors.audit_entries(
        organization=request.organization, query=query, date_from=date_from, date_to=date_to
    )
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    changes = entries_change_lines(shown)
    rows = [
        {
            "entry": entry,
            "action": entry_action_label(entry),
            "object": entry_object_label(entry),
            "changes": changes[entry.pk] + entry_detail_lines(entry),
        }
        for entry in shown
    ]
    filters = request.GET.copy()
    filters.pop("page", None)
    return render(
        request,
        "privacy/audit_log.html",
        {"form": form, "page": page, "rows": rows, "filter_query": filters.urlencode(), "settings_tab": "audit_log"},
    )
