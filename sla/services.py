"""Writes of SLA policies (admins: the views ask), and the alerts the sweeps send.

The sweeps themselves live with what they sweep (messenger.services.sla for conversations,
tickets.services_sla for tickets), which this app may not import; they call `sla_alerts_send`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels.models import Channel
from helpdesk import alerts
from helpdesk.exceptions import InvalidInput, NotFound
from helpdesk.models import Department, Membership, Organization, Role
from helpdesk.notifications import notification_words, reading_as
from helpdesk.services import Mail, Notice, mails_send_after_commit, notifications_create_many
from sla.models import TARGET_MAX_MINUTES, TARGET_MIN_MINUTES, SlaClock, SlaPolicy, SlaTarget


class InvalidSlaTarget(InvalidInput):
    """A target of 0 minutes, or of more than 30 days."""

    code = "invalid_sla_target"
    default_message = gettext_lazy("A target runs from 1 minute to 30 days.")


class InvalidSlaClock(InvalidInput):
    code = "invalid_sla_clock"
    default_message = gettext_lazy("Choose business hours or around the clock.")


class SlaPolicyExists(InvalidInput):
    code = "sla_policy_exists"
    default_message = gettext_lazy("This department or channel already has a policy.")


TARGET_FIELDS = ("first_response_minutes", "next_response_minutes", "resolution_minutes")


def target_clean(value: Any, *, field: str) -> int | None:
    """A target in minutes as stored (None: no target of that kind), or InvalidSlaTarget."""
    if value is None or value == "":
        return None
    try:
        minutes = int(value) if not isinstance(value, float) or value.is_integer() else 0
    except (TypeError, ValueError):
        minutes = 0
    if isinstance(value, bool) or not TARGET_MIN_MINUTES <= minutes <= TARGET_MAX_MINUTES:
        raise InvalidSlaTarget(details={field: [str(InvalidSlaTarget.default_message)]})
    return minutes


def _targets_clean(targets: dict[str, Any]) -> dict[str, int | None]:
    return {field: target_clean(targets.get(field), field=field) for field in TARGET_FIELDS}


def _clock_clean(clock: Any) -> str:
    if clock not in SlaClock.values:
        raise InvalidSlaClock(details={"clock": [str(InvalidSlaClock.default_message)]})
    return str(clock)


@transaction.atomic
def policy_create(
    *,
    organization: Organization,
    acting_user: AbstractBaseUser | AnonymousUser,
    department_id: int,
    channel_id: int | None,
    targets: dict[str, Any],
    clock: str,
) -> SlaPolicy:
    """A policy for a department, or for one of the organization's channels (then filed
    under the channel's department). Changes apply to targets that start afterwards."""
    values = _targets_clean(targets)
    clock = _clock_clean(clock)
    channel = None
    if channel_id is not None:
        channel = Channel.objects.filter(organization=organization, pk=channel_id, deleted_at__isnull=True).first()
        if channel is None:
            raise NotFound()
        department_id = channel.department_id
    department = Department.objects.filter(organization=organization, pk=department_id, deleted_at__isnull=True).first()
    if department is None:
        raise NotFound()
    try:
        with transaction.atomic():
            return SlaPolicy.objects.create(
                organization=organization, department=department, channel=channel, clock=clock, **values
            )
    except IntegrityError:
        raise SlaPolicyExists() from None


@transaction.atomic
def policy_update(
    *,
    organization: Organization,
    acting_user: AbstractBaseUser | AnonymousUser,
    policy: SlaPolicy,
    targets: dict[str, Any],
    clock: str,
) -> SlaPolicy:
    if policy.organization_id != organization.pk:
        raise NotFound()
    for field, value in _targets_clean(targets).items():
        setattr(policy, field, value)
    policy.clock = _clock_clean(clock)
    policy.save(update_fields=[*TARGET_FIELDS, "clock", "updated_at"])
    return policy


@transaction.atomic
def policy_delete(
    *, organization: Organization, acting_user: AbstractBaseUser | AnonymousUser, policy: SlaPolicy
) -> None:
    if policy.organization_id != organization.pk:
        raise NotFound()
    policy.delete()


# --- Alerts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlaAlert:
    """One warning (the target is at risk) or breach of a conversation's or ticket's target."""

    kind: str  # Notification.Kind.SLA_AT_RISK or SLA_BREACHED
    target: str  # SlaTarget
    department_id: int
    assignee_id: int | None
    # What it is about, as the notice names it: {"contact": …, "ticket": 12 (tickets only), "due": ISO}.
    params: dict[str, Any]
    url: str
    # Once per target: the subject and the start of the target ("conversation:7:<iso>").
    subject_key: str


def sla_alerts_send(*, organization: Organization, alerts: list[SlaAlert]) -> int:
    """Tell the assignee of each, or the admins of its department when nobody holds it
    (every admin when none is in that department). Once per target and kind: the notice's
    dedupe key. Returns how many notices were new."""
    if not alerts:
        return 0
    admins: list[Membership] = []
    admin_departments: dict[int, set[int]] = defaultdict(set)
    if any(alert.assignee_id is None for alert in alerts):
        admins = list(
            Membership.objects.filter(organization=organization, role=Role.ADMIN, is_active=True).prefetch_related(
                "departments"
            )
        )
        for admin in admins:
            admin_departments[admin.pk] = {department.pk for department in admin.departments.all()}
    notices: dict[str, list[Notice]] = defaultdict(list)
    for alert in alerts:
        if alert.assignee_id is not None:
            user_ids = [alert.assignee_id]
        else:
            in_department = [admin for admin in admins if alert.department_id in admin_departments[admin.pk]]
            user_ids = [admin.user_id for admin in (in_department or admins)]
        notices[alert.kind].append(
            Notice(
                user_ids=tuple(user_ids),
                params={**alert.params, "target": alert.target},
                url=alert.url,
                dedupe_key=f"sla:{alert.kind}:{alert.subject_key}",
            )
        )
    fresh = sum(
        notifications_create_many(organization=organization, kind=kind, notices=kind_notices)
        for kind, kind_notices in notices.items()
    )
    mails_send_after_commit(_alert_mails(organization=organization, notices=notices))
    return fresh


def _alert_mails(*, organization: Organization, notices: dict[str, list[Notice]]) -> list[Mail]:
    """The notices as emails to those who want SLA alerts by email, each in their language
    and time zone. The sweeps mark each target warned or breached as they tell of it, so a
    target is mailed once, as it is noticed once."""
    user_ids = {user_id for kind_notices in notices.values() for notice in kind_notices for user_id in notice.user_ids}
    mailing = alerts.wanting(organization=organization, user_ids=user_ids, event=alerts.SLA, way=alerts.EMAIL)
    members = {
        member.user_id: member
        for member in Membership.objects.filter(
            organization=organization, user_id__in=mailing, is_active=True
        ).select_related("user", "organization")
        if member.user.email
    }
    mails: list[Mail] = []
    for kind, kind_notices in notices.items():
        for notice in kind_notices:
            for user_id in notice.user_ids:
                member = members.get(user_id)
                if member is None:
                    continue
                with reading_as(language=member.reading_language, time_zone=member.reading_time_zone):
                    text = notification_words(kind, notice.params or {})
                body = f"{text.body}\n\n{settings.PUBLIC_URL}{notice.url}\n"
                mails.append((text.title, body, settings.DEFAULT_FROM_EMAIL, [member.user.email]))
    return mails


def target_name(target: str) -> str:
    return str(SlaTarget(target).label) if target in SlaTarget.values else _("Target")
