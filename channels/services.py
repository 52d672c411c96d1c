"""Writes of channels, agent associations and per-department settings.

Whatever a kind links to a channel (Messenger's pages) is changed through that kind's
backend (channels.kinds), called inside the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels import hours, message_text
from channels.icons import icon_prepare
from channels.kinds import ChannelChange, backend_for
from channels.models import (
    TICKET_DELAY_MAX_MINUTES,
    TICKET_DELAY_MIN_MINUTES,
    AgentChannel,
    AssignmentMode,
    BusinessHours,
    BusinessInterval,
    Channel,
    ChannelKind,
    DepartmentSettings,
    Holiday,
)
from helpdesk.exceptions import (
    ChannelLimitReached,
    Conflict,
    DepartmentInUse,
    InvalidInput,
    MessageTooLong,
    NotFound,
)
from helpdesk.models import Department, Membership, Organization
from helpdesk.signals import scope_changed_send

_UNSET: Any = object()


class InvalidAssignmentMode(InvalidInput):
    code = "invalid_assignment_mode"
    default_message = gettext_lazy("Choose off, round robin or least loaded.")


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("A channel needs a name."), details={"name": [_("This field is required.")]})
    max_length = Channel._meta.get_field("name").max_length
    if max_length is not None and len(name) > max_length:
        raise InvalidInput(
            _("A channel name can be at most 100 characters."), details={"name": [_("At most 100 characters.")]}
        )
    return name


def _name_taken() -> Conflict:
    return Conflict(_("A channel with this name already exists."), details={"name": [_("Already in use.")]})


def _department_of(organization: Organization, department_id: int) -> Department:
    """A department that is not deleted, its row locked until the transaction ends: deleting
    it (helpdesk.services.department_delete) waits for, or is seen by, the channel write."""
    department = (
        Department.objects.select_for_update()
        .filter(organization=organization, pk=department_id, deleted_at__isnull=True)
        .first()
    )
    if department is None:
        raise NotFound(_("Department not found."))
    return department


def _check_name_free(organization: Organization, name: str, *, exclude_pk: int | None = None) -> None:
    taken = Channel.objects.filter(organization=organization, name=name, deleted_at__isnull=True)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise _name_taken()


def _icon_file(icon: Any) -> ContentFile | None:
    if icon is None:
        return None
    return icon if isinstance(icon, ContentFile) else icon_prepare(icon)


@transaction.atomic
def channel_create(
    *,
    organization: Organization,
    acting_user: Any,
    name: str,
    department_id: int,
    icon: Any = None,
    kind: str = ChannelKind.MESSENGER,
) -> Channel:
    """A new channel. At most as many channels (not deleted) as departments: the organization
    row is locked so that two admins saving at once cannot both take the last slot."""
    name = _clean_name(name)
    icon_file = _icon_file(icon)
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    department = _department_of(organization, department_id)
    used = Channel.objects.filter(organization=organization, deleted_at__isnull=True).count()
    limit = Department.objects.filter(organization=organization, deleted_at__isnull=True).count()
    if used >= limit:
        raise ChannelLimitReached(
            _("This organization already has %(used)d channels for %(limit)d departments.")
            % {"used": used, "limit": limit},
            details={"used": used, "limit": limit},
        )
    _check_name_free(organization, name)
    channel = Channel(
        organization=organization, department=department, kind=kind, name=name, created_by=_user_or_none(acting_user)
    )
    if icon_file is not None:
        channel.icon.save(icon_file.name or "icon.png", icon_file, save=False)
    try:
        with transaction.atomic():
            channel.save()
    except IntegrityError:
        if channel.icon.name:
            channel.icon.storage.delete(channel.icon.name)
        raise _name_taken() from None
    return channel


@transaction.atomic
def channel_update(
    *,
    organization: Organization,
    acting_user: Any,
    channel: Channel,
    name: str | None = None,
    department_id: int | None = None,
    icon: Any = _UNSET,
    assignment_mode: str | None = None,
    asks_for_rating: bool | None = None,
) -> Channel:
    """Rename, move to another department, replace or clear (icon=None) the icon, change how
    its conversations are assigned (``channel_assignment_mode_set``), whether its customers are
    asked for a rating (None: unchanged).

    Moving to another department moves what is filed under the channel with it, in this
    transaction: the kind's conversations (and so their future tickets) follow the channel
    (`ChannelKindBackend.channel_moved`); agents who do not work in the new department are
    no longer associated with it (the association requires it, see `channel_agents_set`).
    Tickets already made keep the department they were made in.
    """
    _check_own(organization, channel)
    if department_id is not None and department_id != channel.department_id:
        # Two admins moving the same channel at once: the second waits, then sees the first's move.
        locked = Channel.objects.select_for_update().filter(pk=channel.pk).values("department_id", "deleted_at")
        current = locked.first()
        if current is None:
            raise NotFound
        channel.department_id, channel.deleted_at = current["department_id"], current["deleted_at"]
    if channel.deleted_at is not None:
        raise NotFound
    fields: list[str] = []
    from_department: Department | None = None
    if name is not None:
        name = _clean_name(name)
        if name != channel.name:
            _check_name_free(organization, name, exclude_pk=channel.pk)
            channel.name = name
            fields.append("name")
    if department_id is not None and department_id != channel.department_id:
        from_department = channel.department
        channel.department = _department_of(organization, department_id)
        fields.append("department")
    old_icon = channel.icon.name if channel.icon else ""
    if icon is not _UNSET:
        icon_file = _icon_file(icon)
        if icon_file is None:
            channel.icon = ""
        else:
            channel.icon.save(icon_file.name or "icon.png", icon_file, save=False)
        fields.append("icon")
    if asks_for_rating is not None and asks_for_rating != channel.asks_for_rating:
        channel.asks_for_rating = asks_for_rating
        fields.append("asks_for_rating")
    if fields:
        channel.save(update_fields=[*fields, "updated_at"])
    if assignment_mode is not None:
        _assignment_mode_set(organization=organization, acting_user=acting_user, channel=channel, mode=assignment_mode)
    if from_department is not None:
        _channel_moved(
            organization=organization, acting_user=acting_user, channel=channel, from_department=from_department
        )
    if "icon" in fields and old_icon and old_icon != channel.icon.name:
        storage = channel.icon.storage
        transaction.on_commit(lambda: storage.delete(old_icon))
    return channel


def _channel_moved(
    *, organization: Organization, acting_user: Any, channel: Channel, from_department: Department
) -> None:
    # Its agents' scope changed (the department's tickets, some lose the channel): all are told.
    scope_changed_send(
        organization_id=organization.pk,
        user_ids=AgentChannel.objects.filter(organization=organization, channel=channel).values_list(
            "membership__user_id", flat=True
        ),
    )
    AgentChannel.objects.filter(organization=organization, channel=channel).exclude(
        membership_id__in=Membership.objects.filter(
            organization=organization, departments=channel.department_id
        ).values("pk")
    ).delete()
    backend_for(channel.kind).channel_moved(
        organization=organization, acting_user=acting_user, channel=channel, from_department=from_department
    )


@transaction.atomic
def channel_assignment_mode_set(
    *, organization: Organization, acting_user: Any, channel: Channel, mode: str
) -> Channel:
    """Automatic assignment off, round robin or least loaded. Turned on, the channel's open
    unassigned conversations are routed once this commits (the kind's backend)."""
    _check_own(organization, channel)
    if channel.deleted_at is not None:
        raise NotFound
    _assignment_mode_set(organization=organization, acting_user=acting_user, channel=channel, mode=mode)
    return channel


def _assignment_mode_set(*, organization: Organization, acting_user: Any, channel: Channel, mode: str) -> None:
    if mode not in AssignmentMode.values:
        raise InvalidAssignmentMode(details={"assignment_mode": [_("Choose off, round robin or least loaded.")]})
    if mode == channel.assignment_mode:
        return
    channel.assignment_mode = mode
    channel.save(update_fields=["assignment_mode", "updated_at"])
    backend_for(channel.kind).assignment_mode_changed(
        organization=organization, acting_user=acting_user, channel=channel
    )


@transaction.atomic
def channel_disable(*, organization: Organization, acting_user: Any, channel: Channel) -> Channel:
    """No sending or receiving until enabled again; everything is kept."""
    return _set_enabled(organization, acting_user, channel, enabled=False)


@transaction.atomic
def channel_enable(*, organization: Organization, acting_user: Any, channel: Channel) -> Channel:
    return _set_enabled(organization, acting_user, channel, enabled=True)


def _set_enabled(organization: Organization, acting_user: Any, channel: Channel, *, enabled: bool) -> Channel:
    _check_own(organization, channel)
    locked = Channel.objects.select_for_update().get(pk=channel.pk)
    if locked.deleted_at is not None:
        raise NotFound
    if locked.is_enabled != enabled:
        locked.is_enabled = enabled
        locked.save(update_fields=["is_enabled", "updated_at"])
        change: ChannelChange = "enabled" if enabled else "disabled"
        backend_for(locked.kind).channel_changed(
            organization=organization, acting_user=acting_user, channel=locked, change=change
        )
    channel.is_enabled, channel.updated_at = locked.is_enabled, locked.updated_at
    return channel


@transaction.atomic
def channel_delete(*, organization: Organization, acting_user: Any, channel: Channel) -> Channel:
    """Soft delete: the slot and the name are freed, pages unlinked, conversations kept readable."""
    _check_own(organization, channel)
    locked = Channel.objects.select_for_update().get(pk=channel.pk)
    if locked.deleted_at is not None:
        raise NotFound
    locked.deleted_at = timezone.now()
    locked.save(update_fields=["deleted_at", "updated_at"])
    backend_for(locked.kind).channel_changed(
        organization=organization, acting_user=acting_user, channel=locked, change="deleted"
    )
    channel.deleted_at = locked.deleted_at
    return channel


# --- Agents ------------------------------------------------------------------------------


@transaction.atomic
def agent_channels_set(
    *,
    organization: Organization,
    acting_user: Any,
    membership: Membership,
    department_id: int,
    channel_ids: Iterable[int],
) -> set[int]:
    """Associate an agent with exactly these channels of one department (other departments'
    associations are left alone). Returns the agent's channel ids in that department."""
    if membership.organization_id != organization.pk:
        raise NotFound
    department = _department_of(organization, department_id)
    wanted = {int(pk) for pk in channel_ids}
    in_department = set(
        Channel.objects.filter(organization=organization, department=department, deleted_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    if not wanted <= in_department:
        raise NotFound(_("Channel not found in this department."))
    current = set(
        AgentChannel.objects.filter(
            organization=organization, membership=membership, channel_id__in=in_department
        ).values_list("channel_id", flat=True)
    )
    AgentChannel.objects.filter(
        organization=organization, membership=membership, channel_id__in=current - wanted
    ).delete()
    AgentChannel.objects.bulk_create(
        [
            AgentChannel(organization=organization, membership=membership, channel_id=channel_id)
            for channel_id in sorted(wanted - current)
        ],
        ignore_conflicts=True,
    )
    if wanted != current:
        scope_changed_send(organization_id=organization.pk, user_ids=[membership.user_id])
    return wanted


@transaction.atomic
def channel_agents_set(
    *, organization: Organization, acting_user: Any, channel: Channel, membership_ids: Iterable[int]
) -> list[int]:
    """Exactly these members answer the channel. They must belong to its department."""
    _check_own(organization, channel)
    wanted = {int(pk) for pk in membership_ids}
    members = dict(Membership.objects.filter(organization=organization, pk__in=wanted).values_list("pk", "is_active"))
    if set(members) != wanted:
        raise NotFound(_("Member not found."))
    outside = wanted - set(
        Membership.objects.filter(
            organization=organization, pk__in=wanted, departments=channel.department_id
        ).values_list("pk", flat=True)
    )
    if outside:
        raise InvalidInput(
            _("Only members of the channel's department can be associated with it."),
            details={"membership_ids": sorted(outside)},
        )
    current = dict(
        AgentChannel.objects.filter(organization=organization, channel=channel).values_list(
            "membership_id", "membership__user_id"
        )
    )
    AgentChannel.objects.filter(organization=organization, channel=channel).exclude(membership_id__in=wanted).delete()
    AgentChannel.objects.bulk_create(
        [AgentChannel(organization=organization, membership_id=pk, channel=channel) for pk in sorted(wanted)],
        ignore_conflicts=True,
    )
    added = wanted - set(current)
    scope_changed_send(
        organization_id=organization.pk,
        user_ids=[
            *(user_id for pk, user_id in current.items() if pk not in wanted),
            *Membership.objects.filter(pk__in=added).values_list("user_id", flat=True),
        ]
        if added or set(current) - wanted
        else [],
    )
    return sorted(wanted)


def agent_channels_drop_for_departments(
    *, organization: Organization, acting_user: Any, membership: Membership, department_ids: Iterable[int]
) -> int:
    """The member no longer works in these departments: their associations with the
    departments' channels (deleted ones too) go, since the association requires it (see
    channels.visibility). Named in settings.MEMBERSHIP_DEPARTMENTS_REMOVED_HOOKS. Returns how many went."""
    deleted, _by_model = AgentChannel.objects.filter(
        organization=organization, membership=membership, channel__department_id__in=list(department_ids)
    ).delete()
    return deleted


# --- Departments -------------------------------------------------------------------------


def department_delete_guard(*, organization: Organization, department: Department) -> None:
    """A department with live channels (enabled or disabled, not deleted) cannot be deleted:
    they would be left in no department. Deleted channels do not hold it back (their history
    keeps pointing at the deleted department). Named in settings.DEPARTMENT_DELETE_GUARDS."""
    names = list(
        Channel.objects.filter(organization=organization, department=department, deleted_at__isnull=True)
        .order_by("name")
        .values_list("name", flat=True)
    )
    if names:
        raise DepartmentInUse(
            _(
                "This department still has channels (%(channels)s). Move them to another department "
                "or delete them, then delete the department."
            )
            % {"channels": ", ".join(f"“{name}”" for name in names)},
            details={"channels": names},
        )


# --- Per-department settings -------------------------------------------------------------


@transaction.atomic
def department_ticket_delay_set(
    *, organization: Organization, acting_user: Any, department_id: int, minutes: int
) -> DepartmentSettings:
    """How long a chat of this department may stay idle before it becomes a ticket."""
    department = _department_of(organization, department_id)
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int)
        or not (TICKET_DELAY_MIN_MINUTES <= minutes <= TICKET_DELAY_MAX_MINUTES)
    ):
        message = _("The delay must be between 60 minutes and 24 hours (1440 minutes).")
        raise InvalidInput(message, details={"ticket_delay_minutes": [message]})
    department_settings, _created = DepartmentSettings.objects.update_or_create(
        department=department, defaults={"organization": organization, "ticket_delay_minutes": minutes}
    )
    return department_settings


@dataclass(frozen=True, slots=True)
class HolidayInput:
    date: date
    name: str = ""


@transaction.atomic
def business_hours_set(
    *,
    organization: Organization,
    acting_user: Any,
    department_id: int,
    is_enabled: bool,
    intervals: Iterable[hours.Interval],
    holidays: Iterable[HolidayInput],
    out_of_hours_reply_en: str,
    out_of_hours_reply_ja: str,
) -> BusinessHours:
    """A department's business hours, as a whole: the week, the holidays and the replies
    replace what was there. Refused: overlapping or inverted intervals (``invalid_schedule``,
    naming the day), a holiday listed twice, a reply over the one message limit
    (``message_too_long``, channels.message_text)."""
    department = _department_of(organization, department_id)
    week = hours.week_validate(intervals)
    days = _holidays_check(holidays)
    replies = {
        "out_of_hours_reply_en": message_text.normalize_text(out_of_hours_reply_en or ""),
        "out_of_hours_reply_ja": message_text.normalize_text(out_of_hours_reply_ja or ""),
    }
    too_long = {
        name: [_("%(count)d of %(max)d characters.") % {"count": message_text.text_length(text), "max": limit}]
        for name, text in replies.items()
        if message_text.text_length(text) > (limit := message_text.MAX_TEXT_LENGTH)
    }
    if too_long:
        raise MessageTooLong(limit=message_text.MAX_TEXT_LENGTH, details=too_long)
    business_hours, _created = BusinessHours.objects.select_for_update().get_or_create(
        department=department, defaults={"organization": organization}
    )
    business_hours.is_enabled = bool(is_enabled)
    business_hours.out_of_hours_reply_en = replies["out_of_hours_reply_en"]
    business_hours.out_of_hours_reply_ja = replies["out_of_hours_reply_ja"]
    business_hours.save()
    BusinessInterval.objects.filter(business_hours=business_hours).delete()
    BusinessInterval.objects.bulk_create(
        BusinessInterval(
            organization=organization,
            business_hours=business_hours,
            weekday=interval.weekday,
            start_minute=interval.start_minute,
            end_minute=interval.end_minute,
        )
        for interval in week
    )
    Holiday.objects.filter(business_hours=business_hours).delete()
    Holiday.objects.bulk_create(
        Holiday(organization=organization, business_hours=business_hours, date=holiday.date, name=holiday.name)
        for holiday in days
    )
    transaction.on_commit(hours.departments_with_business_hours_forget)
    return business_hours


def _holidays_check(holidays: Iterable[HolidayInput]) -> list[HolidayInput]:
    days: list[HolidayInput] = []
    seen: set[date] = set()
    name_limit = Holiday._meta.get_field("name").max_length or 100
    for holiday in sorted(holidays, key=lambda item: item.date):
        name = (holiday.name or "").replace("\x00", "").strip()
        if holiday.date in seen:
            message = _("%(date)s is listed twice.") % {"date": holiday.date.isoformat()}
            raise hours.InvalidSchedule(message, details={"holidays": [message]})
        if len(name) > name_limit:
            message = _("%(date)s: a holiday's name can be at most 100 characters.") % {
                "date": holiday.date.isoformat()
            }
            raise hours.InvalidSchedule(message, details={"holidays": [message]})
        seen.add(holiday.date)
        days.append(HolidayInput(holiday.date, name))
    return days


def _check_own(organization: Organization, channel: Channel) -> None:
    if channel.organization_id != organization.pk:
        raise NotFound


def _user_or_none(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None
