"""Labels on one conversation from the inbox: its chips with remove buttons and the "Add
label" menu (an htmx partial of the contact panel). Whoever may see the conversation may
label it, a deleted channel's too (a label is the team's own sorting, nothing is sent)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from helpdesk.exceptions import NotFound
from helpdesk.tenancy import TenantRequest, member_required
from helpdesk.toasts import toast_trigger
from labels import selectors as label_selectors
from labels.models import Label
from messenger.models import Conversation
from messenger.services.conversations.labels import conversations_label_add, conversations_label_remove
from messenger.views.conversation import conversation_labels_context, conversation_or_404


def _label_or_404(request: TenantRequest, label_id: Any) -> Label:
    try:
        return label_selectors.label_get(organization=request.organization, label_id=label_id)
    except NotFound:
        raise Http404 from None


def _answer(request: TenantRequest, conversation: Conversation, message: str) -> HttpResponse:
    if request.headers.get("HX-Request") == "true":
        response = render(
            request, "messenger/inbox/_conversation_labels.html", conversation_labels_context(request, conversation)
        )
        return toast_trigger(response, message)
    url = reverse(
        "messenger:conversation", kwargs={"org_slug": request.organization.slug, "conversation_id": conversation.pk}
    )
    query = request.POST.get("filters", "")
    return redirect(f"{url}?{query}" if query else url)


@member_required
@require_POST
def conversation_label_add(request: TenantRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_or_404(request, conversation_id)
    label = _label_or_404(request, request.POST.get("label"))
    conversations_label_add(
        organization=request.organization, acting_user=request.user, conversations=[conversation], label=label
    )
    return _answer(request, conversation, _("Label “%(name)s” added.") % {"name": label.name})


@member_required
@require_POST
def conversation_label_remove(request: TenantRequest, conversation_id: int, label_id: int) -> HttpResponse:
    conversation = conversation_or_404(request, conversation_id)
    label = _label_or_404(request, label_id)
    conversations_label_remove(
        organization=request.organization, acting_user=request.user, conversations=[conversation], label=label
    )
    return _answer(request, conversation, _("Label “%(name)s” removed.") % {"name": label.name})
