"""HTML pages of the tickets app: the list, a ticket, converting a conversation by hand,
and the contact panel's list of past tickets (an htmx partial for the inbox)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk.exceptions import HelpdeskError, NotFound, PermissionDenied, http_errors
from helpdesk.models import Organization
from helpdesk.tenancy import TenantRequest, member_required
from messenger import selectors as messenger_selectors
from messenger.reply_window import reply_window
from messenger.services import sending
from messenger.views.attachments import display_attachments
from tickets import selectors, services
from tickets.forms import TicketFilterForm, TicketUpdateForm
from tickets.models import TicketState

PAGE_SIZE = 25
CONTACT_PANEL_SIZE = 10


def conversation_url(organization: Organization, conversation_id: int) -> str:
    """The inbox's page of a conversation."""
    return reverse("messenger:conversation", kwargs={"org_slug": organization.slug, "conversation_id": conversation_id})


def _ticket_url(organization: Organization, ticket_id: int) -> str:
    return reverse("tickets:ticket_detail", kwargs={"org_slug": organization.slug, "ticket_id": ticket_id})


@member_required
@require_GET
def ticket_list(request: TenantRequest) -> HttpResponse:
    organization, membership = request.organization, request.membership
    form = TicketFilterForm(
        request.GET,
        departments=selectors.ticket_filter_departments(organization=organization, membership=membership),
        channels=selectors.ticket_filter_channels(organization=organization, membership=membership),
        members=selectors.ticket_assignee_choices(organization=organization),
        user_id=request.user.pk,
    )
    tickets = selectors.ticket_list(organization=organization, membership=membership, filters=form.filters())
    page = Paginator(tickets.defer("description"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "tickets/ticket_list.html",
        {"form": form, "page": page, "query": query.urlencode(), "is_filtered": bool(query)},
    )


@member_required
@require_http_methods(["GET", "POST"])
@http_errors
def ticket_detail(request: TenantRequest, ticket_id: int) -> HttpResponse:
    organization, membership = request.organization, request.membership
    ticket = selectors.ticket_get(organization=organization, membership=membership, ticket_id=ticket_id)
    members = list(selectors.ticket_assignee_choices(organization=organization, ticket=ticket))
    if ticket.assignee_id and all(m.user_id != ticket.assignee_id for m in members):
        # Keep the current holder in the list so that saving the form does not silently unassign.
        members += list(selectors.ticket_assignee_choices(organization=organization).filter(user=ticket.assignee_id))
    form = TicketUpdateForm(
        request.POST if request.POST.get("action") == "update" else None,
        members=members,
        initial={"priority": ticket.priority, "assignee": ticket.assignee_id},
    )
    reply_text, reply_error = "", None
    if request.method == "POST" and request.POST.get("action") == "reply":
        # A reply on a ticket is a Messenger reply to its conversation, under the same rules.
        reply_text = request.POST.get("text", "")
        try:
            conversation = messenger_selectors.conversation_get(
                organization=organization, membership=membership, conversation_id=ticket.conversation_id
            )
            sending.reply_send(
                organization=organization, acting_user=request.user, conversation=conversation, text=reply_text
            )
        except HelpdeskError as error:
            reply_error = error
        else:
            messages.success(request, _("Reply queued for sending."))
            return redirect(_ticket_url(organization, ticket.pk))
    elif request.method == "POST":
        changes: dict[str, Any] = {}
        if request.POST.get("action") == "state":
            changes["state"] = request.POST.get("state", "")
        elif form.is_valid():
            changes = {"priority": form.cleaned_data["priority"], "assignee_id": form.cleaned_data["assignee"]}
        if changes:
            try:
                services.ticket_update(
                    organization=organization,
                    acting_user=request.user,
                    membership=membership,
                    ticket_id=ticket.pk,
                    **changes,
                )
            except HelpdeskError as error:
                messages.error(request, str(error.message))
            else:
                messages.success(request, _("Ticket updated."))
            return redirect(_ticket_url(organization, ticket.pk))
    return render(
        request,
        "tickets/ticket_detail.html",
        {
            "ticket": ticket,
            "form": form,
            "transitions": [TicketState(state) for state in ticket.allowed_states],
            "conversation_url": conversation_url(organization, ticket.conversation_id),
            "reply_window": reply_window(ticket.conversation.last_inbound_at),
            "reply_text": reply_text,
            "reply_error": reply_error,
            "max_length": sending.MAX_TEXT_LENGTH,
            "attachments": [
                attachment
                for message in selectors.ticket_attachment_messages(organization=organization, ticket=ticket)
                for attachment in display_attachments(
                    message.attachments, organization_slug=organization.slug, message_id=message.pk
                )
                if attachment["url"]
            ],
        },
        status=reply_error.status if reply_error else (400 if form.is_bound and not form.is_valid() else 200),
    )


def _safe_next(request: HttpRequest) -> str | None:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return None


@member_required
@require_POST
@http_errors
def ticket_convert(request: TenantRequest, conversation_id: int) -> HttpResponse:
    """The inbox's "Convert to ticket" button posts here (optionally with `next`)."""
    organization, membership = request.organization, request.membership
    try:
        ticket = services.ticket_create_from_conversation(
            organization=organization, acting_user=request.user, membership=membership, conversation_id=conversation_id
        )
    except (NotFound, PermissionDenied):
        raise
    except HelpdeskError as error:
        messages.error(request, str(error.message))
        target = _safe_next(request) or conversation_url(organization, conversation_id)
    else:
        messages.success(request, _("Ticket #%(id)s created.") % {"id": ticket.pk})
        target = _ticket_url(organization, ticket.pk)
    if request.headers.get("HX-Request"):
        response = HttpResponse()
        response["HX-Redirect"] = target
        return response
    return redirect(target)


@member_required
@require_GET
@http_errors
def contact_tickets(request: TenantRequest, contact_id: int) -> HttpResponse:
    """The contact's past tickets, as a small list for the inbox's contact panel."""
    organization, membership = request.organization, request.membership
    contact = selectors.contact_get(organization=organization, membership=membership, contact_id=contact_id)
    tickets = list(
        selectors.contact_ticket_list(organization=organization, membership=membership, contact=contact)[
            : CONTACT_PANEL_SIZE + 1
        ]
    )
    return render(
        request,
        "tickets/_contact_tickets.html",
        {
            "contact": contact,
            "tickets": tickets[:CONTACT_PANEL_SIZE],
            "has_more": len(tickets) > CONTACT_PANEL_SIZE,
            "current_ticket_id": selectors.as_id(request.GET.get("current")),
        },
    )
