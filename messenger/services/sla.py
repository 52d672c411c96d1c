"""The SLA of conversations, kept by a beat job each minute (the webhook writes none of it).

The response target of a conversation runs while its customer waits for an answer
(`Conversation.waiting_since` is set) and stops when an agent answers: the pause rule is
"the clock runs only while the customer waits for us". The wait's first message starts it;
the first response target applies until an agent first answered (`first_answered_at`), the
next response target afterwards. A closed conversation has no running target.

Three set-based, batched steps (`select_for_update(skip_locked=True)`), each leaving the rows
it wrote outside its own condition, so that a second run changes nothing:

1. **Time**: a wait not yet timed (`sla_started_at` differs from `waiting_since`) gets the
   due and at-risk times of its policy (sla.selectors.PolicyBook); an answered or closed one
   loses them. A policy changed later applies to waits that start afterwards.
2. **Warn**: a wait past its at-risk time and not yet due tells the assignee, or the
   department's admins when nobody holds it (sla.services.sla_alerts_send), once.
3. **Breach**: a wait past its due time is marked (`sla_breached_at`: when it fell due) and
   the same people told, unless it fell due over `BREACH_NOTICE_WINDOW` ago (a backlog timed
   late, such as the first run after a policy is added: marked, nobody flooded).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Model, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from helpdesk import signals
from helpdesk.models import Notification, Organization
from messenger import notification_texts
from messenger.models import Conversation, ConversationState
from sla.selectors import policy_book
from sla.services import SlaAlert, sla_alerts_send

BATCH = 500
BREACH_NOTICE_WINDOW = timedelta(hours=1)
# What timing a wait reads (model instances of only these: a batch builds 500 of them).
TIMING_FIELDS = ("organization_id", "department_id", "channel_id", "state", "waiting_since", "first_answered_at")
SLA_FIELDS = ("sla_started_at", "sla_warn_at", "sla_due_at", "sla_warned_at", "sla_breached_at")


@dataclass(frozen=True)
class SweepResult:
    timed: int
    warned: int
    breached: int


def _untimed() -> Q:
    """Rows whose kept times do not belong to their current wait."""
    both = Q(waiting_since__isnull=False, sla_started_at__isnull=False)
    return Q(state=ConversationState.OPEN) & (
        Q(waiting_since__isnull=False, sla_started_at__isnull=True)
        | Q(waiting_since__isnull=True, sla_started_at__isnull=False)
        | (both & (Q(waiting_since__lt=F("sla_started_at")) | Q(waiting_since__gt=F("sla_started_at"))))
    ) | Q(state=ConversationState.CLOSED, sla_started_at__isnull=False)


def _running() -> Q:
    """Open waits whose kept times are their own."""
    return Q(state=ConversationState.OPEN, waiting_since__isnull=False, sla_started_at=F("waiting_since"))


def _locked(rows: QuerySet[Conversation], *, after: int) -> list[Conversation]:
    """The next batch by id (a keyset: a run reads each row once, whatever it wrote before)."""
    return list(rows.filter(pk__gt=after).select_for_update(skip_locked=True, of=("self",)).order_by("pk")[:BATCH])


def _repeat(step: Callable[[datetime, int], tuple[int, int]], now: datetime) -> int:
    total, after = 0, 0
    while True:
        count, after = step(now, after)
        total += count
        if count < BATCH:
            return total


def conversations_sla_sweep(*, now: datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    return SweepResult(
        timed=_repeat(_time_batch, now), warned=_repeat(_warn_batch, now), breached=_repeat(_breach_batch, now)
    )


@transaction.atomic
def _time_batch(now: datetime, after: int) -> tuple[int, int]:
    rows = _locked(Conversation.objects.filter(_untimed()).only(*TIMING_FIELDS), after=after)
    if not rows:
        return 0, after
    book = policy_book(organizations=Organization.objects.filter(pk__in={row.organization_id for row in rows}))
    for row in rows:
        row.sla_warned_at = row.sla_breached_at = None
        if row.state != ConversationState.OPEN or row.waiting_since is None:
            row.sla_started_at = row.sla_warn_at = row.sla_due_at = None
            continue
        times = book.times(
            department_id=row.department_id, channel_id=row.channel_id, target=row.sla_target, start=row.waiting_since
        )
        row.sla_started_at, row.sla_warn_at, row.sla_due_at = row.waiting_since, times.warn_at, times.due_at
    sla_times_write(Conversation, rows)
    return len(rows), rows[-1].pk


def sla_times_write(model: type[Model], rows: Sequence[Any]) -> None:
    """A batch's kept times (started, at risk, due; warned and breached cleared) in one
    statement. On PostgreSQL an UPDATE from a VALUES list: Django's bulk_update builds a CASE
    per field and row, which costs ~4 ms a row to build and plan. The values are the same
    either way (worked out by the caller); only the statement differs. Tickets use it too."""
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(rows, SLA_FIELDS)
        return
    table = connection.ops.quote_name(model._meta.db_table)
    values = ", ".join(["(%s::bigint, %s::timestamptz, %s::timestamptz, %s::timestamptz)"] * len(rows))
    parameters: list[Any] = []
    for row in rows:
        parameters += [row.pk, row.sla_started_at, row.sla_warn_at, row.sla_due_at]
    # The table's name is the model's and every value a parameter.
    statement = (
        f"UPDATE {table} AS timed SET sla_started_at = kept.started_at, sla_warn_at = kept.warn_at, "  # noqa: S608
        "sla_due_at = kept.due_at, sla_warned_at = NULL, sla_breached_at = NULL "
        f"FROM (VALUES {values}) AS kept (id, started_at, warn_at, due_at) WHERE timed.id = kept.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, parameters)


def sla_breaches_mark(rows: QuerySet[Any], *, now: datetime) -> None:
    """Mark these rows breached when they fell due, and warned (now) unless they were: one
    UPDATE from the rows' own columns (bulk_update's CASE per row costs ~1 ms a row)."""
    rows.update(sla_breached_at=F("sla_due_at"), sla_warned_at=Coalesce(F("sla_warned_at"), Value(now)))


def _alert(row: Conversation, *, kind: str) -> SlaAlert:
    assert row.sla_due_at is not None and row.sla_started_at is not None
    return SlaAlert(
        kind=kind,
        target=row.sla_target,
        department_id=row.department_id,
        assignee_id=row.assignee_id,
        params=notification_texts.sla_params(contact=row.contact, due_at=row.sla_due_at),
        url=reverse("messenger:conversation", kwargs={"org_slug": row.organization.slug, "conversation_id": row.pk}),
        subject_key=f"conversation:{row.pk}:{row.sla_started_at.isoformat()}",
    )


def _send(alerts: list[tuple[Organization, SlaAlert]]) -> None:
    by_organization: dict[int, list[SlaAlert]] = defaultdict(list)
    organizations: dict[int, Organization] = {}
    for organization, alert in alerts:
        by_organization[organization.pk].append(alert)
        organizations[organization.pk] = organization
    for organization_id, organization_alerts in by_organization.items():
        sla_alerts_send(organization=organizations[organization_id], alerts=organization_alerts)


@transaction.atomic
def _warn_batch(now: datetime, after: int) -> tuple[int, int]:
    rows = _locked(
        Conversation.objects.filter(
            _running(), sla_warned_at__isnull=True, sla_warn_at__lte=now, sla_due_at__gt=now
        ).select_related("organization", "contact"),
        after=after,
    )
    if not rows:
        return 0, after
    Conversation.objects.filter(pk__in=[row.pk for row in rows]).update(sla_warned_at=now)
    _send([(row.organization, _alert(row, kind=Notification.Kind.SLA_AT_RISK)) for row in rows])
    return len(rows), rows[-1].pk


@transaction.atomic
def _breach_batch(now: datetime, after: int) -> tuple[int, int]:
    rows = _locked(
        Conversation.objects.filter(_running(), sla_breached_at__isnull=True, sla_due_at__lte=now).select_related(
            "organization", "contact"
        ),
        after=after,
    )
    if not rows:
        return 0, after
    # One UPDATE from the rows' own columns (bulk_update's CASE per row costs ~1 ms a row).
    sla_breaches_mark(Conversation.objects.filter(pk__in=[row.pk for row in rows]), now=now)
    by_organization: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    for row in rows:
        by_organization[row.organization_id].append((row.pk, row.pk))
    for organization_id, subjects in by_organization.items():
        signals.domain_events_send(
            organization_id=organization_id, type=signals.SLA_BREACHED, resource=signals.CONVERSATION, subjects=subjects
        )
    _send(
        [
            (row.organization, _alert(row, kind=Notification.Kind.SLA_BREACHED))
            for row in rows
            if row.sla_due_at is not None and row.sla_due_at > now - BREACH_NOTICE_WINDOW
        ]
    )
    return len(rows), rows[-1].pk
