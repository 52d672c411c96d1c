"""Telling admins of conversations left without an agent too long (a beat job, each minute).

A conversation is left unassigned too long when it is open, nobody holds it, its customer
waits for an answer, and it has been so for longer than its organization's time (Settings →
Organization, 10 minutes unless set). Its stretch without an agent begins with its last
assignment event (assigned, unassigned, forwarded, back to the queue), else its creation;
the clock runs from that or from when the customer began to wait, whichever is later.

The admins who work in its department are told (every active admin when none does), in the
app and by email as each one's Preferences say (helpdesk.alerts), once per stretch: an
UnassignedAlert row is the record. Set-based and batched: rows are taken with
`select_for_update(skip_locked=True)`, so two runs at once never tell twice, and a second run
finds the records of the first.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Greatest
from django.urls import reverse
from django.utils import timezone

from helpdesk import alerts
from helpdesk.models import Membership, Notification, Organization, Role
from helpdesk.notifications import notification_words, reading_as
from helpdesk.services import mails_send_after_commit, notification_create
from messenger import notification_texts
from messenger.models import Conversation, ConversationEvent, ConversationState, UnassignedAlert

logger = logging.getLogger(__name__)

BATCH = 200
# Events that begin a new stretch with or without an agent.
ASSIGNMENT_EVENTS = (
    ConversationEvent.Kind.ASSIGNED,
    ConversationEvent.Kind.UNASSIGNED,
    ConversationEvent.Kind.FORWARDED,
    ConversationEvent.Kind.REQUEUED,
)


def _candidates() -> QuerySet[Any]:
    """Open, unassigned, waiting conversations, each with the start of its stretch
    (`since_event_id`) and of its clock (`unassigned_since`), not yet told of."""
    last_change = ConversationEvent.objects.filter(conversation=OuterRef("pk"), kind__in=ASSIGNMENT_EVENTS).order_by(
        "-created_at", "-id"
    )
    told = UnassignedAlert.objects.filter(conversation=OuterRef("pk"), since_event_id=OuterRef("since_event_id"))
    return (
        Conversation.objects.filter(
            state=ConversationState.OPEN,
            assignee__isnull=True,
            waiting_since__isnull=False,
            contact__is_blocked=False,
            channel__deleted_at__isnull=True,
        )
        .annotate(
            since_event_id=Coalesce(Subquery(last_change.values("pk")[:1]), Value(0)),
            unassigned_since=Greatest(
                Coalesce(Subquery(last_change.values("created_at")[:1]), F("created_at")), F("waiting_since")
            ),
        )
        .exclude(Exists(told))
    )


def unassigned_alerts_send(*, now: datetime | None = None) -> int:
    """Tell the admins of every conversation left unassigned too long, in batches.
    Returns how many conversations were told of."""
    now = now or timezone.now()
    told = 0
    # One pass per distinct organization time: a handful of values.
    for minutes in sorted(set(Organization.objects.values_list("unassigned_alert_minutes", flat=True))):
        while True:
            count = _send_batch(now=now, minutes=minutes)
            told += count
            if count < BATCH:
                break
    return told


@transaction.atomic
def _send_batch(*, now: datetime, minutes: int) -> int:
    rows = list(
        _candidates()
        .filter(organization__unassigned_alert_minutes=minutes, unassigned_since__lte=now - timedelta(minutes=minutes))
        .select_related("contact", "channel", "organization")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("unassigned_since", "pk")[:BATCH]
    )
    if not rows:
        return 0
    UnassignedAlert.objects.bulk_create(
        [
            UnassignedAlert(
                organization_id=row.organization_id,
                conversation_id=row.pk,
                since_event_id=row.since_event_id,
            )
            for row in rows
        ],
        ignore_conflicts=True,
    )
    by_organization: dict[int, list[Conversation]] = defaultdict(list)
    for row in rows:
        by_organization[row.organization_id].append(row)
    mails: list[tuple[str, str, str, list[str]]] = []
    for conversations in by_organization.values():
        mails.extend(_tell_admins(organization=conversations[0].organization, conversations=conversations))
    mails_send_after_commit(mails)
    return len(rows)


def _tell_admins(
    *, organization: Organization, conversations: list[Conversation]
) -> list[tuple[str, str, str, list[str]]]:
    """The notices of one organization's conversations; returns the emails to send."""
    admins = list(
        Membership.objects.filter(organization=organization, role=Role.ADMIN, is_active=True)
        .select_related("user")
        .prefetch_related("departments")
    )
    department_ids = {admin.pk: {d.pk for d in admin.departments.all()} for admin in admins}
    mailing = alerts.wanting(
        organization=organization,
        user_ids=[admin.user_id for admin in admins],
        event=alerts.UNASSIGNED_TOO_LONG,
        way=alerts.EMAIL,
    )
    mails = []
    for conversation in conversations:
        recipients = [admin for admin in admins if conversation.department_id in department_ids[admin.pk]] or admins
        params = notification_texts.unassigned_too_long_params(
            contact=conversation.contact,
            channel=conversation.channel.name,
            minutes=organization.unassigned_alert_minutes,
        )
        url = reverse(
            "messenger:conversation", kwargs={"org_slug": organization.slug, "conversation_id": conversation.pk}
        )
        notification_create(
            organization=organization,
            user_ids=[admin.user_id for admin in recipients],
            kind=Notification.Kind.UNASSIGNED_TOO_LONG,
            params=params,
            url=url,
            dedupe_key=f"unassigned-too-long:{conversation.pk}:{conversation.since_event_id}",  # type: ignore[attr-defined]
        )
        for admin in recipients:
            if admin.user_id not in mailing or not admin.user.email:
                continue
            with reading_as(language=admin.reading_language, time_zone=admin.reading_time_zone):
                text = notification_words(Notification.Kind.UNASSIGNED_TOO_LONG, params)
            mails.append(
                (
                    text.title,
                    f"{text.body}\n\n{settings.PUBLIC_URL}{url}\n",
                    settings.DEFAULT_FROM_EMAIL,
                    [admin.user.email],
                )
            )
    return mails
