"""The SLA of tickets: their resolution target, kept by a beat job each minute.

The resolution target runs from the ticket's creation, in its policy's clock, while the
ticket is open or pending (it does not pause while pending: the customer's turn is part of
resolving), and stops once it is resolved or closed. A ticket is timed once, by the first
sweep after it was made (a reopened ticket keeps its first due time). Warnings and breaches
as for conversations (messenger.services.sla, whose steps these mirror): once each, set-based
and batched, a second run changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from helpdesk import signals
from helpdesk.models import Notification, Organization
from messenger import notification_texts
from messenger.services.sla import BATCH, BREACH_NOTICE_WINDOW, SweepResult, sla_breaches_mark, sla_times_write
from sla.models import SlaTarget
from sla.selectors import policy_book
from sla.services import SlaAlert, sla_alerts_send
from tickets.models import ACTIVE_STATES, Ticket

ACTIVE = sorted(ACTIVE_STATES)


def _locked(rows: QuerySet[Ticket]) -> list[Ticket]:
    return list(rows.select_for_update(skip_locked=True, of=("self",)).order_by("pk")[:BATCH])


def tickets_sla_sweep(*, now: datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    totals = []
    for step in (_time_batch, _warn_batch, _breach_batch):
        total = 0
        while True:
            count = step(now)
            total += count
            if count < BATCH:
                break
        totals.append(total)
    return SweepResult(timed=totals[0], warned=totals[1], breached=totals[2])


@transaction.atomic
def _time_batch(now: datetime) -> int:
    rows = _locked(Ticket.objects.filter(sla_started_at__isnull=True, state__in=ACTIVE).select_related("organization"))
    if not rows:
        return 0
    book = policy_book(organizations={row.organization_id: row.organization for row in rows}.values())
    for row in rows:
        times = book.times(
            department_id=row.department_id,
            channel_id=row.channel_id,
            target=SlaTarget.RESOLUTION,
            start=row.created_at,
        )
        row.sla_started_at, row.sla_warn_at, row.sla_due_at = row.created_at, times.warn_at, times.due_at
    sla_times_write(Ticket, rows)
    return len(rows)


def _alert(row: Ticket, *, kind: str) -> SlaAlert:
    assert row.sla_due_at is not None
    return SlaAlert(
        kind=kind,
        target=SlaTarget.RESOLUTION,
        department_id=row.department_id,
        assignee_id=row.assignee_id,
        params=notification_texts.sla_params(contact=row.contact, due_at=row.sla_due_at, ticket_id=row.pk),
        url=reverse("tickets:ticket_detail", kwargs={"org_slug": row.organization.slug, "ticket_id": row.pk}),
        subject_key=f"ticket:{row.pk}",
    )


def _send(rows: list[Ticket], *, kind: str) -> None:
    by_organization: dict[int, list[SlaAlert]] = defaultdict(list)
    organizations: dict[int, Organization] = {}
    for row in rows:
        by_organization[row.organization_id].append(_alert(row, kind=kind))
        organizations[row.organization_id] = row.organization
    for organization_id, alerts in by_organization.items():
        sla_alerts_send(organization=organizations[organization_id], alerts=alerts)


@transaction.atomic
def _warn_batch(now: datetime) -> int:
    rows = _locked(
        Ticket.objects.filter(
            state__in=ACTIVE,
            sla_breached_at__isnull=True,
            sla_warned_at__isnull=True,
            sla_warn_at__lte=now,
            sla_due_at__gt=now,
        ).select_related("organization", "contact")
    )
    if not rows:
        return 0
    Ticket.objects.filter(pk__in=[row.pk for row in rows]).update(sla_warned_at=now)
    _send(rows, kind=Notification.Kind.SLA_AT_RISK)
    return len(rows)


@transaction.atomic
def _breach_batch(now: datetime) -> int:
    rows = _locked(
        Ticket.objects.filter(state__in=ACTIVE, sla_breached_at__isnull=True, sla_due_at__lte=now).select_related(
            "organization", "contact"
        )
    )
    if not rows:
        return 0
    sla_breaches_mark(Ticket.objects.filter(pk__in=[row.pk for row in rows]), now=now)
    signals.domain_events_send_each(
        type=signals.SLA_BREACHED,
        resource=signals.TICKET,
        rows=((row.organization_id, row.pk, row.conversation_id) for row in rows),
    )
    _send(
        [row for row in rows if row.sla_due_at is not None and row.sla_due_at > now - BREACH_NOTICE_WINDOW],
        kind=Notification.Kind.SLA_BREACHED,
    )
    return len(rows)
