"""HTML pages of the tickets app: the list, a ticket (its part of the conversation shown as
the inbox shows it, with the inbox's polled partial, and the inbox's composer: replies with
canned responses, private notes with mentions), converting a conversation by hand, and the
contact panel's list of past tickets (an htmx partial for the inbox)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from helpdesk.exceptions import (
    ColleagueReplied,
    HelpdeskError,
    NotFound,
    PermissionDenied,
    TicketAlreadyOpen,
    http_errors,
)
from helpdesk.models import Organization
from helpdesk.tenancy import TenantRequest, member_required
from helpdesk.toasts import toast_trigger
from labels import selectors as label_selectors
from messenger.reply_window import reply_window
from messenger.services import notes
from messenger.services.sending import kept_files as kept_files_module
from messenger.services.sending import reply_rules
from messenger.views.attachments import display_attachments
from messenger.views.conversation_actions import composer_seen_at
from messenger.views.transcript import system_line, transcript_context
from tickets import events, selectors, services
from tickets.forms import TicketFilterForm, TicketSubjectForm, TicketUpdateForm
from tickets.models import Ticket, TicketState

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
        labels=label_selectors.label_list(organization=organization),
    )
    filters = form.filters()
    tickets = selectors.ticket_list(organization=organization, membership=membership, filters=filters)
    page = Paginator(tickets.defer("description"), PAGE_SIZE).get_page(request.GET.get("page"))
    # The page's labels in one query.
    page.object_list = list(page.object_list)
    selectors.with_labels(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "tickets/ticket_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "is_filtered": bool(query),
            "selected_label_ids": filters.label_ids,
        },
    )


def _details_form(*, organization: Organization, ticket: Ticket, data: Any = None) -> TicketUpdateForm:
    members = list(selectors.ticket_assignee_choices(organization=organization, ticket=ticket))
    if ticket.assignee_id and all(m.user_id != ticket.assignee_id for m in members):
        # Keep the current holder in the list so that saving the form does not silently unassign.
        members += list(selectors.ticket_assignee_choices(organization=organization).filter(user=ticket.assignee_id))
    initial = {"priority": ticket.priority, "assignee": ticket.assignee_id}
    return TicketUpdateForm(data, members=members, initial=initial)


def _thread_context(request: TenantRequest, ticket: Ticket) -> dict[str, Any]:
    """The ticket's part of the conversation as the inbox's transcript shows it, with the
    ticket's own events as system lines in the reader's language."""
    extra_lines = [
        system_line(at=event.created_at, description=events.describe(event))
        for event in selectors.ticket_event_list(organization=request.organization, ticket=ticket)
    ]
    context = transcript_context(
        request, ticket.conversation, part=selectors.ticket_part(ticket=ticket), extra_lines=extra_lines
    )
    context["ticket"] = ticket
    return context


def _ticket_page(
    request: TenantRequest,
    ticket: Ticket,
    *,
    form: TicketUpdateForm | None = None,
    subject_form: TicketSubjectForm | None = None,
    reply_text: str = "",
    reply_error: HelpdeskError | None = None,
    composer_mode: str = "reply",
    kept_file_tokens: list[str] | None = None,
    seen_at: str = "",
    status: int = 200,
) -> HttpResponse:
    """The ticket page; the actions below render it again with what they refused (the text,
    the composer's mode, a canned response's files still valid)."""
    organization = request.organization
    context = _thread_context(request, ticket)
    return render(
        request,
        "tickets/ticket_detail.html",
        {
            **context,
            "form": form or _details_form(organization=organization, ticket=ticket),
            "subject_form": subject_form or TicketSubjectForm(initial={"subject": ticket.subject}),
            "transitions": [TicketState(state) for state in ticket.allowed_states],
            "conversation_url": conversation_url(organization, ticket.conversation_id),
            "rating_url": _optional_url("csat:ticket_rating", org_slug=organization.slug, ticket_id=ticket.pk),
            "reply_window": reply_window(ticket.conversation.last_inbound_at),
            "reply_text": reply_text,
            "reply_error": reply_error,
            "composer_mode": composer_mode,
            # When the composer showed the conversation (kept when a colleague's reply asks first).
            "seen_at": seen_at or timezone.now().isoformat(),
            "confirm_at": timezone.now().isoformat() if isinstance(reply_error, ColleagueReplied) else "",
            "canned_kept_files": _kept_files_shown(organization, kept_file_tokens or []),
            **ticket_labels_context(request, ticket),
            "max_length": reply_rules.MAX_TEXT_LENGTH,
            "has_messages": any(line.message for line in context["lines"]),
            "attachments": [
                attachment
                for message in selectors.ticket_attachment_messages(organization=organization, ticket=ticket)
                for attachment in display_attachments(
                    message.attachments, organization_slug=organization.slug, message_id=message.pk
                )
                if attachment["url"]
            ],
        },
        status=status,
    )


def _kept_files_shown(organization: Organization, tokens: list[str]) -> list[dict[str, str]]:
    """A refused reply's canned files, shown again as chips: those whose token still holds."""
    shown = []
    for token in tokens[: kept_files_module.MAX_KEPT_FILES]:
        try:
            stored = kept_files_module.kept_file_verify(organization=organization, token=token)
        except HelpdeskError:
            continue
        shown.append({"title": stored.title, "token": token})
    return shown


