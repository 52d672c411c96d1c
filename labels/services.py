"""Writes of an organization's labels: create, rename or recolour, delete.

Managing labels is for admins: the views and the API ask (helpdesk.tenancy.admin_required,
the API's admin-only writes), as for departments and channels. Putting a label on a
conversation or a ticket is for agents too (messenger.services.conversations.labels,
tickets.services)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from helpdesk.exceptions import InvalidLabelColor, LabelNameTaken, NotFound
from helpdesk.models import Organization
from helpdesk.services import name_clean
from labels.models import NAME_MAX_LENGTH, Label, LabelColor
from live.publish import label_publish

# What a label's live event says changed (live.events.LABEL).
LABEL_UPDATED = "updated"
LABEL_DELETED = "deleted"


def label_name_clean(name: Any) -> str:
    """The name as stored (surrounding spaces taken off), or InvalidInput with the form's words."""
    return name_clean(name, max_length=NAME_MAX_LENGTH, missing=_("A label needs a name."))


def label_color_clean(color: Any) -> str:
    if color not in LabelColor.values:
        raise InvalidLabelColor(details={"color": [str(InvalidLabelColor.default_message)]})
    return str(color)


def _taken() -> LabelNameTaken:
    return LabelNameTaken(details={"name": [str(LabelNameTaken.default_message)]})


def _name_used(*, organization: Organization, name: str, exclude_id: int | None = None) -> bool:
    labels = Label.objects.filter(organization=organization, name__iexact=name)
    if exclude_id is not None:
        labels = labels.exclude(pk=exclude_id)
    return labels.exists()


def label_create(*, organization: Organization, acting_user: Any, name: str, color: str = LabelColor.BLUE) -> Label:
    """A new label; 409 label_name_taken when the organization has one of that name, case aside."""
    name = label_name_clean(name)
    color = label_color_clean(color)
    if _name_used(organization=organization, name=name):
        raise _taken()
    creator = acting_user if getattr(acting_user, "is_authenticated", False) else None
    try:
        # Two admins creating the same name at once: the unique index decides.
        with transaction.atomic():
            return Label.objects.create(organization=organization, name=name, color=color, created_by=creator)
    except IntegrityError:
        raise _taken() from None


def label_update(
    *, organization: Organization, acting_user: Any, label: Label, name: str | None = None, color: str | None = None
) -> Label:
    """Rename or recolour a label. The system lines already written keep the old name."""
    if label.organization_id != organization.pk:
        raise NotFound
    fields = []
    if name is not None:
        label.name = label_name_clean(name)
        if _name_used(organization=organization, name=label.name, exclude_id=label.pk):
            raise _taken()
        fields.append("name")
    if color is not None:
        label.color = label_color_clean(color)
        fields.append("color")
    if fields:
        try:
            with transaction.atomic():
                label.save(update_fields=fields)
        except IntegrityError:
            raise _taken() from None
        label_publish(organization_id=organization.pk, label_id=label.pk, what=LABEL_UPDATED)
    return label


@transaction.atomic
def label_delete(*, organization: Organization, acting_user: Any, label: Label) -> None:
    """Delete a label: it leaves every conversation and ticket that had it (the links cascade;
    their system lines stay, with the name)."""
    if label.organization_id != organization.pk:
        raise NotFound
    label_id = label.pk
    Label.objects.filter(organization=organization, pk=label_id).delete()
    label_publish(organization_id=organization.pk, label_id=label_id, what=LABEL_DELETED)
