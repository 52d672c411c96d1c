"""{{ contact|contact_name }}: the name a customer is shown with, in the reader's language
and name order, friendly when Facebook gave none (messenger.contact_names)."""

from __future__ import annotations

from django import template

from messenger import contact_names
from messenger.models import Contact

register = template.Library()


@register.filter
def contact_name(contact: Contact | None) -> str:
    return contact_names.contact_name(contact) if contact is not None else ""
