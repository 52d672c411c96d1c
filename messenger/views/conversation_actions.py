"""What an agent does to a conversation from the inbox: reply (with the typing indicator,
and sending a failed message again) and the actions of its menu (assign, forward, close,
reopen, block, unblock). Each parses the form, calls one service and answers with the
transcript (htmx) or a redirect back to the conversation; a refusal is shown as its message.
Converting to a ticket is the tickets layer's (the inbox links to its URL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from helpdesk.converters import parse_id
from helpdesk.exceptions import ColleagueReplied, HelpdeskError, InvalidInput, NotFound
from helpdesk.models import Organization
from helpdesk.tenancy import TenantRequest, member_required
from helpdesk.toasts import toast_trigger
from messenger.models import Conversation
from messenger.selectors import conversations as conversation_selectors
from messenger.selectors import messages as message_selectors
from messenger.services.conversations import read_state
from messenger.services.conversations.assignment import (
    conversation_assign,
    conversation_forward,
    over_capacity_message,
)
from messenger.services.conversations.blocking import contact_block, contact_unblock
from messenger.services.conversations.state import conversation_close, conversation_reopen
from messenger.services.sending import replies
from messenger.views.conversation import conversation_or_404, render_conversation_page
from messenger.views.transcript import transcript_context


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _back_to(request: TenantRequest, conversation_id: int) -> HttpResponse:
    url = reverse(
        "messenger:conversation", kwargs={"org_slug": request.organization.slug, "conversation_id": conversation_id}
    )
    query = request.POST.get("filters", "")
    return redirect(f"{url}?{query}" if query else url)


def _composer_feedback(request: TenantRequest, error: HelpdeskError) -> HttpResponse:
    """The refusal shown under the composer, in place (htmx); a colleague's reply comes with
    a button that confirms and sends."""
    context = {
        "error": error.message,
        "confirm_at": timezone.now().isoformat() if isinstance(error, ColleagueReplied) else "",
    }
    response = render(request, "messenger/inbox/_composer_feedback.html", context, status=error.status)
    response["HX-Retarget"] = "#composer-feedback"
    response["HX-Reswap"] = "innerHTML"
    return response


def _transcript_partial(request: TenantRequest, conversation: Conversation, *, sent: bool = False) -> HttpResponse:
    context = {**transcript_context(request, conversation), "partial": True}
    if sent:
        # The composer has seen the conversation as of its own reply (reply_rules.colleague_reply_check).
        context["composer_seen_at"] = timezone.now().isoformat()
    return render(request, "messenger/inbox/_transcript.html", context)


def composer_seen_at(request: TenantRequest) -> datetime | None:
    """When the composer last showed the conversation: the later of its page's time (or its
    last reply's) and the agent's confirmation of a colleague's reply. None when the form
    says neither (no check). The ticket page's composer posts the same fields."""
    seen = []
    for name in ("seen_at", "confirmed_at"):
        value = request.POST.get(name, "")
        if not value:
            continue
        parsed = parse_datetime(value) if len(value) <= 40 else None
        if parsed is None or timezone.is_naive(parsed):
            raise InvalidInput(details={name: value[:40]})
        seen.append(parsed)
    return max(seen) if seen else None


