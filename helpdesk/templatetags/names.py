"""{{ user|user_name }}: a member's name in the reader's order (helpdesk.names)."""

from __future__ import annotations

from typing import Any

from django import template

from helpdesk import names

register = template.Library()


@register.filter
def user_name(user: Any) -> str:
    return names.user_name(user)
