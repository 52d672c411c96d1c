"""The audit log: who changed what, when and from where, for an organization's admins.

Changes to the audited models are recorded by django-auditlog (its signals; the entries are
privacy.AuditEntry, scoped to an organization); what is not a change of one row (a contact's
data exported or erased, Meta's data deletion callback) is written with `audit_event`.
Secrets (token hashes, encrypted page tokens) and noisy bookkeeping fields are never recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from auditlog.registry import auditlog
from django.apps import apps
from django.http import HttpRequest, HttpResponse
from django.utils.text import capfirst
from django.utils.translation import gettext, pgettext_lazy
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
# A context of their own: "Created" elsewhere is a column of dates (作成日時), here an act (作成).
ACTION_LABELS = {
    AuditEntry.Action.CREATE: pgettext_lazy("audit action", "Created"),
    AuditEntry.Action.UPDATE: pgettext_lazy("audit action", "Changed"),
    AuditEntry.Action.DELETE: pgettext_lazy("audit action", "Deleted"),
    AuditEntry.Action.ACCESS: pgettext_lazy("audit action", "Accessed"),
}


def register_audited_models() -> None:
    for label, excluded in AUDITED_MODELS.items():
        model = apps.get_model(label)
        if not auditlog.contains(model):
            # The model's own columns only: on creation django-auditlog would otherwise also
            # write each reverse relation ("contacts: None → messenger.Contact.None").
            recorded = [field.name for field in model._meta.concrete_fields if field.name not in excluded]
            auditlog.register(
                model, include_fields=recorded, exclude_fields=excluded, m2m_fields=M2M_FIELDS.get(label, set())
            )


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


# Every entry of the log is of the reader's organization: its id says nothing.
_NOT_SHOWN = frozenset({"organization"})


@dataclass(frozen=True, slots=True)
class ChangeLine:
    """One changed field of an entry as the log shows it."""

    field: str
    text: str


def entry_change_lines(entry: AuditEntry) -> list[ChangeLine]:
    """The entry's fields in the reader's language: a made object's values, a deleted object's
    last values, a change's old → new, a many-to-many field's added or removed objects. Fields
    the model does not have (the reverse relations older entries recorded) are left out."""
    changes = entry.changes if isinstance(entry.changes, dict) else {}
    model = entry.content_type.model_class()
    known = None
    if model is not None:
        known = {field.name for field in model._meta.concrete_fields} | {
            field.name for field in model._meta.many_to_many
        }
    lines = []
    for field, change in changes.items():
        if field in _NOT_SHOWN or (known is not None and field not in known):
            continue
        if isinstance(change, dict) and change.get("type") == "m2m":
            names = ", ".join(str(name) for name in change.get("objects", []))
            if change.get("operation") == "delete":
                text = gettext("removed %(names)s") % {"names": names}
            else:
                text = gettext("added %(names)s") % {"names": names}
            lines.append(ChangeLine(field, text))
            continue
        if not isinstance(change, list | tuple) or len(change) != 2:
            continue
        old, new = (_shown(value) for value in change)
        if entry.action == AuditEntry.Action.CREATE:
            if new:
                lines.append(ChangeLine(field, new))
        elif entry.action == AuditEntry.Action.DELETE:
            if old:
                lines.append(ChangeLine(field, old))
        else:
            lines.append(ChangeLine(field, f"{old or '—'} → {new or '—'}"))
    return lines


def _shown(value: Any) -> str:
    """A recorded value as text; nothing for an empty one (django-auditlog writes None as "None")."""
    if value is None or value in ("None", ""):
        return ""
    return str(value)


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
