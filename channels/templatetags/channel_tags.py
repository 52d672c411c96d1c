"""Template tags of the channels app: the re-authorization banner shown to admins, and the
address of a channel's icon (served by a view to members, never from MEDIA_URL)."""

from __future__ import annotations

from typing import Any

from django import template

from channels.icons import icon_url
from channels.kinds import all_backends

register = template.Library()

BANNER_PAGES_SHOWN = 5


@register.inclusion_tag("channels/_reauthorization_banner.html", takes_context=True)
def reauthorization_banner(context: template.Context) -> dict[str, Any]:
    """For admins, while any linked page of the organization needs re-authorization: which ones.

    One small query per page view (an indexed filter, at most six rows)."""
    request = context.get("request")
    membership = getattr(request, "membership", None)
    organization = getattr(request, "organization", None)
    if membership is None or organization is None or not membership.is_admin:
        return {"reauthorization_count": 0}
    count, alerts = 0, []
    for backend in all_backends():
        found, shown = backend.reauthorization_alerts(organization=organization, limit=BANNER_PAGES_SHOWN)
        count += found
        alerts.extend(shown)
    return {
        "reauthorization_count": count,
        "reauthorization_alerts": alerts[:BANNER_PAGES_SHOWN],
        "organization": organization,
    }


@register.simple_tag(takes_context=True)
def channel_icon_url(context: template.Context, channel: Any) -> str:
    """``{% channel_icon_url channel %}``: the icon's address in the request's organization."""
    organization = getattr(context.get("request"), "organization", None)
    if organization is None or channel is None:
        return ""
    return icon_url(channel, organization_slug=organization.slug)
