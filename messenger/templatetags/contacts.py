"""{{ contact|contact_name }}: the name a customer is shown with, in the reader's language
and name order, friendly when Facebook gave none (messenger.contact_names)."""

from __future__ import annotations

from django import template

from messenger import contact_names
from messenger.models import Contact
from messenger.views.avatars import kept_avatar_url

register = template.Library()


@register.filter
def contact_name(contact: Contact | None) -> str:
    return contact_names.contact_name(contact) if contact is not None else ""


@register.simple_tag(takes_context=True)
def contact_avatar_url(context: template.Context, contact: Contact | None) -> str:
    """{% contact_avatar_url contact %}: the kept picture's URL in the current organization,
    "" without one (the template shows initials then)."""
    organization = context.get("organization")
    if contact is None or organization is None:
        return ""
    return kept_avatar_url(contact, organization_slug=organization.slug)
