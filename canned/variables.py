"""The variables of a canned response (``{{contact.first_name}}``…): which exist, checking a
text before it is saved, and filling them in when an agent inserts the response.

Pure functions: the one place that knows the variables. A text may hold single braces
freely; a double brace opens a variable, which must be closed and must be one of
``VARIABLES`` (whitespace inside the braces is allowed: ``{{ agent.name }}``).
"""

from __future__ import annotations

import re
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from helpdesk.exceptions import InvalidInput
from helpdesk.names import person_name
from messenger.contact_names import shown_name
from messenger.models import Contact, Conversation

# name → what it is (shown beside the form).
VARIABLES: dict[str, Any] = {
    "contact.first_name": gettext_lazy("The customer's first name"),
    "contact.name": gettext_lazy("The customer's full name"),
    "agent.name": gettext_lazy("Your name (the agent who sends it)"),
    "channel.name": gettext_lazy("The name of the conversation's channel"),
    "ticket.number": gettext_lazy("The number of the conversation's open ticket (empty when there is none)"),
}

_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


class UnknownVariable(InvalidInput):
    """A text naming a variable that does not exist, or with a brace pair left open."""

    code = "unknown_variable"


def variables_used(text: str) -> list[str]:
    """The names written between double braces, in order (known or not)."""
    return [found.group(1) for found in _VARIABLE.finditer(text)]


def variables_check(text: str, *, field: str = "body") -> None:
    """Refuse (``UnknownVariable``) a text with an unknown variable or unmatched ``{{``/``}}``."""
    for name in variables_used(text):
        if name not in VARIABLES:
            message = _("Unknown variable {{%(name)s}}: use one of %(known)s.") % {
                "name": name,
                "known": ", ".join(f"{{{{{known}}}}}" for known in VARIABLES),
            }
            raise UnknownVariable(message, details={field: [message], "variable": name})
    rest = _VARIABLE.sub("", text)
    if "{{" in rest or "}}" in rest:
        message = _("A variable is written {{name}}: a double brace is left open or unmatched.")
        raise UnknownVariable(message, details={field: [message], "variable": None})


def _real_name(contact: Contact) -> str:
    """The contact's display name when Facebook gave one (a placeholder is not a name)."""
    name = contact.display_name.strip()
    if not name or shown_name(name) != name:
        return ""
    return name


def customer_fallback(language: str) -> str:
    """What stands for a customer whose name we do not know ("Hello there" / "お客様")."""
    with translation.override(language):
        return pgettext("a customer whose name is unknown", "there")


def contact_first_name(contact: Contact, language: str) -> str:
    if contact.first_name.strip():
        return contact.first_name.strip()
    if contact.last_name.strip():
        return contact.last_name.strip()
    name = _real_name(contact)
    return name.split()[0] if name else customer_fallback(language)


def contact_full_name(contact: Contact, language: str) -> str:
    if contact.first_name.strip() or contact.last_name.strip():
        return person_name(contact.first_name, contact.last_name, language=language)
    return _real_name(contact) or customer_fallback(language)


def agent_name(agent: Any, language: str) -> str:
    if agent is None:
        return ""
    return person_name(agent.first_name, agent.last_name, language=language) or agent.get_username()


def render(
    text: str,
    conversation: Conversation,
    agent: Any,
    *,
    language: str = "en",
    ticket_number: int | None = None,
) -> str:
    """The text with its variables filled in for this conversation and agent, in ``language``
    (the language of the body: it decides the name order and the fallback for a customer
    without a name). ``ticket_number``: the conversation's active ticket, if any (the caller,
    a higher layer, reads it). An unknown variable is left as written (saved texts were checked).
    """
    contact = conversation.contact
    values = {
        "contact.first_name": lambda: contact_first_name(contact, language),
        "contact.name": lambda: contact_full_name(contact, language),
        "agent.name": lambda: agent_name(agent, language),
        "channel.name": lambda: conversation.channel.name,
        "ticket.number": lambda: str(ticket_number) if ticket_number is not None else "",
    }

    def fill(found: re.Match[str]) -> str:
        value = values.get(found.group(1))
        return value() if value is not None else found.group(0)

    return _VARIABLE.sub(fill, text)
