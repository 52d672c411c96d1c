"""Canned responses: replies an agent inserts in the composer by their shortcut (``/refund``),
shared by the organization or a department, or an agent's own; each in English, Japanese or
both, with variables filled in when inserted (canned.variables) and files sent with it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Department, Membership, Organization
from messenger.models import Conversation

SHORTCUT_MAX_LENGTH = 40
TITLE_MAX_LENGTH = 100


class CannedScope(models.TextChoices):
    ORGANIZATION = "organization", _("Whole organization")
    DEPARTMENT = "department", _("One department")
    PERSONAL = "personal", _("Only me")


class CannedResponse(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    scope = models.CharField(_("shared with"), max_length=12, choices=CannedScope.choices)
    # Set for a department's (scope department), empty otherwise.
    department = models.ForeignKey(
        Department, on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False
    )
    # Set for an agent's own (scope personal), empty otherwise.
    owner = models.ForeignKey(
        Membership, on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False
    )
    shortcut = models.CharField(_("shortcut"), max_length=SHORTCUT_MAX_LENGTH)
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)
    # One language or both; at least one is written (canned.services).
    body_en = models.TextField(_("text in English"), blank=True)
    body_ja = models.TextField(_("text in Japanese"), blank=True)
    # Lower-cased shortcut, title and bodies: what the composer's search reads (a trigram
    # index on PostgreSQL).
    search_text = models.TextField(blank=True, editable=False)
    usage_count = models.PositiveIntegerField(default=0)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One shortcut per scope (409 shortcut_taken): the organization's, each department's,
            # each member's own.
            models.UniqueConstraint(
                models.F("organization"),
                Lower("shortcut"),
                condition=models.Q(scope="organization"),
                name="canned_shortcut_organization",
            ),
            models.UniqueConstraint(
                models.F("organization"),
                models.F("department"),
                Lower("shortcut"),
                condition=models.Q(scope="department"),
                name="canned_shortcut_department",
            ),
            models.UniqueConstraint(
                models.F("organization"),
                models.F("owner"),
                Lower("shortcut"),
                condition=models.Q(scope="personal"),
                name="canned_shortcut_personal",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "scope"], name="canned_org_scope"),
            # The composer's "/" before a letter is typed: the most used first, read in order.
            models.Index(fields=["organization", "-usage_count", "title", "id"], name="canned_org_most_used"),
        ]

    def __str__(self) -> str:
        return self.shortcut


class CannedAttachment(models.Model):
    """A file kept with a canned response; sent as its own message when the response is used,
    from a copy of the file (messenger.services.sending.kept_files)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    canned_response = models.ForeignKey(CannedResponse, on_delete=models.CASCADE, related_name="attachments")
    stored_name = models.CharField(max_length=300)
    title = models.CharField(max_length=255)
    size = models.PositiveIntegerField()
    content_type = models.CharField(max_length=100)
    type = models.CharField(max_length=10)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title


class CannedResponseUse(models.Model):
    """One insertion of a canned response in a composer (for the reports)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    canned_response = models.ForeignKey(
        CannedResponse, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False
    )
    conversation = models.ForeignKey(
        Conversation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    used_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "used_at"], name="canned_use_org_time")]

    def __str__(self) -> str:
        return f"{self.canned_response_id} at {self.used_at}"
