"""The page's questions for its alerts (helpdesk/static/helpdesk/alerts.js): what to show
for a conversation's live event, and the count in the tab's title. JSON, for members only."""

from __future__ import annotations

from django.http import Http404, JsonResponse
from django.views.decorators.http import require_GET

from helpdesk import alerts as alert_choices
from helpdesk.exceptions import NotFound
from helpdesk.tenancy import TenantRequest, member_required
from messenger import alerts


@member_required
@require_GET
def conversation_alert(request: TenantRequest, conversation_id: int) -> JsonResponse:
    """`?what=<the live event's what>` → `{"alert": false}` or `{"alert": true, title, body,
    url, desktop, sound}` in the member's language; 404 for a conversation they may not see."""
    try:
        alert = alerts.conversation_alert(
            organization=request.organization,
            membership=request.membership,
            conversation_id=conversation_id,
            what=request.GET.get("what", ""),
        )
    except NotFound:
        raise Http404 from None
    if alert is None:
        return JsonResponse({"alert": False})
    return JsonResponse(
        {
            "alert": True,
            "title": alert.title,
            "body": alert.body,
            "url": alert.url,
            "desktop": alert.desktop,
            "sound": alert.sound,
        }
    )


@member_required
@require_GET
def alert_count(request: TenantRequest) -> JsonResponse:
    """`{count, notifications, conversations, desktop, sound}`: the title's count (unread
    notifications plus open conversations assigned to the member with unread messages), and
    whether any of their alerts are shown on the desktop or heard."""
    count = alerts.title_count(organization=request.organization, membership=request.membership)
    choices = alert_choices.choices_of(request.membership)
    return JsonResponse(
        {
            "count": count.total,
            "notifications": count.notifications,
            "conversations": count.conversations,
            "desktop": alert_choices.DESKTOP in choices.ways and bool(choices.events),
            "sound": alert_choices.SOUND in choices.ways and bool(choices.events),
        }
    )
