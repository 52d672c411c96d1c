"""Writes of tenancy data: organizations, departments, members, API tokens, notifications."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from helpdesk.exceptions import Conflict, InvalidInput, LastAdmin, NotFound
from helpdesk.models import ApiToken, Department, Membership, Notification, Organization, Role

User = get_user_model()


@transaction.atomic
def organization_create(
    *,
    name: str,
    slug: str,
    admin_username: str,
    admin_password: str,
    admin_email: str = "",
    time_zone: str = "UTC",
    language: str = "en",
) -> tuple[Organization, Membership]:
    """A new organization with its first admin (an existing user is reused, password unchanged)."""
    if Organization.objects.filter(slug=slug).exists():
        raise Conflict(_("An organization with this slug already exists."), details={"slug": slug})
    organization = Organization.objects.create(name=name, slug=slug, time_zone=time_zone, language=language)
    user = User.objects.filter(username=admin_username).first()
    if user is None:
        user = User(username=admin_username, email=admin_email)
        _check_password(admin_password, user)
        user.set_password(admin_password)
        user.save()
    membership = Membership.objects.create(organization=organization, user=user, role=Role.ADMIN)
    return organization, membership


def _check_password(password: str, user: Any) -> None:
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise InvalidInput(" ".join(error.messages), details={"password": error.messages}) from None


def _department_name(name: str) -> str:
    """The name as stored, or InvalidInput: callers without a form (the rename row) get the
    form's rules here, not a database error."""
    name = name.strip()
    if not name:
        raise InvalidInput(_("A department needs a name."), details={"name": [_("This field is required.")]})
    limit = Department._meta.get_field("name").max_length or 0
    if len(name) > limit:
        message = _("At most %(max)d characters.") % {"max": limit}
        raise InvalidInput(message, details={"name": [message]})
    if "\x00" in name:
        message = _("Null characters are not allowed.")
        raise InvalidInput(message, details={"name": [message]})
    return name


def department_create(*, organization: Organization, acting_user: Any, name: str) -> Department:
    name = _department_name(name)
    try:
        with transaction.atomic():
            return Department.objects.create(organization=organization, name=name)
    except IntegrityError:
        raise Conflict(
            _("A department with this name already exists."), details={"name": [_("Already in use.")]}
        ) from None


def department_rename(*, organization: Organization, acting_user: Any, department: Department, name: str) -> Department:
    if department.organization_id != organization.pk:
        raise NotFound
    department.name = _department_name(name)
    try:
        with transaction.atomic():
            department.save(update_fields=["name"])
    except IntegrityError:
        raise Conflict(
            _("A department with this name already exists."), details={"name": [_("Already in use.")]}
        ) from None
    return department


@transaction.atomic
def department_delete(*, organization: Organization, acting_user: Any, department: Department) -> None:
    """Delete a department that no live channel belongs to.

    The row stays, marked deleted (see Department): deleted channels, their conversations
    and the tickets made in the department keep their reference and stay readable. It
    leaves every list and choice, its name is free again, and its members no longer work
    in it. Each of settings.DEPARTMENT_DELETE_GUARDS may refuse with DepartmentInUse (409),
    naming what holds the department and what to do.
    """
    if department.organization_id != organization.pk:
        raise NotFound
    # Locked: a channel created in or moved to this department meanwhile waits, then fails.
    locked = (
        Department.objects.select_for_update()
        .filter(organization=organization, pk=department.pk, deleted_at__isnull=True)
        .first()
    )
    if locked is None:
        raise NotFound
    for guard in _department_delete_guards():
        guard(organization=organization, department=locked)
    Membership.departments.through.objects.filter(department_id=locked.pk).delete()
    locked.deleted_at = timezone.now()
    locked.save(update_fields=["deleted_at"])
    department.deleted_at = locked.deleted_at


def _department_delete_guards() -> list[Callable[..., None]]:
    return [import_string(path) for path in getattr(settings, "DEPARTMENT_DELETE_GUARDS", ())]