@member_required
@require_POST
def conversation_send(request: TenantRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_or_404(request, conversation_id)
    upload = request.FILES.get("file")
    text = request.POST.get("text", "")
    try:
        seen_at = composer_seen_at(request)
        replies.reply_send(
            organization=request.organization,
            acting_user=request.user,
            conversation=conversation,
            text=text,
            upload=upload,
            kept_files=request.POST.getlist("kept_file"),
            seen_at=seen_at,
        )
    except HelpdeskError as error:
        if _is_htmx(request):
            return _composer_feedback(request, error)
        # Without JavaScript: the page again, with what the agent wrote still in the composer
        # (a colleague's reply: asked there, with the button that confirms).
        collision = error if isinstance(error, ColleagueReplied) else None
        if collision is None:
            messages.error(request, str(error.message))
        filters = QueryDict(request.POST.get("filters", ""))
        return render_conversation_page(
            request,
            conversation,
            params=filters,
            draft=text,
            seen_at=request.POST.get("seen_at", "") if collision else "",
            collision=collision,
            status=error.status,
        )
    if _is_htmx(request):
        return _transcript_partial(request, conversation, sent=True)
    return _back_to(request, conversation.pk)


@member_required
@require_POST
def conversation_typing(request: TenantRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_or_404(request, conversation_id)
    read_state.conversation_typing(
        organization=request.organization, acting_user=request.user, conversation=conversation
    )
    return HttpResponse(status=204)


def _int_or_none(value: str | None) -> int | None:
    """An id posted by a form; None for nothing, or for junk (which then matches nobody)."""
    if not value:
        return None
    return parse_id(value)


ACTION_DONE = {
    "assign": gettext_lazy("Assignment saved."),
    "forward": gettext_lazy("Conversation forwarded."),
    "close": gettext_lazy("Conversation closed."),
    "reopen": gettext_lazy("Conversation reopened."),
    "block": gettext_lazy("Customer blocked."),
    "unblock": gettext_lazy("Customer unblocked."),
}


class _ActionArguments(TypedDict):
    """What every conversation action of the services takes."""

    organization: Organization
    acting_user: Any
    conversation: Conversation


@member_required
@require_POST
def conversation_action(request: TenantRequest, conversation_id: int, action: str) -> HttpResponse:
    organization = request.organization
    conversation = conversation_or_404(request, conversation_id)
    common: _ActionArguments = {"organization": organization, "acting_user": request.user, "conversation": conversation}
    try:
        if action == "assign":
            assignment = conversation_assign(
                **common, assignee_membership_id=_int_or_none(request.POST.get("assignee"))
            )
            if assignment.over_capacity is not None:
                messages.warning(request, over_capacity_message(assignment))
        elif action == "forward":
            target = request.POST.get("to", "")
            kind, _sep, target_id = target.partition(":")
            assignment = conversation_forward(
                **common,
                to_membership_id=_int_or_none(target_id) if kind == "member" else None,
                to_channel_id=_int_or_none(target_id) if kind == "channel" else None,
                note=request.POST.get("note", ""),
            )
            if assignment.over_capacity is not None:
                messages.warning(request, over_capacity_message(assignment))
        elif action == "close":
            conversation_close(**common)
        elif action == "reopen":
            conversation_reopen(**common)
        elif action == "block":
            contact_block(**common)
        elif action == "unblock":
            contact_unblock(**common)
        else:
            raise Http404
    except HelpdeskError as error:
        messages.error(request, str(error.message))
        return _back_to(request, conversation.pk)
    messages.success(request, str(ACTION_DONE[action]))
    try:
        # Forwarded to a channel this agent does not see: back to the inbox.
        conversation_selectors.conversation_get(
            organization=organization, membership=request.membership, conversation_id=conversation.pk
        )
    except NotFound:
        return redirect("messenger:inbox", org_slug=organization.slug)
    return _back_to(request, conversation.pk)


@member_required
@require_POST
def message_retry(request: TenantRequest, message_id: int) -> HttpResponse:
    organization = request.organization
    try:
        message = message_selectors.message_get(
            organization=organization, membership=request.membership, message_id=message_id
        )
    except NotFound:
        raise Http404 from None
    conversation = conversation_or_404(request, message.conversation_id)
    try:
        replies.message_retry(organization=organization, acting_user=request.user, message=message)
    except HelpdeskError as error:
        if _is_htmx(request):
            return _composer_feedback(request, error)
        messages.error(request, str(error.message))
        return _back_to(request, conversation.pk)
    if _is_htmx(request):
        return toast_trigger(_transcript_partial(request, conversation), _("The message is being sent again."))
    messages.success(request, _("The message is being sent again."))
    return _back_to(request, conversation.pk)
