"""Template tags of the channels app: the re-authorization banner shown to admins."""

from __future__ import annotations

from typing import Any

from django import template

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
