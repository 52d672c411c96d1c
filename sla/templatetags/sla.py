"""``{% sla_badge state %}``: a running SLA target's badge (nothing when there is none)."""

from __future__ import annotations

from typing import Any

from django import template

from sla.display import sla_badge as badge_of
from sla.state import SlaState

register = template.Library()


@register.inclusion_tag("sla/_badge.html")
def sla_badge(state: SlaState | None) -> dict[str, Any]:
    return {"badge": badge_of(state)}
