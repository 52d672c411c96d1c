"""Reads of outgoing webhooks, always within one organization (another's endpoint or delivery
is not found)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from helpdesk.exceptions import NotFound
from helpdesk.models import Organization
from outgoing.models import Delivery, WebhookEndpoint


def _as_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound from None


def endpoint_list(*, organization: Organization) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization=organization).order_by("pk")


def endpoint_get(*, organization: Organization, endpoint_id: Any) -> WebhookEndpoint:
    endpoint = endpoint_list(organization=organization).filter(pk=_as_id(endpoint_id)).first()
    if endpoint is None:
        raise NotFound
    return endpoint


def delivery_list(*, organization: Organization, endpoint: WebhookEndpoint) -> QuerySet[Delivery]:
    """The endpoint's delivery log, newest first, each with its event (id, type, body)."""
    return Delivery.objects.filter(organization=organization, endpoint=endpoint).select_related("event").order_by("-pk")


def delivery_get(*, organization: Organization, endpoint: WebhookEndpoint, delivery_id: Any) -> Delivery:
    delivery = delivery_list(organization=organization, endpoint=endpoint).filter(pk=_as_id(delivery_id)).first()
    if delivery is None:
        raise NotFound
    return delivery
