"""The body of an event as receivers get it: `{"id", "type", "created_at", "data"}`, where
`data` is the resource in the REST API's own shape (its serializers), as it is at the first
delivery. Written once per event and kept: every retry and "send again" sends the same bytes."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from rest_framework.utils.encoders import JSONEncoder

from channels.api import LinkedPageSerializer
from helpdesk.signals import CONVERSATION, MESSAGE, PAGE, TICKET
from messenger.api.serializers import ConversationSerializer, MessageSerializer
from messenger.models import Conversation, FacebookPage, Message
from messenger.pages import selectors as page_selectors
from messenger.selectors import conversations as conversation_selectors
from outgoing.models import OutgoingEvent
from outgoing.sql import rows_update
from tickets import selectors as tickets_selectors
from tickets.api import TicketSerializer
from tickets.models import Ticket


def _conversations(organization_id: int, ids: list[int]) -> dict[int, Any]:
    rows = list(
        Conversation.objects.filter(organization_id=organization_id, pk__in=ids).select_related(
            "channel", "contact", "assignee", "sla"
        )
    )
    conversation_selectors.with_labels(rows)
    return dict(zip((row.pk for row in rows), ConversationSerializer(rows, many=True).data, strict=True))


def _messages(organization_id: int, ids: list[int]) -> dict[int, Any]:
    rows = list(Message.objects.filter(organization_id=organization_id, pk__in=ids).select_related("author"))
    return dict(zip((row.pk for row in rows), MessageSerializer(rows, many=True).data, strict=True))


def _tickets(organization_id: int, ids: list[int]) -> dict[int, Any]:
    rows = list(
        Ticket.objects.filter(organization_id=organization_id, pk__in=ids).select_related(
            "department", "channel", "contact", "assignee"
        )
    )
    tickets_selectors.with_labels(rows)
    return dict(zip((row.pk for row in rows), TicketSerializer(rows, many=True).data, strict=True))


def _pages(organization_id: int, ids: list[int]) -> dict[int, Any]:
    """A linked page as the channels API lists it, with its channel's id."""
    rows = FacebookPage.objects.filter(organization_id=organization_id, pk__in=ids).defer("access_token_encrypted")
    return {
        row.pk: {**LinkedPageSerializer(page_selectors.linked_page(row)).data, "channel_id": row.channel_id}
        for row in rows
    }


READERS: dict[str, Callable[[int, list[int]], dict[int, Any]]] = {
    CONVERSATION: _conversations,
    MESSAGE: _messages,
    TICKET: _tickets,
    PAGE: _pages,
}


def event_body(event: OutgoingEvent, data: Any) -> str:
    return json.dumps(
        {
            "id": str(event.public_id),
            "type": event.type,
            "created_at": event.created_at,
            "data": data if data is not None else {"id": event.resource_id},
        },
        cls=JSONEncoder,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def bodies_write(event_ids: Iterable[int]) -> None:
    """Write the bodies of those of the events that have none yet (a few queries per resource
    kind, whatever their number). Two senders writing the same event keep the first one's."""
    events = list(OutgoingEvent.objects.filter(pk__in=list(event_ids), body=""))
    if not events:
        return
    wanted: dict[tuple[int, str], list[int]] = defaultdict(list)
    for event in events:
        wanted[(event.organization_id, event.resource)].append(event.resource_id)
    found = {key: READERS[key[1]](key[0], ids) for key, ids in wanted.items() if key[1] in READERS}
    bodies = {
        event.pk: event_body(event, found.get((event.organization_id, event.resource), {}).get(event.resource_id))
        for event in events
    }
    # One statement. Two senders writing the same event's body at once write the same
    # resource, nearly at once: either body is the event's (retries then keep the stored one).
    rows_update(OutgoingEvent, ["body"], list(bodies.items()))
