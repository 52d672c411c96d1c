"""Writes of saved views: create (a member's own, or shared with the organization by an admin),
rename, save the current filters to a view, delete.

Who may: anyone their own views; shared ones admins only (an agent asking: PermissionDenied).
Another member's own view is NotFound (messenger.saved_views.saved_view_get). A name is unique
per scope, case aside (SavedViewNameTaken, 409 ``view_name_taken``); a scope holds at most
``MAX_PER_SCOPE`` views (SavedViewLimitReached, 400 ``saved_view_limit_reached``).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from helpdesk.exceptions import NotFound, PermissionDenied, SavedViewLimitReached, SavedViewNameTaken
from helpdesk.models import Membership, Organization
from helpdesk.services import name_clean
from messenger.models import SavedView
from messenger.saved_views import MAX_PER_SCOPE, params_normalize, saved_view_can_manage

NAME_MAX_LENGTH = SavedView._meta.get_field("name").max_length or 60


def _name(name: Any) -> str:
    return name_clean(name, max_length=NAME_MAX_LENGTH, missing=_("A saved view needs a name."))


def _name_taken() -> SavedViewNameTaken:
    return SavedViewNameTaken(details={"name": [str(SavedViewNameTaken.default_message)]})


def _scope(*, organization: Organization, owner: Membership | None) -> Any:
    return SavedView.objects.filter(organization=organization, owner=owner)


def _check_name_free(*, organization: Organization, owner: Membership | None, name: str, exclude: int | None) -> None:
    # The constraint decides in the end (two at once: IntegrityError); this says it first.
    taken = _scope(organization=organization, owner=owner).filter(name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise _name_taken()


def _check_may_manage(view: SavedView, *, organization: Organization, membership: Membership) -> None:
    if view.organization_id != organization.pk or membership.organization_id != organization.pk:
        raise NotFound
    if not saved_view_can_manage(view, membership=membership):
        raise PermissionDenied(_("Only admins can change the views shared with everyone."))


@transaction.atomic
def saved_view_create(
    *,
    organization: Organization,
    membership: Membership,
    name: Any,
    params: Any,
    shared: bool = False,
    strict: bool = False,
) -> SavedView:
    """Keep the inbox filters in ``params`` (a QueryDict, or a mapping of strings or lists)
    under ``name``: the member's own view, or with ``shared`` one for everyone (admins only).
    ``strict``: an unknown view or sort is refused (the API), not dropped (the inbox)."""
    if shared and not membership.is_admin:
        raise PermissionDenied(_("Only admins can share a view with everyone."))
    name = _name(name)
    normalized = params_normalize(params, strict=strict)
    owner = None if shared else membership
    # One scope at a time: the count and the name checked under the lock of its owner (or of
    # the organization's row, for the shared views).
    if owner is not None:
        Membership.objects.select_for_update().filter(pk=owner.pk).first()
    else:
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
    if _scope(organization=organization, owner=owner).count() >= MAX_PER_SCOPE:
        raise SavedViewLimitReached(details={"max": MAX_PER_SCOPE})
    _check_name_free(organization=organization, owner=owner, name=name, exclude=None)
    try:
        with transaction.atomic():
            return SavedView.objects.create(
                organization=organization,
                owner=owner,
                name=name,
                params=normalized,
                created_by=membership.user,
            )
    except IntegrityError:
        raise _name_taken() from None


@transaction.atomic
def saved_view_rename(*, organization: Organization, membership: Membership, view: SavedView, name: Any) -> SavedView:
    _check_may_manage(view, organization=organization, membership=membership)
    view.name = _name(name)
    owner = membership if view.owner_id is not None else None
    _check_name_free(organization=organization, owner=owner, name=view.name, exclude=view.pk)
    try:
        with transaction.atomic():
            view.save(update_fields=["name"])
    except IntegrityError:
        raise _name_taken() from None
    return view


@transaction.atomic
def saved_view_update_params(
    *, organization: Organization, membership: Membership, view: SavedView, params: Any, strict: bool = False
) -> SavedView:
    """Save the inbox's current filters (``params``) to the view."""
    _check_may_manage(view, organization=organization, membership=membership)
    view.params = params_normalize(params, strict=strict)
    view.save(update_fields=["params"])
    return view


@transaction.atomic
def saved_view_delete(*, organization: Organization, membership: Membership, view: SavedView) -> None:
    _check_may_manage(view, organization=organization, membership=membership)
    view.delete()
