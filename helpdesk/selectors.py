"""Reads of tenancy data. Every function takes the organization explicitly."""

from __future__ import annotations

from django.db.models import QuerySet

from helpdesk.converters import parse_id
from helpdesk.exceptions import NotFound
from helpdesk.models import ApiToken, Department, Membership, Notification, Organization


def department_list(*, organization: Organization) -> QuerySet[Department]:
    """The organization's departments, deleted ones left out."""
    return Department.objects.filter(organization=organization, deleted_at__isnull=True).order_by("name")


def department_get(*, organization: Organization, department_id: int | str) -> Department:
    """One department that is not deleted; NotFound otherwise."""
    department = department_list(organization=organization).filter(pk=_as_id(department_id)).first()
    if department is None:
        raise NotFound
    return department


def member_list(*, organization: Organization, department_id: int | None = None) -> QuerySet[Membership]:
    members = (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .prefetch_related("departments")
        .order_by("user__username")
    )
    if department_id is not None:
        members = members.filter(departments__id=department_id)
    return members


def member_get(*, organization: Organization, membership_id: int | str) -> Membership:
    member = member_list(organization=organization).filter(pk=_as_id(membership_id)).first()
    if member is None:
        raise NotFound
    return member


def api_token_list(*, membership: Membership) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(organization=membership.organization, membership=membership).order_by("-created_at")


def notification_list(*, organization: Organization, user_id: int) -> QuerySet[Notification]:
    return Notification.objects.filter(organization=organization, user_id=user_id).order_by("-created_at", "-id")


def notification_unread_count(*, organization: Organization, user_id: int) -> int:
    return Notification.objects.filter(organization=organization, user_id=user_id, read_at__isnull=True).count()


def _as_id(value: int | str) -> int:
    """Ids from URLs and forms; anything that is not a whole number simply matches nothing."""
    return parse_id(value)
