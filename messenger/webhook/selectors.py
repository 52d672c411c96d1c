"""Reads of the raw webhook event log, always within one organization."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from helpdesk.converters import parse_id, search_term
from helpdesk.exceptions import NotFound
from helpdesk.models import Organization
from messenger.models import WebhookEvent, WebhookOutcome
from messenger.webhook import parsed

# The kinds an admin can filter on (the log may also hold ignored, unknown and test kinds).
FILTER_KINDS = (
    parsed.MESSAGE,
    parsed.ECHO,
    parsed.POSTBACK,
    parsed.DELIVERY,
    parsed.READ,
    parsed.REACTION,
    parsed.MESSAGE_EDIT,
    parsed.REFERRAL,
    parsed.OPTIN,
    parsed.CHANGES,
    parsed.UNKNOWN,
)


def webhook_event_list(
    *, organization: Organization, outcome: str = "", kind: str = "", search: str = ""
) -> QuerySet[WebhookEvent]:
    """Newest first. `search` matches a message id, or the text of a message, edit or postback."""
    events = WebhookEvent.objects.filter(organization=organization)
    if outcome in WebhookOutcome.values:
        events = events.filter(outcome=outcome)
    kind = search_term(kind, max_length=30)
    if kind:
        events = events.filter(kind=kind)
    search = search_term(search)
    if search:
        events = events.filter(
            Q(mid__icontains=search)
            | Q(payload__message__text__icontains=search)
            | Q(payload__message_edit__text__icontains=search)
            | Q(payload__postback__title__icontains=search)
        )
    return events.order_by("-received_at", "-id")


def webhook_event_get(*, organization: Organization, event_id: int | str) -> WebhookEvent:
    event = WebhookEvent.objects.filter(organization=organization, pk=parse_id(event_id)).first()
    if event is None:
        raise NotFound
    return event