def ticket_labels_context(request: TenantRequest, ticket: Ticket) -> dict[str, Any]:
    """The ticket's labels and those that may still be added (two queries)."""
    labels = selectors.ticket_label_list(organization=request.organization, ticket=ticket)
    present = {label.pk for label in labels}
    every = label_selectors.label_list(organization=request.organization)
    return {
        "ticket": ticket,
        "ticket_labels": labels,
        "ticket_label_choices": [label for label in every if label.pk not in present],
    }


def _ticket(request: TenantRequest, ticket_id: int) -> Ticket:
    return selectors.ticket_get(organization=request.organization, membership=request.membership, ticket_id=ticket_id)


def _optional_url(name: str, **kwargs: Any) -> str:
    """A URL of a higher layer (csat), or "" while that layer is not installed."""
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return ""


@member_required
@require_GET
@http_errors
def ticket_detail(request: TenantRequest, ticket_id: int) -> HttpResponse:
    return _ticket_page(request, _ticket(request, ticket_id))


@member_required
@require_GET
@http_errors
def ticket_transcript(request: TenantRequest, ticket_id: int) -> HttpResponse:
    """The ticket page's polled partial of its thread: 204 when nothing changed."""
    context = _thread_context(request, _ticket(request, ticket_id))
    if request.GET.get("v") == context["transcript_version"]:
        return HttpResponse(status=204)
    return render(request, "tickets/_ticket_transcript.html", context)


@member_required
@require_POST
@http_errors
def ticket_reply(request: TenantRequest, ticket_id: int) -> HttpResponse:
    """A reply on a ticket is a Messenger reply to its conversation, under the same rules."""
    organization, membership = request.organization, request.membership
    ticket = _ticket(request, ticket_id)
    text = request.POST.get("text", "")
    kept_file_tokens = request.POST.getlist("kept_file")
    try:
        services.ticket_reply_send(
            organization=organization,
            acting_user=request.user,
            membership=membership,
            ticket_id=ticket.pk,
            text=text,
            kept_files=kept_file_tokens,
            seen_at=composer_seen_at(request),
        )
    except HelpdeskError as error:
        return _ticket_page(
            request,
            ticket,
            reply_text=text,
            reply_error=error,
            kept_file_tokens=kept_file_tokens,
            seen_at=request.POST.get("seen_at", "") if isinstance(error, ColleagueReplied) else "",
            status=error.status,
        )
    messages.success(request, _("Reply queued for sending."))
    return redirect(_ticket_url(organization, ticket.pk) + "#ticket-transcript")


