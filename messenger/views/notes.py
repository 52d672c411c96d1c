"""Private notes from the inbox's composer (its Note mode), and the members its ``@``
autocomplete offers. Each asks the visibility rule through ``conversation_or_404``."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, JsonResponse, QueryDict
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from helpdesk.converters import search_term
from helpdesk.exceptions import HelpdeskError
from helpdesk.names import user_name
from helpdesk.tenancy import TenantRequest, member_required
from helpdesk.toasts import toast_trigger
from messenger.selectors import visibility as visibility_selectors
from messenger.services import notes
from messenger.views.conversation import conversation_or_404, render_conversation_page
from messenger.views.conversation_actions import _back_to, _composer_feedback, _is_htmx, _transcript_partial

# How many members the autocomplete lists at once.
MENTION_SUGGESTIONS = 8


@member_required
@require_POST
def conversation_note_add(request: TenantRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_or_404(request, conversation_id)
    body = request.POST.get("text", "")
    try:
        notes.note_add(
            organization=request.organization,
            acting_user=request.user,
            membership=request.membership,
            conversation=conversation,
            body=body,
        )
    except HelpdeskError as error:
        if _is_htmx(request):
            return _composer_feedback(request, error)
        messages.error(request, str(error.message))
        filters = QueryDict(request.POST.get("filters", ""))
        return render_conversation_page(
            request, conversation, params=filters, draft=body, composer_mode="note", status=error.status
        )
    if _is_htmx(request):
        return toast_trigger(_transcript_partial(request, conversation), _("Note added."))
    messages.success(request, _("Note added."))
    return _back_to(request, conversation.pk)


@member_required
@require_GET
def conversation_mentionable(request: TenantRequest, conversation_id: int) -> JsonResponse:
    """The members who may be mentioned in a note of the conversation (who may see it),
    whose username or name starts with ``q``: ``{"members": [{"username", "name"}]}``."""
    conversation = conversation_or_404(request, conversation_id)
    members = visibility_selectors.member_list_mentionable(
        organization=request.organization, conversation=conversation, term=search_term(request.GET.get("q"))
    )[:MENTION_SUGGESTIONS]
    return JsonResponse({"members": [{"username": m.user.get_username(), "name": user_name(m.user)} for m in members]})
