"""Contacts as people: one person may write to several pages of the organization (one
messenger.Contact per page), notes about a contact, and the grouping of a person's contacts.

messenger.Contact itself is not changed here: a person is a group of contacts beside it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from helpdesk.models import Organization
from messenger.models import Contact

NOTE_MAX_LENGTH = 5000


class Person(models.Model):
    """The same customer across pages: the contacts merged into one group."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"person {self.pk}"


class PersonContact(models.Model):
    """One contact's place in a person (a contact belongs to at most one)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="links")
    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, related_name="person_link")
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    merged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "person"], name="person_contact_org_idx")]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.person_id}"


class ContactNote(models.Model):
    """What a member wrote about a contact (seen by whoever sees the contact; changed by its author)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+", db_index=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.TextField(max_length=NOTE_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "contact", "-created_at"], name="contact_note_list_idx")]

    def __str__(self) -> str:
        return self.text[:50]
