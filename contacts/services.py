"""Writes of the contacts: notes (their author changes or deletes them) and merging contacts
of the same person across pages (a member who sees both; unmerging takes one out again)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from contacts.models import NOTE_MAX_LENGTH, ContactNote, Person, PersonContact
from helpdesk.exceptions import InvalidInput, PermissionDenied
from helpdesk.models import Membership, Organization
from messenger.models import Contact
from messenger.selectors.visibility import contact_visible_filter


class InvalidMerge(InvalidInput):
    code = "invalid_merge"
    default_message = _("A contact cannot be merged with itself.")


class NotMerged(InvalidInput):
    code = "not_merged"
    default_message = _("This contact is not merged with another.")


class InvalidNote(InvalidInput):
    code = "invalid_note"
    default_message = _("Write a note of at most 5,000 characters.")


class NotNoteAuthor(PermissionDenied):
    code = "not_note_author"
    default_message = _("Only the author of a note may change or delete it.")


def _note_text(text: Any) -> str:
    # PostgreSQL text cannot hold a NUL character; a form post can.
    text = str(text or "").replace("\x00", "").strip()
    if not text or len(text) > NOTE_MAX_LENGTH:
        raise InvalidNote
    return text


def contact_note_create(*, organization: Organization, acting_user: Any, contact: Contact, text: Any) -> ContactNote:
    return ContactNote.objects.create(
        organization=organization, contact=contact, author=acting_user, text=_note_text(text)
    )


def contact_note_update(*, organization: Organization, acting_user: Any, note: ContactNote, text: Any) -> ContactNote:
    if note.organization_id != organization.pk or note.author_id != acting_user.pk:
        raise NotNoteAuthor
    note.text = _note_text(text)
    note.save(update_fields=["text", "updated_at"])
    return note


def contact_note_delete(*, organization: Organization, acting_user: Any, note: ContactNote) -> None:
    if note.organization_id != organization.pk or note.author_id != acting_user.pk:
        raise NotNoteAuthor
    note.delete()


class MergeNeedsAdmin(PermissionDenied):
    code = "merge_needs_admin"
    default_message = _("These people have contacts on pages you do not see: an admin can merge them.")


@transaction.atomic
def contacts_merge(
    *, organization: Organization, membership: Membership, acting_user: Any, contact: Contact, other: Contact
) -> Person:
    """Put two contacts in the same person: a new one, the one either is in, or (both in
    persons already) one person holding all of both. The caller got both contacts through
    the visibility selectors: the member sees both."""
    if contact.pk == other.pk:
        raise InvalidMerge
    if contact.organization_id != organization.pk or other.organization_id != organization.pk:
        raise InvalidMerge
    links = {
        link.contact_id: link
        for link in PersonContact.objects.select_for_update().filter(
            organization=organization, contact__in=[contact.pk, other.pk]
        )
    }
    mine, theirs = links.get(contact.pk), links.get(other.pk)
    if mine and theirs:
        if mine.person_id != theirs.person_id:
            old_person_id = theirs.person_id
            # Joining two people moves all their contacts: an agent moves only contacts they see.
            if not membership.is_admin:
                grouped = Contact.objects.filter(
                    pk__in=PersonContact.objects.filter(
                        organization=organization, person_id__in=[mine.person_id, old_person_id]
                    ).values("contact_id")
                )
                hidden = grouped.exclude(contact_visible_filter(organization=organization, membership=membership))
                if hidden.exists():
                    raise MergeNeedsAdmin
            PersonContact.objects.filter(organization=organization, person_id=old_person_id).update(
                person_id=mine.person_id
            )
            Person.objects.filter(organization=organization, pk=old_person_id).delete()
        return Person.objects.get(organization=organization, pk=mine.person_id)
    if mine or theirs:
        person_id = (mine or theirs).person_id  # type: ignore[union-attr]
        joining = other if mine else contact
        PersonContact.objects.create(
            organization=organization, person_id=person_id, contact=joining, merged_by=acting_user
        )
        return Person.objects.get(organization=organization, pk=person_id)
    person = Person.objects.create(organization=organization)
    PersonContact.objects.bulk_create(
        [
            PersonContact(organization=organization, person=person, contact=contact, merged_by=acting_user),
            PersonContact(organization=organization, person=person, contact=other, merged_by=acting_user),
        ]
    )
    return person


@transaction.atomic
def contact_unmerge(*, organization: Organization, membership: Membership, acting_user: Any, contact: Contact) -> None:
    """Take the contact out of its person; a person left with one contact is dissolved."""
    link = PersonContact.objects.select_for_update().filter(organization=organization, contact=contact).first()
    if link is None:
        raise NotMerged
    person_id = link.person_id
    link.delete()
    remaining = PersonContact.objects.filter(organization=organization, person_id=person_id)
    if remaining.count() < 2:
        remaining.delete()
        Person.objects.filter(organization=organization, pk=person_id).delete()
