"""The audit log: who changed what, when and from where, for an organization's admins.

Changes to the audited models are recorded by django-auditlog (its signals; the entries are
privacy.AuditEntry, scoped to an organization); rows changed by a statement, which it does not
see (the pages' authorization sweeps), are told by helpdesk.signals.rows_changed and written
here, one entry per row in one insert; what is not a change of one row (a contact's data
exported or erased, Meta's data deletion callback) is written with `audit_event`.
Secrets (token hashes, encrypted page tokens) and noisy bookkeeping fields are never recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from auditlog.cid import get_cid
from auditlog.context import auditlog_disabled
from auditlog.registry import auditlog
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import BooleanField, DateTimeField, Field, Model
from django.http import HttpRequest, HttpResponse
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from helpdesk import signals
from helpdesk.datetimes import datetime_text
from helpdesk.models import Membership
from helpdesk.names import user_name
from messenger.models import PageStatusCause, ReauthorizationReason
from privacy.audit_context import current_request, request_actor, request_address
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

# What the log calls a field whose model gives it no translated verbose name (by field name);
# handed to django-auditlog as the models' `mapping_fields` too.
FIELD_LABELS = {
    "accepted_at": _("Accepted at"),
    "accepted_by": _("Accepted by"),
    "authorized_at": _("Authorized at"),
    "channel": _("Channel"),
    "clock": _("Clock"),
    "created_at": _("Created at"),
    "created_by": _("Created by"),
    "declined_at": _("Declined at"),
    "deleted_at": _("Deleted at"),
    "department": _("Department"),
    "departments": _("Departments"),
    "expires_at": _("Expires at"),
    "first_response_minutes": _("First response (minutes)"),
    "invited_by": _("Invited by"),
    "key_prefix": _("Key prefix"),
    "kind": _("Kind"),
    "last_assigned_at": _("Last assigned at"),
    "last_event_at": _("Last event received"),
    "last_sent_at": _("Last message sent"),
    "membership": _("Member"),
    "name": _("Name"),
    "next_response_minutes": _("Next response (minutes)"),
    "page_id": _("Page ID"),
    "reauthorization_reason": _("Re-authorization reason"),
    "resolution_minutes": _("Resolution (minutes)"),
    "resubscribed_at": _("Resubscribed at"),
    "revoked_at": _("Revoked at"),
    "silent_since": _("Silent since"),
    "status": _("Status"),
    "subscription_checked_at": _("Subscription checked at"),
    "subscription_dropped_at": _("Subscription dropped at"),
    "subscription_state": _("Subscription"),
    "token_expires_at": _("Token expires at"),
    "unlinked_at": _("Unlinked at"),
    "user": _("User"),
}

# What an entry's `additional_data` holds: why (rows changed by a statement), an event's counts.
DETAIL_LABELS = {
    "reason": _("Reason"),
    "conversations": _("Conversations"),
    "messages": _("Messages"),
    "tickets": _("Tickets"),
    "files": _("Files"),
    "pages": pgettext_lazy("audit detail", "Pages"),
}
# The reasons' codes, per model (content type "app.model") → their words.
REASON_LABELS: dict[str, dict[str, Any]] = {
    "messenger.facebookpage": {**dict(ReauthorizationReason.choices), **dict(PageStatusCause.choices)},
}


def register_audited_models() -> None:
    for label, excluded in AUDITED_MODELS.items():
        model = apps.get_model(label)
        if not auditlog.contains(model):
            # The model's own columns only: on creation django-auditlog would otherwise also
            # write each reverse relation ("contacts: None → messenger.Contact.None").
            recorded = [field.name for field in model._meta.concrete_fields if field.name not in excluded]
            m2m = M2M_FIELDS.get(label, set())
            auditlog.register(
                model,
                include_fields=recorded,
                exclude_fields=excluded,
                m2m_fields=m2m,
                mapping_fields={
                    name: FIELD_LABELS[name]
                    for name in [*recorded, *m2m]
                    if name in FIELD_LABELS and not isinstance(model._meta.get_field(name).verbose_name, Promise)
                },
            )


def connect_receivers() -> None:
    signals.rows_changed.connect(rows_changed_record, dispatch_uid="privacy.audit.rows_changed")


def rows_changed_record(sender: type[Any], changes: list[signals.RowChange], **kwargs: Any) -> list[AuditEntry]:
    """An update entry for each row a statement changed: its audited fields' old → new values
    (stored as django-auditlog stores them), the reason as `additional_data["reason"]`, the
    actor and address of the request it was made in (none: the system, e.g. a sweep)."""
    if auditlog_disabled.get() or not auditlog.contains(sender):
        return []
    excluded = set(AUDITED_MODELS.get(sender._meta.label, []))
    content_type = ContentType.objects.get_for_model(sender)
    request = current_request.get()
    actor = request_actor(request)
    common: dict[str, Any] = {
        "content_type": content_type,
        "action": AuditEntry.Action.UPDATE,
        "actor": actor,
        "actor_email": (getattr(actor, "email", None) or None) if actor is not None else None,
        "remote_addr": request_address(request),
        "cid": get_cid(),
    }
    entries = []
    for change in changes:
        recorded = {
            field: [_stored(old), _stored(new)] for field, (old, new) in change.changes.items() if field not in excluded
        }
        if not recorded:
            continue
        entries.append(
            AuditEntry(
                organization_id=change.organization_id,
                object_pk=str(change.pk),
                object_id=change.pk,
                object_repr=change.object_repr,
                changes=recorded,
                additional_data={"reason": change.reason} if change.reason else None,
                **common,
            )
        )
    return AuditEntry.objects.bulk_create(entries)


def _stored(value: Any) -> str:
    """A value as django-auditlog writes it into `changes` (None as "None")."""
    return "None" if value is None else str(value)


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


# Every entry of the log is of the reader's organization, and the object column names the
# object: their ids say nothing.
NOT_SHOWN_FIELDS = frozenset({"organization", "id"})


@dataclass(frozen=True, slots=True)
class ChangeLine:
    """One changed field (or detail) of an entry as the log shows it: `field` is its code,
    `label` what the reader calls it."""

    field: str
    label: str
    text: str


# A related object's pk as recorded → its name, per related model.
RelatedNames = dict[tuple[type[Model], str], str]


def entries_change_lines(entries: Sequence[AuditEntry]) -> dict[int, list[ChangeLine]]:
    """`entry_change_lines` of each entry (by pk), the objects its foreign keys point at named
    with one query per related model (and organization) for them all."""
    names = _related_names(entries)
    return {entry.pk: _change_lines(entry, names) for entry in entries}


def entry_change_lines(entry: AuditEntry) -> list[ChangeLine]:
    """The entry's fields in the reader's language, each under its name (the model's verbose
    name, or FIELD_LABELS): a made object's values, a deleted object's last values, a change's
    old → new, a many-to-many field's added or removed objects; a choice as its label, a yes/no
    as words, a time in the reader's time zone, a related object by its name. Fields the model
    does not have (the reverse relations older entries recorded) are left out."""
    return entries_change_lines([entry])[entry.pk]


def _changes(entry: AuditEntry) -> dict[str, Any]:
    return entry.changes if isinstance(entry.changes, dict) else {}


def _shown_fields(model: type[Model] | None) -> dict[str, Field[Any, Any]] | None:
    if model is None:
        return None
    fields = [*model._meta.concrete_fields, *model._meta.many_to_many]
    return {field.name: field for field in fields if field.name not in NOT_SHOWN_FIELDS}


def field_label(model: type[Model], field: Field[Any, Any]) -> str:
    """What the reader calls a field: the model's translated verbose name, else FIELD_LABELS'."""
    if not isinstance(field.verbose_name, Promise) and field.name in FIELD_LABELS:
        return str(FIELD_LABELS[field.name])
    return capfirst(str(field.verbose_name))


def _related_names(entries: Sequence[AuditEntry]) -> RelatedNames:
    wanted: dict[tuple[type[Model], int | None], set[str]] = defaultdict(set)
    for entry in entries:
        fields = _shown_fields(entry.content_type.model_class()) or {}
        for name, change in _changes(entry).items():
            field = fields.get(name)
            if field is None or not field.many_to_one or not isinstance(change, list | tuple):
                continue
            related: type[Model] = field.related_model  # type: ignore[assignment]
            wanted[(related, entry.organization_id)].update(str(value) for value in change if str(value).isdigit())
    names: RelatedNames = {}
    for (related, organization_id), pks in wanted.items():
        objects = related._default_manager.filter(pk__in=sorted(pks))
        if any(field.name == "organization" for field in related._meta.concrete_fields):
            objects = objects.filter(organization_id=organization_id)
        if related is Membership:
            objects = objects.select_related("user")
        for instance in objects:
            names[(related, str(instance.pk))] = _object_name(instance)
    return names


def _object_name(instance: Model) -> str:
    if isinstance(instance, Membership):
        return user_name(instance.user)
    if isinstance(instance, get_user_model()):
        return user_name(instance)
    return str(instance)


def _change_lines(entry: AuditEntry, names: RelatedNames) -> list[ChangeLine]:
    model = entry.content_type.model_class()
    fields = _shown_fields(model)
    lines = []
    for name, change in _changes(entry).items():
        if name in NOT_SHOWN_FIELDS or (fields is not None and name not in fields):
            continue
        field = fields[name] if fields is not None else None
        label = field_label(model, field) if model is not None and field is not None else name
        if isinstance(change, dict) and change.get("type") == "m2m":
            objects = ", ".join(str(item) for item in change.get("objects", []))
            if change.get("operation") == "delete":
                text = gettext("removed %(names)s") % {"names": objects}
            else:
                text = gettext("added %(names)s") % {"names": objects}
            lines.append(ChangeLine(name, label, text))
            continue
        if not isinstance(change, list | tuple) or len(change) != 2:
            continue
        old, new = (_value_text(field, value, names) for value in change)
        if entry.action == AuditEntry.Action.CREATE:
            if new:
                lines.append(ChangeLine(name, label, new))
        elif entry.action == AuditEntry.Action.DELETE:
            if old:
                lines.append(ChangeLine(name, label, old))
        else:
            lines.append(ChangeLine(name, label, f"{old or '—'} → {new or '—'}"))
    return lines


def _value_text(field: Field[Any, Any] | None, value: Any, names: RelatedNames) -> str:
    """A recorded value (django-auditlog writes each as text, None as "None") in the reader's
    words; nothing for an empty one."""
    if value is None or value in ("None", ""):
        return ""
    text = str(value)
    if field is None:
        return text
    if field.choices:
        return str({str(key): label for key, label in field.flatchoices}.get(text, text))
    if field.many_to_one:
        return names.get((field.related_model, text), f"#{text}")  # type: ignore[arg-type]
    if isinstance(field, BooleanField):
        return {"True": gettext("Yes"), "False": gettext("No")}.get(text, text)
    if isinstance(field, DateTimeField):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text
        # django-auditlog records times without their zone, in UTC.
        return datetime_text(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return text


def entry_detail_lines(entry: AuditEntry) -> list[ChangeLine]:
    """What an entry says besides its fields (`additional_data`): why (a reason's code, in the
    reader's words) and an event's counts or names."""
    detail = entry.additional_data if isinstance(entry.additional_data, dict) else {}
    content_type = entry.content_type
    reasons = REASON_LABELS.get(f"{content_type.app_label}.{content_type.model}", {})
    # In DETAIL_LABELS' order (PostgreSQL's jsonb keeps its keys in an order of its own).
    order = list(DETAIL_LABELS)
    lines = []
    for key, value in sorted(detail.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)):
        if key == "reason":
            text = str(reasons.get(str(value), value))
        elif isinstance(value, list | tuple):
            text = ", ".join(str(item) for item in value)
        else:
            text = str(value)
        lines.append(ChangeLine(key, str(DETAIL_LABELS.get(key, key)), text))
    return lines


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
