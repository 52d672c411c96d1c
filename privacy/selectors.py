"""Reads of the audit log: an organization's entries only, searched and filtered."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet

from helpdesk.datetimes import zone
from helpdesk.models import Organization
from privacy.audit import EVENT_LABELS
from privacy.models import AuditEntry


def audit_entries(
    *, organization: Organization, query: str = "", date_from: date | None = None, date_to: date | None = None
) -> QuerySet[AuditEntry]:
    """The organization's entries, newest first: `query` matches the actor (email or name),
    the action, the object and the changed values; dates are the organization's days."""
    entries = AuditEntry.objects.filter(organization=organization).select_related("actor", "content_type")
    query = query.strip()[:200]
    if query:
        matches = (
            Q(object_repr__icontains=query)
            | Q(actor_email__icontains=query)
            | Q(actor__first_name__icontains=query)
            | Q(actor__last_name__icontains=query)
            | Q(actor__username__icontains=query)
            | Q(changes__icontains=query)
            | Q(content_type__model__icontains=query)
            | Q(event__icontains=query)
            | Q(remote_addr__startswith=query)
        )
        events = [code for code, label in EVENT_LABELS.items() if query.lower() in str(label).lower()]
        if events:
            matches |= Q(event__in=events)
        entries = entries.filter(matches)
    organization_zone = zone(organization.time_zone)
    if date_from is not None:
        entries = entries.filter(timestamp__gte=datetime.combine(date_from, time.min, tzinfo=organization_zone))
    if date_to is not None:
        entries = entries.filter(
            timestamp__lt=datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=organization_zone)
        )
    return entries.order_by("-timestamp", "-pk")
