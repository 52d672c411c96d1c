"""The inbox's bulk actions: the toolbar's menus (loaded once the agent first selects a
conversation, so that the inbox page costs no query more) and the one POST that acts on the
selected conversations (``messenger.services.conversations.bulk``). The answer asks the page
for a toast saying what happened (or why nothing did) and for the list to refresh."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from helpdesk.exceptions import HelpdeskError, InvalidInput, NotFound
from helpdesk.names import user_name
from helpdesk.tenancy import TenantRequest, member_required
from helpdesk.toasts import TOAST_EVENT
from labels.selectors import label_list
from messenger.selectors import visibility as visibility_selectors
from messenger.services.conversations.bulk import BulkAction, BulkResult, conversations_bulk

# The event the page's bulk.js listens for once an action is done (HX-Trigger).
DONE_EVENT = "inbox:bulk-done"
# The "Assign to" menu's value for nobody.
ASSIGNEE_NOBODY = "none"


def result_text(result: BulkResult) -> str:
    """What the toast says: how many changed, how many were already as asked."""
    changed, unchanged = len(result.changed), len(result.unchanged)
    label = result.label.name if result.label is not None else ""
    if result.action == BulkAction.ASSIGN and result.assignee is None:
        done, already = _("Conversations unassigned: %(n)d."), _("Already unassigned: %(n)d.")
    elif result.action == BulkAction.ASSIGN:
        done = _("Conversations assigned to %(agent)s: %(n)d.")
        already = _("Already assigned to %(agent)s: %(n)d.")
    elif result.action == BulkAction.LABEL_ADD:
        done, already = _("Label “%(label)s” added to conversations: %(n)d."), _("Already labelled: %(n)d.")
    elif result.action == BulkAction.LABEL_REMOVE:
        done, already = _("Label “%(label)s” removed from conversations: %(n)d."), _("Without this label: %(n)d.")
    elif result.action == BulkAction.CLOSE:
        done, already = _("Conversations closed: %(n)d."), _("Already closed: %(n)d.")
    else:
        done, already = _("Conversations reopened: %(n)d."), _("Already open: %(n)d.")
    words = {"agent": user_name(result.assignee.user) if result.assignee else "", "label": label}
    parts = [done % {**words, "n": changed}] if changed else [_("Nothing changed.")]
    if unchanged:
        parts.append(already % {**words, "n": unchanged})
    parts += [warning.message for warning in result.warnings]
    return " ".join(parts)


def _toast(response: HttpResponse, message: str, *, level: str, done: BulkResult | None = None) -> HttpResponse:
    events: dict[str, object] = {TOAST_EVENT: {"level": level, "message": message}}
    if done is not None:
        events[DONE_EVENT] = {"changed": done.changed, "unchanged": done.unchanged}
    response["HX-Trigger"] = json.dumps(events)
    return response


@member_required
@require_http_methods(["GET", "POST"])
def inbox_bulk(request: TenantRequest) -> HttpResponse:
    organization, membership = request.organization, request.membership
    if request.method == "GET":
        members = visibility_selectors.member_list_assignable_somewhere(
            organization=organization, membership=membership
        )
        context = {"members": members, "labels": label_list(organization=organization), "me": membership}
        return render(request, "messenger/inbox/_bulk_toolbar.html", context)
    htmx = request.headers.get("HX-Request") == "true"
    action = request.POST.get("action", "")
    assignee = request.POST.get("assignee", "")
    try:
        if action == BulkAction.ASSIGN and not assignee:
            raise InvalidInput(_("Choose whom to assign the conversations to."))
        result = conversations_bulk(
            organization=organization,
            acting_user=request.user,
            membership=membership,
            conversation_ids=request.POST.getlist("ids"),
            action=action,
            assignee_id=None if assignee == ASSIGNEE_NOBODY else assignee,
            label_id=request.POST.get("label") or None,
        )
    except NotFound:
        raise Http404 from None
    except HelpdeskError as error:
        if htmx:
            return _toast(HttpResponse(status=error.status), str(error.message), level="error")
        messages.error(request, str(error.message))
        return redirect("messenger:inbox", org_slug=organization.slug)
    text = result_text(result)
    level = "warning" if result.warnings else "success"
    if htmx:
        return _toast(HttpResponse(), text, level=level, done=result)
    (messages.warning if result.warnings else messages.success)(request, text)
    return redirect("messenger:inbox", org_slug=organization.slug)
