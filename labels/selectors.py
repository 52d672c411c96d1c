"""Reads of an organization's labels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

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


def label_list_with_usage(*, organization: Organization) -> QuerySet[Label]:
    """The labels with ``conversation_count`` and ``ticket_count`` (Settings → Labels, for
    admins: every conversation and ticket of the organization counts). One query. The
    links are reached through the model's relations: this layer imports neither messenger
    nor tickets."""

    def _count(relation: str) -> Any:
        model = Label._meta.get_field(relation).related_model
        assert model is not None and not isinstance(model, str)
        counted = (
            model._default_manager.filter(organization=organization, label=OuterRef("pk"))
            .order_by()
            .values("label")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))

    return label_list(organization=organization).annotate(
        conversation_count=_count("conversation_links"), ticket_count=_count("ticket_links")
    )
