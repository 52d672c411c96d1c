"""The request an audit entry is written in (who, from which address, which organization),
held for the length of the request by privacy.audit.AuditMiddleware. No model imports here:
the entry's manager (privacy.models) reads it."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest

from helpdesk.throttle import client_address

current_request: ContextVar[HttpRequest | None] = ContextVar("privacy_audit_request", default=None)


def request_actor(request: HttpRequest | None) -> Any:
    # DRF's token authentication sets the user on the Django request too, so that this is
    # the API caller by the time a change is written.
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def request_address(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return client_address(request) or None


def request_organization_id(request: HttpRequest | None) -> int | None:
    organization = getattr(request, "organization", None)
    return getattr(organization, "pk", None)


def organization_id_of(instance: Any) -> int | None:
    """The organization a changed object belongs to: itself, or its `organization`."""
    if instance._meta.label == "helpdesk.Organization":
        return int(instance.pk)
    organization_id = getattr(instance, "organization_id", None)
    return int(organization_id) if organization_id is not None else None
