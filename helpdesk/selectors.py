"""Reads of tenancy data. Every function takes the organization explicitly."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from helpdesk.converters import parse_id
from helpdesk.exceptions import NotFound
from helpdesk.models import ApiToken, Department, Invitation, Membership, Notification, Organization


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


def notification_get(*, organization: Organization, user_id: int, notification_id: int | str) -> Notification:
    """One of the user's own notifications in this organization, or NotFound."""
    notification = Notification.objects.filter(
        organization=organization, user_id=user_id, pk=_as_id(notification_id)
    ).first()
    if notification is None:
        raise NotFound
    return notification


def notification_unread_count(*, organization: Organization, user_id: int) -> int:
    return Notification.objects.filter(organization=organization, user_id=user_id, read_at__isnull=True).count()


def _as_id(value: int | str) -> int:
    """Ids from URLs and forms; anything that is not a whole number simply matches nothing."""
    return parse_id(value)


def invitation_list_pending(*, organization: Organization) -> QuerySet[Invitation]:
    """Invitations that can still be answered: not accepted, declined, revoked or expired."""
    return (
        Invitation.objects.filter(
            organization=organization,
            accepted_at__isnull=True,
            declined_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .select_related("invited_by")
        .prefetch_related("departments")
        .order_by("-created_at", "-id")
    )


def invitation_get(*, organization: Organization, invitation_id: int | str) -> Invitation:
    """One invitation of the organization, whatever its status; NotFound otherwise."""
    invitation = (
        Invitation.objects.filter(organization=organization, pk=_as_id(invitation_id))
        .prefetch_related("departments")
        .first()
    )
    if invitation is None:
        raise NotFound
    return invitation


def invitation_get_by_token(*, token: str) -> Invitation:
    """The invitation of a link, whatever its status; NotFound for a token that is not one.

    The one read without an organization: the secret token is the credential, and the
    invitation names its organization.
    """
    invitation = (
        Invitation.objects.select_related("organization")
        .prefetch_related("departments")
        .filter(token_hash=Invitation.hash_token(token))
        .first()
    )
    if invitation is None:
        raise NotFound
    return invitation
