"""The audit log's entries (django-auditlog's log entry, scoped to an organization) and the
data deletion requests Meta sends for people who used Facebook Login with the app."""

from __future__ import annotations

import secrets
from typing import Any

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Organization
from privacy.audit_context import (
    current_request,
    organization_id_of,
    request_actor,
    request_address,
    request_organization_id,
)


class AuditEntryManager(LogEntryManager):
    """django-auditlog's manager, filling in what its middleware would and the organization."""

    def log_create(self, instance: Any, force_log: bool = False, **kwargs: Any) -> Any:
        self._fill(instance, kwargs)
        return super().log_create(instance, force_log=force_log, **kwargs)

    def log_m2m_changes(
        self, changed_queryset: Any, instance: Any, operation: Any, field_name: Any, **kwargs: Any
    ) -> Any:
        self._fill(instance, kwargs)
        return super().log_m2m_changes(changed_queryset, instance, operation, field_name, **kwargs)

    @staticmethod
    def _fill(instance: Any, kwargs: dict[str, Any]) -> None:
        request = current_request.get()
        if "organization_id" not in kwargs and "organization" not in kwargs:
            kwargs["organization_id"] = organization_id_of(instance) or request_organization_id(request)
        actor = request_actor(request)
        if actor is not None and "actor" not in kwargs:
            kwargs["actor"] = actor
            kwargs.setdefault("actor_email", getattr(actor, "email", None) or None)
        if request is not None:
            kwargs.setdefault("remote_addr", request_address(request))


class AuditEntry(AbstractLogEntry):
    """One change an admin may look back on: django-auditlog's entry with the organization it
    belongs to (settings.AUDITLOG_LOGENTRY_MODEL). Entries without one (a change nobody of an
    organization made to nothing of an organization) are never shown."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    # What happened when it is more than a create/update/delete ("contact_exported", …):
    # stored as a code, rendered in the reader's language (privacy.audit.EVENT_LABELS).
    event = models.CharField(max_length=40, blank=True)

    objects = AuditEntryManager()

    class Meta(AbstractLogEntry.Meta):
        indexes = [models.Index(fields=["organization", "-timestamp"], name="audit_entry_org_time_idx")]


class DeletionState(models.TextChoices):
    COMPLETED = "completed", _("Completed")


class DataDeletionRequest(models.Model):
    """One data deletion callback from Meta. Nothing here names the person: the Facebook user
    id is kept only as a keyed hash, so that a second request for the same person is recognised."""

    confirmation_code = models.CharField(max_length=64, unique=True)
    user_hash = models.CharField(max_length=64, db_index=True)
    state = models.CharField(max_length=20, choices=DeletionState.choices, default=DeletionState.COMPLETED)
    pages_flagged = models.PositiveIntegerField(default=0)
    tokens_erased = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.confirmation_code

    @staticmethod
    def new_confirmation_code() -> str:
        return secrets.token_urlsafe(24)
