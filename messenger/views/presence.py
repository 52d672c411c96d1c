"""Who else has an open conversation in front of them: the page's signals (viewing, typing
a reply, left) and the fragment that names those colleagues (live.presence keeps them).

Both answer 404 to whoever may not see the conversation (the visibility rule), so that only
its channel's members learn who looks at it; the customer never does.
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from helpdesk.names import user_name
from helpdesk.tenancy import TenantRequest, member_required
from live import presence
from messenger.models import Conversation
from messenger.selectors import visibility as visibility_selectors
from messenger.views.conversation import conversation_or_404
from messenger.views.polling import digest


def _names(names: list[str], *, one: str, several: str) -> str:
    if not names:
        return ""
    if len(names) == 1:
        return one % {"name": names[0]}
    return several % {"names": ", ".join(names)}


def presence_context(request: TenantRequest, conversation: Conversation) -> dict[str, Any]:
    """The colleagues (never the reader) who have the conversation open, in words: who types a
    reply, who views it; the fragment's version and the seconds until one of them expires."""
    now = time.time()
    others = [
        present
        for present in presence.present_list(organization_id=request.organization.pk, conversation_id=conversation.pk)
        if present.user_id != request.user.pk
    ]
    members = visibility_selectors.member_list_by_user(
        organization=request.organization, user_ids=[present.user_id for present in others]
    )
    names = {member.user_id: user_name(member.user) for member in members}
    shown = [present for present in others if present.user_id in names]
    typing = sorted(names[present.user_id] for present in shown if present.typing(now))
    viewing = sorted(names[present.user_id] for present in shown if not present.typing(now))
    soonest = min(
        (present.typing_until if present.typing(now) else present.viewing_until for present in shown), default=None
    )
    return {
        "conversation": conversation,
        "presence_typing": _names(
            typing, one=_("%(name)s is typing a reply…"), several=_("%(names)s are typing a reply…")
        ),
        "presence_viewing": _names(viewing, one=_("%(name)s is viewing"), several=_("%(names)s are viewing")),
        "presence_version": digest([typing, viewing]),
        # The page asks again once the first of them lapses (nobody says they stopped typing).
        "presence_expires": max(1, math.ceil(soonest - now)) if soonest is not None else "",
    }


@member_required
@require_http_methods(["GET", "POST"])
def conversation_presence(request: TenantRequest, conversation_id: int) -> HttpResponse:
    """GET: the fragment (204 when the page's version `v` is current). POST `state` = viewing
    (every 15 s while the page is visible), typing (at most every 3 s) or left: 204."""
    conversation = conversation_or_404(request, conversation_id)
    if request.method == "POST":
        state = request.POST.get("state", "")
        if state not in presence.STATES:
            return JsonResponse(
                {"code": "invalid_presence_state", "message": _("The state must be viewing, typing or left.")},
                status=400,
            )
        presence.presence_record(
            organization_id=request.organization.pk,
            channel_id=conversation.channel_id,
            conversation_id=conversation.pk,
            user_id=request.user.pk,
            state=state,
        )
        return HttpResponse(status=204)
    context = presence_context(request, conversation)
    if request.GET.get("v") == context["presence_version"]:
        response = HttpResponse(status=204)
    else:
        response = render(request, "messenger/inbox/_presence_text.html", context)
    # Unchanged or not, when to ask again without an event (someone stopped typing).
    response["X-Presence-Expires"] = str(context["presence_expires"])
    return response
