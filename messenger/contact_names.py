"""The name a contact is shown with.

Facebook's name when it gave one, unless it is a placeholder ("John Doe", "Facebook User"…:
`is_placeholder_name`), which is never shown as a name. Until then (or when it gives none) the webhook stores a
placeholder made from the end of the customer's id ("Messenger customer 0003", in the
language of the moment: messenger.services.contacts.contact_fallback_name); that placeholder,
wherever it was copied (notices, system lines), is shown as a friendlier, translated one in
the reader's language: "Unnamed customer (…0003)".
"""

from __future__ import annotations

import re
from functools import lru_cache

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from helpdesk.names import person_name
from messenger.models import Contact

# What the webhook and the profile fetch store (messenger.services.contacts).
STORED_PLACEHOLDERS = {
    False: gettext_noop("Messenger customer %(suffix)s"),
    True: gettext_noop("Website visitor %(suffix)s"),
}


# Names that stand for nobody: what Facebook and test tools give for a profile without one
# (compared case-insensitively, spaces and dots ignored).
PLACEHOLDER_NAMES = frozenset(
    {
        "johndoe",
        "janedoe",
        "jdoe",
        "facebookuser",
        "messengeruser",
        "user",
        "unknown",
        "unknownuser",
        "anonymous",
        "anonymoususer",
        "noname",
        "none",
        "null",
        "undefined",
        "n/a",
        "na",
        "-",
        "testuser",
        "名無し",
        "匿名",
        "不明",
    }
)


def is_placeholder_name(name: str) -> bool:
    """True for an empty name, a known placeholder, or a name the product stored for an
    unnamed customer (in any language)."""
    squeezed = "".join(ch for ch in name.casefold() if not ch.isspace() and ch not in "._·")
    if not squeezed or squeezed in PLACEHOLDER_NAMES:
        return True
    return any(pattern.match(name.strip()) for pattern, _is_guest in _placeholder_patterns())


def placeholder_suffix(psid: str) -> str:
    """The last four digits of the id (of the id itself when it has no digits)."""
    digits = "".join(ch for ch in psid if ch.isdigit())
    return (digits or psid)[-4:]


def unnamed_contact_name(*, suffix: str, is_guest: bool) -> str:
    """The shown name of a customer without one, in the active language."""
    if is_guest:
        return _("Unnamed website visitor (…%(suffix)s)") % {"suffix": suffix}
    return _("Unnamed customer (…%(suffix)s)") % {"suffix": suffix}


@lru_cache(maxsize=1)
def _placeholder_patterns() -> tuple[tuple[re.Pattern[str], bool], ...]:
    """Every stored placeholder and every shown name of an unnamed customer, in every language."""
    patterns = []
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            for is_guest, stored in STORED_PLACEHOLDERS.items():
                for template in (_(stored), unnamed_contact_name(suffix="\x00", is_guest=is_guest)):
                    literal = template.replace("%(suffix)s", "\x00")
                    regex = re.escape(literal).replace("\x00", r"(?P<suffix>\S{1,4})")
                    patterns.append((re.compile(f"^{regex}$"), is_guest))
    return tuple(patterns)


def shown_name(name: str) -> str:
    """A stored name as the reader sees it: a placeholder (of any language) becomes the
    friendly one in the active language; any other name is shown as it is."""
    for pattern, is_guest in _placeholder_patterns():
        found = pattern.match(name)
        if found:
            return unnamed_contact_name(suffix=found["suffix"], is_guest=is_guest)
    if name and is_placeholder_name(name):
        return _("Unnamed customer")
    return name


def contact_name(contact: Contact) -> str:
    """The name a contact is shown with, in the active language (and its name order)."""
    if (contact.first_name or contact.last_name) and not is_placeholder_name(
        f"{contact.first_name} {contact.last_name}"
    ):
        return person_name(contact.first_name, contact.last_name)
    if is_placeholder_name(contact.display_name):
        return unnamed_contact_name(suffix=placeholder_suffix(contact.psid), is_guest=contact.is_guest)
    return contact.display_name
