"""Reads of an organization's labels."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from helpdesk.exceptions import NotFound
from helpdesk.models import Organization
from labels.models import Label


def label_list(*, organization: Organization) -> QuerySet[Label]:
    """The organization's labels, by name (every member sees them: a label is a word, not data)."""
    return Label.objects.filter(organization=organization).order_by("name", "id")


def label_get(*, organization: Organization, label_id: int | str) -> Label:
    try:
        return Label.objects.get(organization=organization, pk=int(label_id))
    except (Label.DoesNotExist, ValueError, TypeError):
        raise NotFound from None


def labels_get(*, organization: Organization, label_ids: Iterable[int]) -> list[Label]:
    """These labels of the organization; NotFound when one of them is not (of) it."""
    wanted = set(label_ids)
    labels = list(Label.objects.filter(organization=organization, pk__in=wanted))
    if len(labels) != len(wanted):
        raise NotFound
    return labels