@transaction.atomic
def member_create(
    *,
    organization: Organization,
    acting_user: Any,
    username: str,
    password: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    role: str = Role.AGENT,
    department_ids: Iterable[int] = (),
) -> Membership:
    """A new member; an existing user (by username) joins without their password changing."""
    _check_role(role)
    departments = _departments_of(organization, department_ids)
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, email=email, first_name=first_name, last_name=last_name)
        _check_password(password, user)
        user.set_password(password)
        user.save()
    elif Membership.objects.filter(organization=organization, user=user).exists():
        raise Conflict(_("This user is already a member."), details={"username": [_("Already a member.")]})
    membership = Membership.objects.create(organization=organization, user=user, role=role)
    membership.departments.set(departments)
    return membership


@transaction.atomic
def member_update(
    *,
    organization: Organization,
    acting_user: Any,
    membership: Membership,
    role: str | None = None,
    department_ids: Iterable[int] | None = None,
    is_active: bool | None = None,
) -> Membership:
    if membership.organization_id != organization.pk:
        raise NotFound
    # Lock the organization's admins so that two admins demoting each other cannot leave none.
    list(Membership.objects.select_for_update().filter(organization=organization, role=Role.ADMIN))
    fields: list[str] = []
    if role is not None:
        _check_role(role)
        membership.role = role
        fields.append("role")
    if is_active is not None:
        membership.is_active = is_active
        fields.append("is_active")
    if fields:
        if membership.role != Role.ADMIN or not membership.is_active:
            others = Membership.objects.filter(organization=organization, role=Role.ADMIN, is_active=True).exclude(
                pk=membership.pk
            )
            if not others.exists():
                raise LastAdmin
        membership.save(update_fields=fields)
    if department_ids is not None:
        membership.departments.set(_departments_of(organization, department_ids))
    if is_active is False:
        ApiToken.objects.filter(membership=membership, revoked_at__isnull=True).update(revoked_at=timezone.now())
    return membership


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise InvalidInput(_("Unknown role."), details={"role": [_("Choose admin or agent.")]})


def _departments_of(organization: Organization, department_ids: Iterable[int]) -> list[Department]:
    wanted = {int(pk) for pk in department_ids}
    departments = list(Department.objects.filter(organization=organization, pk__in=wanted, deleted_at__isnull=True))
    if len(departments) != len(wanted):
        raise NotFound(_("Department not found."))
    return departments


def api_token_create(*, membership: Membership, name: str, key: str | None = None) -> tuple[ApiToken, str]:
    """A new token; the key is returned once and only its hash is kept."""
    key = key or ApiToken.generate_key()
    token = ApiToken.objects.create(
        organization=membership.organization,
        membership=membership,
        name=name.strip() or _("API token"),
        key_hash=ApiToken.hash_key(key),
        key_prefix=key[:10],
    )
    return token, key


def api_token_revoke(*, membership: Membership, token_id: int) -> None:
    updated = ApiToken.objects.filter(
        organization=membership.organization, membership=membership, pk=token_id, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not updated:
        raise NotFound


def notification_create(
    *,
    organization: Organization,
    user_ids: Iterable[int],
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    dedupe_key: str = "",
) -> int:
    """Notify users; with a dedupe_key each user is told at most once. Returns how many were new."""
    rows = [
        Notification(
            organization=organization,
            user_id=user_id,
            kind=kind,
            title=title,
            body=body,
            url=url,
            dedupe_key=dedupe_key,
        )
        for user_id in set(user_ids)
    ]
    if not rows:
        return 0
    if not dedupe_key:
        Notification.objects.bulk_create(rows)
        return len(rows)
    existing = set(
        Notification.objects.filter(
            organization=organization, dedupe_key=dedupe_key, user_id__in=[row.user_id for row in rows]
        ).values_list("user_id", flat=True)
    )
    fresh = [row for row in rows if row.user_id not in existing]
    Notification.objects.bulk_create(fresh, ignore_conflicts=True)
    return len(fresh)


def notification_mark_read(*, organization: Organization, user_id: int, notification_ids: Iterable[int] | None) -> int:
    notifications = Notification.objects.filter(organization=organization, user_id=user_id, read_at__isnull=True)
    if notification_ids is not None:
        notifications = notifications.filter(pk__in=list(notification_ids))
    return notifications.update(read_at=timezone.now())


def admin_user_ids(*, organization: Organization) -> list[int]:
    return list(
        Membership.objects.filter(organization=organization, role=Role.ADMIN, is_active=True).values_list(
            "user_id", flat=True
        )
    )
