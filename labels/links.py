"""Labels put on things (conversations, tickets): what every link table of a label shares.

A link model has ``organization``, ``label``, ``added_by`` and a foreign key to what it
labels (``owner``: "conversation", "ticket"); its app keeps its own history of the change
(a system line, a ticket event). These functions are set-based: one query to read, one to
write, whatever the number of things.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import models

from helpdesk.exceptions import NotFound
from helpdesk.models import Organization
from labels.models import Label


def acting(acting_user: Any) -> Any:
    """The member who labels, or None for the system."""
    return acting_user if getattr(acting_user, "is_authenticated", False) else None


def change_data(label: Label) -> dict[str, Any]:
    """What the history line of a change keeps: the label's name as it was, and its id."""
    return {"label": label.name, "label_id": label.pk}


def _check(organization: Organization, things: Sequence[Any], label: Label) -> None:
    if label.organization_id != organization.pk or any(thing.organization_id != organization.pk for thing in things):
        raise NotFound


def links_add(
    link_model: type[models.Model],
    owner: str,
    *,
    organization: Organization,
    things: Sequence[Any],
    label: Label,
    acting_user: Any,
) -> list[int]:
    """Put ``label`` on the things that lack it; the ids of those that changed."""
    _check(organization, things, label)
    ids = [thing.pk for thing in things]
    manager = link_model._default_manager
    had = set(
        manager.filter(organization=organization, label=label, **{f"{owner}_id__in": ids}).values_list(
            f"{owner}_id", flat=True
        )
    )
    changed = [thing_id for thing_id in ids if thing_id not in had]
    actor = acting(acting_user)
    manager.bulk_create(
        [
            link_model(organization=organization, label=label, added_by=actor, **{f"{owner}_id": thing_id})
            for thing_id in changed
        ],
        ignore_conflicts=True,
    )
    return changed


def links_remove(
    link_model: type[models.Model], owner: str, *, organization: Organization, things: Sequence[Any], label: Label
) -> list[int]:
    """Take ``label`` off the things; the ids of those that had it."""
    _check(organization, things, label)
    links = link_model._default_manager.filter(
        organization=organization, label=label, **{f"{owner}_id__in": [thing.pk for thing in things]}
    )
    changed = sorted(links.values_list(f"{owner}_id", flat=True))
    links.delete()
    return changed


def labels_by_owner(
    link_model: type[models.Model], owner: str, *, organization_id: int, owner_ids: Iterable[int]
) -> dict[int, list[Label]]:
    """Each thing's labels, by name: one query of plain values (lists are polled)."""
    by_owner: dict[int, list[Label]] = {owner_id: [] for owner_id in owner_ids}
    if not by_owner:
        return by_owner
    rows = (
        link_model._default_manager.filter(organization_id=organization_id, **{f"{owner}_id__in": list(by_owner)})
        .order_by("label__name", "label_id")
        .values_list(f"{owner}_id", "label_id", "label__name", "label__color")
    )
    labels: dict[int, Label] = {}
    for owner_id, label_id, name, color in rows:
        if label_id not in labels:
            labels[label_id] = Label(id=label_id, organization_id=organization_id, name=name, color=color)
        by_owner[owner_id].append(labels[label_id])
    return by_owner
