"""Reads of the contacts pages and API. Who sees a contact is messenger's rule (one of their
conversations is visible to the member:
messenger.selectors.visibility.contact_visible_filter); every read here goes through it, and
a person's other contacts, conversations and tickets are shown only as far as the member sees
them."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from contacts.models import ContactNote, PersonContact
from helpdesk.converters import parse_id, search_term
from helpdesk.exceptions import NotFound
from helpdesk.models import Membership, Organization
from messenger.models import Contact, Conversation
from messenger.selectors import conversations as conversation_selectors
from messenger.selectors import visibility as visibility_selectors
from tickets import selectors as ticket_selectors
from tickets.models import Ticket

SEARCH_MAX_LENGTH = 100


def contact_list(*, organization: Organization, membership: Membership, query: str = "") -> QuerySet[Contact]:
    """The contacts the member sees, newest first; ``query``: a part of the name (any script)
    or of the customer id (PSID)."""
    contacts = Contact.objects.filter(
        visibility_selectors.contact_visible_filter(organization=organization, membership=membership)
    )
    query = search_term(query, max_length=SEARCH_MAX_LENGTH)
    if query:
        contacts = contacts.filter(
            Q(display_name__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
            | Q(psid__icontains=query)
        )
    return contacts.select_related("page").order_by("-created_at", "-pk")


def contact_get(*, organization: Organization, membership: Membership, contact_id: Any) -> Contact:
    """A contact the member sees, or NotFound (another organization's, or one they do not see)."""
    return visibility_selectors.contact_get(organization=organization, membership=membership, contact_id=contact_id)


def person_id_of(*, organization: Organization, contact: Contact) -> int | None:
    return (
        PersonContact.objects.filter(organization=organization, contact=contact)
        .values_list("person_id", flat=True)
        .first()
    )


def person_contact_list(*, organization: Organization, membership: Membership, contact: Contact) -> list[Contact]:
    """The contact and the other contacts of the same person that the member sees (the
    contact first, then by page)."""
    person_id = person_id_of(organization=organization, contact=contact)
    if person_id is None:
        return [contact]
    others = (
        contact_list(organization=organization, membership=membership)
        .filter(person_link__person_id=person_id)
        .exclude(pk=contact.pk)
        .order_by("page__name", "pk")
    )
    return [contact, *others]


def contact_conversation_list(
    *, organization: Organization, membership: Membership, contacts: list[Contact]
) -> QuerySet[Conversation]:
    """The conversations of these contacts the member sees, newest activity first."""
    return (
        conversation_selectors.conversation_list(organization=organization, membership=membership)
        .filter(contact__in=[contact.pk for contact in contacts])
        .select_related("channel", "page", "assignee")
    )


def contact_ticket_list(
    *, organization: Organization, membership: Membership, contacts: list[Contact]
) -> QuerySet[Ticket]:
    """The tickets of these contacts the member sees, newest first."""
    return ticket_selectors.ticket_list(organization=organization, membership=membership).filter(
        contact__in=[contact.pk for contact in contacts]
    )


def merge_candidate_list(
    *, organization: Organization, membership: Membership, contact: Contact, query: str
) -> list[Contact]:
    """Contacts the member sees that could be merged with this one (not already its person's)."""
    if not query.strip():
        return []
    person_id = person_id_of(organization=organization, contact=contact)
    candidates = contact_list(organization=organization, membership=membership, query=query).exclude(pk=contact.pk)
    if person_id is not None:
        candidates = candidates.exclude(person_link__person_id=person_id)
    return list(candidates[:10])


def note_list(*, organization: Organization, contact: Contact) -> QuerySet[ContactNote]:
    return (
        ContactNote.objects.filter(organization=organization, contact=contact)
        .select_related("author")
        .order_by("-created_at", "-pk")
    )


def note_get(*, organization: Organization, contact: Contact, note_id: Any) -> ContactNote:
    note = note_list(organization=organization, contact=contact).filter(pk=parse_id(note_id)).first()
    if note is None:
        raise NotFound
    return note
