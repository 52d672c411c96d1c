"""HTML views of canned responses: the settings pages (admins manage the shared ones and
their own, agents their own and read the shared ones), their files, and the composer's two
endpoints (search as you type after ``/``; insert one, filled in for the conversation)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from canned import selectors, services
from canned.forms import CannedAttachmentForm, CannedResponseForm
from canned.models import CannedResponse, CannedScope
from canned.variables import VARIABLES
from channels import message_text
from helpdesk.exceptions import HelpdeskError, NotFound, http_errors
from helpdesk.files import file_response
from helpdesk.forms import attach_error
from helpdesk.tenancy import TenantRequest, member_required
from messenger.models import Conversation
from messenger.selectors import conversations as conversation_selectors
from tickets import selectors as ticket_selectors
from tickets.models import Ticket

# --- Settings pages ------------------------------------------------------------------------------


def _list_url(request: TenantRequest) -> str:
    return reverse("canned:list", kwargs={"org_slug": request.organization.slug})


def _settings_context(request: TenantRequest, **context: Any) -> dict[str, Any]:
    shown = [("{{" + name + "}}", description) for name, description in VARIABLES.items()]
    return {"settings_tab": "canned", "variables": shown, "max_attachments": services.MAX_ATTACHMENTS, **context}


@member_required
@require_GET
def canned_list(request: TenantRequest) -> HttpResponse:
    query = request.GET.get("q", "")[: selectors.SEARCH_MAX_LENGTH]
    scope = request.GET.get("scope", "")
    if scope not in CannedScope.values:
        scope = ""
    responses = list(
        selectors.canned_list(
            organization=request.organization, membership=request.membership, query=query, scope=scope
        )[:200]
    )
    rows = [
        {
            "response": response,
            "can_manage": selectors.may_manage(membership=request.membership, canned_response=response),
        }
        for response in responses
    ]
    return render(
        request,
        "canned/canned_list.html",
        _settings_context(request, rows=rows, query=query, scope=scope, scopes=CannedScope.choices),
    )


def _form_initial(canned_response: CannedResponse) -> dict[str, Any]:
    return {
        "scope": canned_response.scope,
        "department": canned_response.department_id,
        "shortcut": canned_response.shortcut,
        "title": canned_response.title,
        "body_en": canned_response.body_en,
        "body_ja": canned_response.body_ja,
    }


def _form_changes(form: CannedResponseForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "scope": data["scope"],
        "department_id": data.get("department"),
        "shortcut": data["shortcut"],
        "title": data["title"],
        "body_en": data["body_en"],
        "body_ja": data["body_ja"],
    }


@member_required
@require_http_methods(["GET", "POST"])
def canned_create(request: TenantRequest) -> HttpResponse:
    membership = request.membership
    form = CannedResponseForm(request.POST or None, membership=membership)
    if request.method == "POST" and form.is_valid():
        try:
            canned_response = services.canned_response_create(
                organization=request.organization,
                membership=membership,
                acting_user=request.user,
                **_form_changes(form),
            )
        except HelpdeskError as error:
            attach_error(form, error)
        else:
            messages.success(request, _("Canned response saved. You can add files to it now."))
            return redirect("canned:edit", org_slug=request.organization.slug, canned_id=canned_response.pk)
    status = 400 if form.errors else 200
    return render(request, "canned/canned_form.html", _settings_context(request, form=form), status=status)


def _managed_or_404(request: TenantRequest, canned_id: int) -> CannedResponse:
    """A response the member may manage, else 404 (one they may only read is shown read-only
    by canned_edit; writes to it are 403 from the service)."""
    try:
        return selectors.canned_get(
            organization=request.organization, membership=request.membership, canned_id=canned_id
        )
    except NotFound:
        raise Http404 from None


@member_required
@require_http_methods(["GET", "POST"])
@http_errors
def canned_edit(request: TenantRequest, canned_id: int) -> HttpResponse:
    membership = request.membership
    canned_response = _managed_or_404(request, canned_id)
    can_manage = selectors.may_manage(membership=membership, canned_response=canned_response)
    if request.method == "POST":
        if not can_manage:
            raise DjangoPermissionDenied
        form = CannedResponseForm(request.POST, membership=membership)
        if form.is_valid():
            try:
                services.canned_response_update(
                    organization=request.organization,
                    membership=membership,
                    canned_response=canned_response,
                    **_form_changes(form),
                )
            except HelpdeskError as error:
                if error.status == 403:
                    raise
                attach_error(form, error)
            else:
                messages.success(request, _("Canned response saved."))
                return redirect(_list_url(request))
    else:
        form = CannedResponseForm(initial=_form_initial(canned_response), membership=membership)
    context = _settings_context(
        request,
        form=form,
        canned_response=canned_response,
        can_manage=can_manage,
        attachments=list(canned_response.attachments.all()),
        attachment_form=CannedAttachmentForm(),
    )
    return render(request, "canned/canned_form.html", context, status=400 if form.errors else 200)


@member_required
@require_POST
@http_errors
def canned_delete(request: TenantRequest, canned_id: int) -> HttpResponse:
    canned_response = _managed_or_404(request, canned_id)
    services.canned_response_delete(
        organization=request.organization, membership=request.membership, canned_response=canned_response
    )
    messages.success(request, _("Canned response deleted."))
    return redirect(_list_url(request))


@member_required
@require_POST
@http_errors
def canned_attachment_add(request: TenantRequest, canned_id: int) -> HttpResponse:
    canned_response = _managed_or_404(request, canned_id)
    upload = request.FILES.get("file")
    edit_url = reverse("canned:edit", kwargs={"org_slug": request.organization.slug, "canned_id": canned_response.pk})
    if upload is None:
        messages.error(request, _("Choose a file first."))
        return redirect(edit_url)
    try:
        services.canned_attachment_add(
            organization=request.organization,
            membership=request.membership,
            canned_response=canned_response,
            upload=upload,
        )
    except HelpdeskError as error:
        if error.status == 403:
            raise
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("File added."))
    return redirect(edit_url)


@member_required
@require_POST
@http_errors
def canned_attachment_remove(request: TenantRequest, canned_id: int, attachment_id: int) -> HttpResponse:
    canned_response = _managed_or_404(request, canned_id)
    services.canned_attachment_remove(
        organization=request.organization,
        membership=request.membership,
        canned_response=canned_response,
        attachment_id=attachment_id,
    )
    messages.success(request, _("File removed."))
    return redirect("canned:edit", org_slug=request.organization.slug, canned_id=canned_response.pk)


@member_required
@require_GET
def canned_attachment_file(request: TenantRequest, attachment_id: int) -> FileResponse:
    """A canned response's file, to members who may see the response; never inline unless a
    raster image (helpdesk.files)."""
    try:
        attachment = selectors.canned_attachment_get(
            organization=request.organization, membership=request.membership, attachment_id=attachment_id
        )
        handle = default_storage.open(attachment.stored_name, "rb")
    except (NotFound, FileNotFoundError, OSError):
        raise Http404 from None
    return file_response(handle, file_name=attachment.title)


# --- The composer ----------------------------------------------------------------------------------


def _preview(response: CannedResponse) -> str:
    body = response.body_en or response.body_ja
    return " ".join(body.split())[:120]


def _composer_place(
    request: TenantRequest, *, conversation_id: int | None, ticket_id: int | None, bare: bool = False
) -> tuple[Conversation, Ticket | None]:
    """Where the composer writes: a conversation of the inbox, or a ticket's page (its
    conversation, and the ticket for ``{{ticket.number}}``), each under its own rule of who
    may see it (a ticket's is the stricter); 404 otherwise. ``bare``: the conversation with its
    channel only (the search, polled as the agent types)."""
    organization, membership = request.organization, request.membership
    get_conversation = conversation_selectors.conversation_get_bare if bare else conversation_selectors.conversation_get
    try:
        ticket = None
        if ticket_id is not None:
            ticket = ticket_selectors.ticket_get(organization=organization, membership=membership, ticket_id=ticket_id)
            conversation_id = ticket.conversation_id
        conversation = get_conversation(
            organization=organization, membership=membership, conversation_id=conversation_id
        )
    except NotFound:
        raise Http404 from None
    return conversation, ticket


def _render_url(request: TenantRequest, *, conversation: Conversation, ticket: Ticket | None, canned_id: int) -> str:
    slug = request.organization.slug
    if ticket is not None:
        return reverse(
            "canned:ticket_composer_render", kwargs={"org_slug": slug, "ticket_id": ticket.pk, "canned_id": canned_id}
        )
    return reverse(
        "canned:composer_render", kwargs={"org_slug": slug, "conversation_id": conversation.pk, "canned_id": canned_id}
    )


@member_required
@require_GET
def composer_search(
    request: TenantRequest, conversation_id: int | None = None, ticket_id: int | None = None
) -> JsonResponse:
    """What ``/query`` finds in this conversation (or the ticket's): the ten best, with their
    insert URL."""
    conversation, ticket = _composer_place(request, conversation_id=conversation_id, ticket_id=ticket_id, bare=True)
    found = selectors.canned_search(
        organization=request.organization,
        membership=request.membership,
        conversation=conversation,
        query=request.GET.get("q", ""),
    )
    results = [
        {
            "id": response.pk,
            "shortcut": response.shortcut,
            "title": response.title,
            "preview": _preview(response),
            "scope": str(CannedScope(response.scope).label),
            "render_url": _render_url(request, conversation=conversation, ticket=ticket, canned_id=response.pk),
        }
        for response in found
    ]
    return JsonResponse({"results": results})


@member_required
@require_POST
def composer_render(
    request: TenantRequest, canned_id: int, conversation_id: int | None = None, ticket_id: int | None = None
) -> JsonResponse:
    """The response filled in for this conversation, or the ticket's (counts a use); the
    composer puts the text in place of ``/query`` and its files as removable chips with their
    kept-file tokens."""
    conversation, ticket = _composer_place(request, conversation_id=conversation_id, ticket_id=ticket_id)
    try:
        rendered = services.canned_response_use(
            organization=request.organization,
            membership=request.membership,
            acting_user=request.user,
            conversation=conversation,
            canned_id=canned_id,
            ticket=ticket,
        )
    except NotFound:
        raise Http404 from None
    too_long_message = ""
    if rendered.too_long:
        too_long_message = _(
            "Filled in, this canned response is %(length)s characters long: a reply can be at most %(max)s. "
            "Shorten it before sending."
        ) % {"length": f"{rendered.length:,}", "max": f"{message_text.MAX_TEXT_LENGTH:,}"}
    return JsonResponse(
        {
            "text": rendered.text,
            "language": rendered.language,
            "length": rendered.length,
            "too_long": rendered.too_long,
            "too_long_message": too_long_message,
            "attachments": [{"title": a.title, "kept_file": a.kept_file} for a in rendered.attachments],
        }
    )