@member_required
@require_POST
@http_errors
def ticket_note_add(request: TenantRequest, ticket_id: int) -> HttpResponse:
    """A private note from the ticket page (the composer's Note mode): a note of the ticket's
    conversation (messenger.services.notes), shown in the ticket's thread and the inbox's
    transcript, its mentions told as in the inbox. Never sent: a note is not a message."""
    ticket = _ticket(request, ticket_id)
    body = request.POST.get("text", "")
    try:
        note = notes.note_add(
            organization=request.organization,
            acting_user=request.user,
            membership=request.membership,
            conversation=ticket.conversation,
            body=body,
        )
    except HelpdeskError as error:
        return _ticket_page(
            request, ticket, reply_text=body, reply_error=error, composer_mode="note", status=error.status
        )
    messages.success(request, _("Note added."))
    return redirect(f"{_ticket_url(request.organization, ticket.pk)}#note-{note.pk}")


@member_required
@require_POST
@http_errors
def ticket_state_change(request: TenantRequest, ticket_id: int) -> HttpResponse:
    ticket = _ticket(request, ticket_id)
    return _ticket_change(request, ticket, state=request.POST.get("state", ""))


@member_required
@require_POST
@http_errors
def ticket_details_update(request: TenantRequest, ticket_id: int) -> HttpResponse:
    """The Details form: priority and assignee."""
    ticket = _ticket(request, ticket_id)
    form = _details_form(organization=request.organization, ticket=ticket, data=request.POST)
    if not form.is_valid():
        return _ticket_page(request, ticket, form=form, status=400)
    return _ticket_change(
        request, ticket, priority=form.cleaned_data["priority"], assignee_id=form.cleaned_data["assignee"]
    )


@member_required
@require_POST
@http_errors
def ticket_subject_update(request: TenantRequest, ticket_id: int) -> HttpResponse:
    ticket = _ticket(request, ticket_id)
    form = TicketSubjectForm(request.POST)
    if not form.is_valid():
        return _ticket_page(request, ticket, subject_form=form, status=400)
    return _ticket_change(request, ticket, subject=form.cleaned_data["subject"])


def _ticket_change(request: TenantRequest, ticket: Ticket, **changes: Any) -> HttpResponse:
    try:
        services.ticket_update(
            organization=request.organization,
            acting_user=request.user,
            membership=request.membership,
            ticket_id=ticket.pk,
            **changes,
        )
    except HelpdeskError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Ticket updated."))
    return redirect(_ticket_url(request.organization, ticket.pk))


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
    except TicketAlreadyOpen as error:
        messages.info(request, _("This conversation already has an open ticket: #%(id)s.") % {"id": error.ticket_id})
        target = _ticket_url(organization, error.ticket_id)
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


def _labels_answer(request: TenantRequest, ticket: Ticket, message: str) -> HttpResponse:
    if request.headers.get("HX-Request") == "true":
        response = render(request, "tickets/_ticket_labels.html", ticket_labels_context(request, ticket))
        return toast_trigger(response, message)
    messages.success(request, message)
    return redirect(_ticket_url(request.organization, ticket.pk))


@member_required
@require_POST
@http_errors
def ticket_label_add(request: TenantRequest, ticket_id: int) -> HttpResponse:
    """Whoever sees the ticket may label it; a label of another organization is 404."""
    ticket = _ticket(request, ticket_id)
    label = label_selectors.label_get(organization=request.organization, label_id=request.POST.get("label", ""))
    services.tickets_label_add(
        organization=request.organization, acting_user=request.user, tickets=[ticket], label=label
    )
    return _labels_answer(request, ticket, _("Label “%(name)s” added.") % {"name": label.name})


@member_required
@require_POST
@http_errors
def ticket_label_remove(request: TenantRequest, ticket_id: int, label_id: int) -> HttpResponse:
    ticket = _ticket(request, ticket_id)
    label = label_selectors.label_get(organization=request.organization, label_id=label_id)
    services.tickets_label_remove(
        organization=request.organization, acting_user=request.user, tickets=[ticket], label=label
    )
    return _labels_answer(request, ticket, _("Label “%(name)s” removed.") % {"name": label.name})
