from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from live import bus

register = template.Library()


@register.simple_tag
def live_position(organization: Any) -> str:
    """Where the organization's event stream stands as the page is drawn: the page's first
    stream catches up from here, so that a change made meanwhile is not missed."""
    return bus.position(organization.pk) if organization is not None else ""


@register.simple_tag
def live_poll_seconds() -> int:
    """How often a page without push asks for changes."""
    return int(settings.LIVE_POLL_SECONDS)
