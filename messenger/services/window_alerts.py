"""The minute's job of the reply windows (messenger.window_alerts says when a window is
"closing" and when it closed): unanswered conversations whose window is about to close are
flagged and their assignee told, or, when nobody holds them, the admins who work in their
department (every active admin when none does); conversations whose 7-day window closed on
an unanswered customer are kept as lost (WindowLoss), for the reports.

Told once per window per customer message: a WindowAlert row (conversation, window, the
customer's message time) is the record, so a new customer message re-arms both alerts, and
an agent's reply (``waiting_since`` cleared) leaves the conversation out. Set-based and
batched: each pass is a range of ``last_inbound_at`` read from the partial index of open,
unanswered conversations, rows are taken with ``select_for_update(skip_locked=True)``, and a
second run finds the records of the first and changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from helpdesk import alerts
from helpdesk.models import Membership, Notification, Organization, Role
from helpdesk.notifications import notification_words, reading_as
from helpdesk.services import Mail, Notice, mails_send_after_commit, notifications_create_many
from messenger import conversation_changes, notification_texts
from messenger.models import Conversation, ConversationState, WindowAlert, WindowLoss
from messenger.reply_window import InboundRange
from messenger.window_alerts import LOST_AFTER, WINDOW_OF_STATE, AlertLeads, closed_until, closing_ranges

BATCH = 200
# Keeping a loss is one row written and nobody told: one INSERT … SELECT per batch.
LOSS_BATCH = 10_000


@dataclass(frozen=True)
class WindowSweep:
    """What one run did: conversations flagged and told of, conversations lost."""

    alerted: int
    lost: int

    @property
    def total(self) -> int:
        return self.alerted + self.lost


def _unanswered() -> QuerySet[Conversation]:
    """Open conversations whose customer waits for an answer (the partial index's rows), in
    live channels, of customers not blocked."""
    return Conversation.objects.filter(
        state=ConversationState.OPEN,
        waiting_since__isnull=False,
        last_inbound_at__isnull=False,
        contact__is_blocked=False,
        channel__deleted_at__isnull=True,
    )


def window_alerts_send(*, now: datetime | None = None) -> WindowSweep:
    """Flag and tell of every window about to close, then keep those closed, in batches."""
    now = now or timezone.now()
    alerted = 0
    # One pass per distinct pair of organization lead times: a handful of values.
    pairs = set(Organization.objects.values_list("response_window_alert_minutes", "human_agent_window_alert_hours"))
    for minutes, hours in sorted(pairs):
        leads = AlertLeads.of(Organization(response_window_alert_minutes=minutes, human_agent_window_alert_hours=hours))
        for window in closing_ranges(leads=leads, now=now):
            after: Keyset = None
            while True:
                count, after = _alert_batch(window=window, minutes=minutes, hours=hours, after=after)
                alerted += count
                if after is None:
                    break
    lost = 0
    after = None
    while True:
        count, after = _lose_batch(now=now, after=after)
        lost += count
        if after is None:
            break
    return WindowSweep(alerted=alerted, lost=lost)


# Where a batch ended: (last_inbound_at, pk) of its last row, None when it was the last. The
# next batch starts after it, so that a run reads each row of its ranges once rather than
# again past every batch already done.
Keyset = tuple[datetime, int] | None


def _after(keyset: Keyset) -> Q:
    if keyset is None:
        return Q()
    inbound_at, pk = keyset
    return Q(last_inbound_at__gt=inbound_at) | Q(last_inbound_at=inbound_at, pk__gt=pk)


def _next(rows: list[tuple[datetime, int]], *, batch: int = BATCH) -> Keyset:
    return rows[-1] if len(rows) == batch else None


@transaction.atomic
def _alert_batch(*, window: InboundRange, minutes: int, hours: int, after: Keyset) -> tuple[int, Keyset]:
    kind = WINDOW_OF_STATE[window.state]
    told = WindowAlert.objects.filter(conversation=OuterRef("pk"), window=kind, inbound_at=OuterRef("last_inbound_at"))
    rows = list(
        _unanswered()
        .filter(
            last_inbound_at__gt=window.since,
            last_inbound_at__lte=window.until,
            organization__response_window_alert_minutes=minutes,
            organization__human_agent_window_alert_hours=hours,
        )
        .filter(_after(after))
        .exclude(Exists(told))
        .select_related("contact", "channel", "organization", "assignee")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("last_inbound_at", "pk")[:BATCH]
    )
    if not rows:
        return 0, None
    WindowAlert.objects.bulk_create(
        [
            WindowAlert(
                organization_id=row.organization_id,
                conversation_id=row.pk,
                window=kind,
                inbound_at=cast(datetime, row.last_inbound_at),  # the query's rows have one
                assignee_id=row.assignee_id,
            )
            for row in rows
        ],
        ignore_conflicts=True,
    )
    by_organization: dict[int, list[Conversation]] = defaultdict(list)
    for row in rows:
        by_organization[row.organization_id].append(row)
    mails: list[Mail] = []
    for conversations in by_organization.values():
        mails.extend(
            _tell(
                organization=conversations[0].organization,
                conversations=conversations,
                window=kind,
                length=window.length,
            )
        )
    mails_send_after_commit(mails)
    conversation_changes.conversations_told(rows, what=conversation_changes.WINDOW_CLOSING)
    return len(rows), _next([(cast(datetime, row.last_inbound_at), row.pk) for row in rows])


def admins_told(*, organization: Organization) -> tuple[list[Membership], dict[int, set[int]]]:
    """The organization's active admins, and the departments each works in."""
    admins = list(
        Membership.objects.filter(organization=organization, role=Role.ADMIN, is_active=True)
        .select_related("user", "organization")
        .prefetch_related("departments")
    )
    return admins, {admin.pk: {d.pk for d in admin.departments.all()} for admin in admins}


def admins_of_department(
    admins: list[Membership], departments: dict[int, set[int]], *, department_id: int
) -> list[Membership]:
    """Who hears of an unassigned conversation: the admins who work in its department, every
    admin when none does."""
    return [admin for admin in admins if department_id in departments[admin.pk]] or admins


def _tell(
    *, organization: Organization, conversations: list[Conversation], window: str, length: timedelta
) -> list[Mail]:
    """The notices of one organization's flagged conversations; returns the emails to send."""
    admins, departments = admins_told(organization=organization)
    assignee_ids = {c.assignee_id for c in conversations if c.assignee_id is not None}
    assignees = {
        m.user_id: m
        for m in Membership.objects.filter(
            organization=organization, user_id__in=assignee_ids, is_active=True
        ).select_related("user", "organization")
    }
    everyone = [m.user_id for m in admins] + list(assignees)
    mailing = alerts.wanting(
        organization=organization, user_ids=everyone, event=alerts.WINDOW_CLOSING, way=alerts.EMAIL
    )
    mails: list[Mail] = []
    notices: list[Notice] = []
    for conversation in conversations:
        assignee = assignees.get(conversation.assignee_id) if conversation.assignee_id else None
        recipients = (
            [assignee]
            if assignee is not None
            else admins_of_department(admins, departments, department_id=conversation.department_id)
        )
        inbound_at = cast(datetime, conversation.last_inbound_at)  # the query's rows have one
        closes_at = inbound_at + length
        params = notification_texts.window_closing_params(
            contact=conversation.contact, channel=conversation.channel.name, window=window, closes_at=closes_at
        )
        url = reverse(
            "messenger:conversation", kwargs={"org_slug": organization.slug, "conversation_id": conversation.pk}
        )
        notices.append(
            Notice(
                user_ids=[member.user_id for member in recipients],
                dedupe_key=f"window-closing:{conversation.pk}:{window}:{inbound_at.isoformat()}",
                params=params,
                url=url,
            )
        )
        for member in recipients:
            if member.user_id not in mailing or not member.user.email:
                continue
            with reading_as(language=member.reading_language, time_zone=member.reading_time_zone):
                text = notification_words(Notification.Kind.WINDOW_CLOSING, params)
            mails.append(
                (
                    text.title,
                    f"{text.body}\n\n{settings.PUBLIC_URL}{url}\n",
                    settings.DEFAULT_FROM_EMAIL,
                    [member.user.email],
                )
            )
    notifications_create_many(organization=organization, kind=Notification.Kind.WINDOW_CLOSING, notices=notices)
    return mails


@transaction.atomic
def _lose_batch(*, now: datetime, after: Keyset) -> tuple[int, Keyset]:
    """One statement: the next conversations whose 7-day window closed on an unanswered
    customer, kept as lost (a conflict with a concurrent run's row is left as it is)."""
    kept = WindowLoss.objects.filter(conversation=OuterRef("pk"), inbound_at=OuterRef("last_inbound_at"))
    closed = (
        _unanswered()
        .filter(last_inbound_at__lte=closed_until(now=now))
        .filter(_after(after))
        .exclude(Exists(kept))
        .order_by("last_inbound_at", "pk")
        .values_list("organization_id", "id", "channel_id", "department_id", "assignee_id", "last_inbound_at")[
            :LOSS_BATCH
        ]
    )
    if connection.vendor != "postgresql":
        # The embedded defaults (SQLite: one writer at a time) keep the same rows through the ORM.
        # Closed windows: every row has its last_inbound_at (the filter above).
        found: list[tuple[int, int, int, int, int | None, datetime]] = list(closed)  # type: ignore[arg-type]
        WindowLoss.objects.bulk_create(
            [
                WindowLoss(
                    organization_id=organization_id,
                    conversation_id=conversation_id,
                    channel_id=channel_id,
                    department_id=department_id,
                    assignee_id=assignee_id,
                    inbound_at=inbound_at,
                    lost_at=inbound_at + LOST_AFTER,
                )
                for organization_id, conversation_id, channel_id, department_id, assignee_id, inbound_at in found
            ],
            ignore_conflicts=True,
        )
        kept_rows = sorted((row[5], row[1]) for row in found)
        return len(kept_rows), _next(kept_rows, batch=LOSS_BATCH)
    sql, params = closed.query.sql_with_params()
    table = WindowLoss._meta.db_table
    parameters: list[Any] = [LOST_AFTER, now, *params]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (organization_id, conversation_id, channel_id, department_id, assignee_id,"  # noqa: S608 (names are the model's; values are parameters)
            " inbound_at, lost_at, created_at)"
            " SELECT closed.organization_id, closed.id, closed.channel_id, closed.department_id, closed.assignee_id,"
            f" closed.last_inbound_at, closed.last_inbound_at + %s, %s FROM ({sql}) AS closed"
            " ON CONFLICT DO NOTHING RETURNING inbound_at, conversation_id",
            parameters,
        )
        rows = [(inbound_at, conversation_id) for inbound_at, conversation_id in cursor.fetchall()]
    rows.sort()
    return len(rows), _next(rows, batch=LOSS_BATCH)
