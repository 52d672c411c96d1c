"""The audit log: who changed what, when and from where, for an organization's admins.

Changes to the audited models are recorded by django-auditlog (its signals; the entries are
privacy.AuditEntry, scoped to an organization); what is not a change of one row (a contact's
data exported or erased, Meta's data deletion callback) is written with `audit_event`.
Secrets (token hashes, encrypted page tokens) and noisy bookkeeping fields are never recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auditlog.registry import auditlog
from django.apps import apps
from django.http import HttpRequest, HttpResponse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from privacy.audit_context import current_request
from privacy.models import AuditEntry

# model label → fields never written into the log (secrets first, then bookkeeping).
AUDITED_MODELS: dict[str, list[str]] = {
    "helpdesk.Organization": ["created_at"],
    "helpdesk.Department": [],
    "helpdesk.Membership": ["created_at"],
    "helpdesk.Invitation": ["token_hash", "created_at"],
    "helpdesk.ApiToken": ["key_hash", "last_used_at", "created_at"],
    "channels.Channel": ["created_at", "updated_at"],
    "channels.AgentChannel": [],
    "channels.DepartmentSettings": [],
    "messenger.FacebookPage": [
        "access_token_encrypted",
        "authorized_by_facebook_user",
        "token_checked_at",
        "expiry_warned_for",
        "created_at",
        "updated_at",
    ],
    "sla.SlaPolicy": ["created_at", "updated_at"],
}

# Many-to-many fields whose additions and removals are logged too.
M2M_FIELDS = {"helpdesk.Membership": {"departments"}, "helpdesk.Invitation": {"departments"}}

# What each audited (or event) object is called, in the reader's language.
OBJECT_LABELS = {
    "helpdesk.organization": _("Organization"),
    "helpdesk.department": _("Department"),
    "helpdesk.membership": _("Member"),
    "helpdesk.invitation": _("Invitation"),
    "helpdesk.apitoken": _("API token"),
    "channels.channel": _("Channel"),
    "channels.agentchannel": _("Agent of a channel"),
    "channels.departmentsettings": _("Department settings"),
    "messenger.facebookpage": _("Facebook Page"),
    "messenger.contact": _("Contact"),
    "sla.slapolicy": _("SLA policy"),
    "privacy.datadeletionrequest": _("Data deletion request"),
}

# Events that are not a change of one row: stored as a code, rendered in the reader's language.
EVENT_LABELS = {
    "contact_exported": _("Exported a contact's data"),
    "contact_erased": _("Erased a contact's data"),
    "facebook_data_deleted": _("Facebook data deletion request: page tokens erased"),
}
ACTION_LABELS = {
    AuditEntry.Action.CREATE: _("Created"),
    AuditEntry.Action.UPDATE: _("Changed"),
    AuditEntry.Action.DELETE: _("Deleted"),
    AuditEntry.Action.ACCESS: _("Accessed"),
}


def register_audited_models() -> None:
    for label, excluded in AUDITED_MODELS.items():
        model = apps.get_model(label)
        if not auditlog.contains(model):
            auditlog.register(model, exclude_fields=excluded, m2m_fields=M2M_FIELDS.get(label, set()))


def audit_event(
    *,
    organization_id: int,
    event: str,
    instance: Any,
    detail: dict[str, Any] | None = None,
    actor: Any = None,
    object_repr: str | None = None,
) -> AuditEntry:
    """An entry for an action that is not a change of one row (EVENT_LABELS)."""
    extra: dict[str, Any] = {"organization_id": organization_id, "event": event}
    if object_repr is not None:
        extra["object_repr"] = object_repr
    if actor is not None:
        extra["actor"] = actor
    entry: AuditEntry = AuditEntry.objects.log_create(
        instance, force_log=True, action=AuditEntry.Action.ACCESS, additional_data=detail or {}, **extra
    )
    return entry


def entry_action_label(entry: AuditEntry) -> str:
    if entry.event:
        return str(EVENT_LABELS.get(entry.event, entry.event))
    return str(ACTION_LABELS.get(entry.action, ""))


def entry_object_label(entry: AuditEntry) -> str:
    content_type = entry.content_type
    kind = str(OBJECT_LABELS.get(f"{content_type.app_label}.{content_type.model}", capfirst(content_type.name)))
    return f"{kind}: {entry.object_repr}" if kind else entry.object_repr


class AuditMiddleware:
    """Holds the request for the audit entries written while it is served (the actor is read
    when an entry is written, after DRF authenticated a token)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)
