"""Applying the events that bring a message (message, postback, referral, opt-in, an echo
of a message sent outside the helpdesk): the customer's contact and conversation, created
when missing, the message rows, and one UPDATE for the conversations they touch.

Conversations are updated relative to the locked row (the latest message wins, unread
counts add up) and messages inserted in (page, mid) order, so that concurrent POSTs about
the same customers queue instead of losing updates or deadlocking. The statements are plain
SQL (messenger.webhook.sql): the ORM's query compilation costs more than the database here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import translation

from messenger.conversation_changes import AGENT_MESSAGE, CREATED, CUSTOMER_MESSAGE
from messenger.models import (
    Contact,
    Conversation,
    Direction,
    Message,
    MessageKind,
    MessageSource,
    MessageStatus,
    WebhookOutcome,
)
from messenger.previews import message_preview
from messenger.services.attachments.caps import attachments_cap, downloadable_message_ids
from messenger.services.contacts import contact_fallback_name
from messenger.webhook import parsed
from messenger.webhook.conversations import ConversationBump, conversations_bump
from messenger.webhook.outcomes import (
    BatchResult,
    ConversationChanged,
    CustomerWrote,
    Outcome,
    QuickReplied,
    message_reason,
)
from messenger.webhook.parsed import Content, ParsedEvent
from messenger.webhook.route import Customer, Route, RoutedEvent, is_rating_answer, repeated_deliveries
from messenger.webhook.sql import insert_rows

# Customer-originated kinds that open Messenger's reply window and, unless they answer a rating
# (route.is_rating_answer), count as "the customer wrote": unread, waiting, reopening, routing.
_CUSTOMER_WROTE = frozenset({MessageKind.TEXT, MessageKind.ATTACHMENT, MessageKind.STICKER, MessageKind.POSTBACK})


@dataclass(frozen=True, slots=True)
class Wanted:
    """A customer a batch writes for: on this route, a chat-plugin guest or not, first heard of
    in the POST that arrived then."""

    route: Route
    is_guest: bool
    received_at: datetime


@dataclass(slots=True)
class NewMessage:
    """The message an event brings, before it is stored."""

    index: int  # the event's place in its POST
    columns: dict[str, Any]  # its Message fields by attname, as insert_rows takes them
    inbound: bool
    customer_wrote: bool  # it counts as the customer writing (unread, waiting, reopening, routing)
    answers: bool  # an answer sent outside the helpdesk (an echo): the customer waits no more
    preview: str = ""  # in its organization's language, once placed
    opens_window: bool = False  # the customer's, it opens Messenger's reply window (last_inbound_at)

    @property
    def key(self) -> tuple[int, str]:
        return (self.columns["page_id"], self.columns["mid"])

    def place(self, route: Route, customer: Customer) -> None:
        """Put it in the customer's conversation on the route's page."""
        self.columns.update(
            organization_id=route.organization_id,
            conversation_id=customer.conversation_id,
            page_id=route.page_pk,
            # A blocked customer's messages are kept but not shown.
            is_hidden=self.inbound and customer.is_blocked,
        )
        with translation.override(route.language):
            self.preview = self.preview_now()

    def preview_now(self) -> str:
        """Its preview in the active language."""
        c = self.columns
        return message_preview(kind=c["kind"], text=c["text"], attachments=c["attachments"], sticker_id=c["sticker_id"])

    def previews(self) -> dict[str, str]:
        """Its preview in each language of the product (its text alike in all)."""
        if " ".join(self.columns["text"].split()):
            return dict.fromkeys((code for code, _name in settings.LANGUAGES), self.preview_now())
        previews = {}
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                previews[code] = self.preview_now()
        return previews


# The Message columns a message takes from its event (`message_new`); the others come from its
# page and customer (`NewMessage.place`) or take their default.
EVENT_COLUMNS = (
    "direction",
    "source",
    "kind",
    "status",
    "mid",
    "text",
    "attachments",
    "sticker_id",
    "quick_reply_payload",
    "reply_to_mid",
    "postback_title",
    "postback_payload",
    "sent_at",
    "received_at",
)


def message_new(index: int, event: ParsedEvent) -> NewMessage:
    """What the message row holds of the event itself (not yet of its page or customer)."""
    content = event.detail
    assert isinstance(content, Content)
    inbound = event.kind != parsed.ECHO
    columns = {
        "direction": Direction.INBOUND if inbound else Direction.OUTBOUND,
        "source": MessageSource.CUSTOMER if inbound else MessageSource.EXTERNAL,
        "kind": content.kind,
        "status": MessageStatus.RECEIVED if inbound else MessageStatus.SENT,
        "mid": event.mid,
        "text": content.text,
        "attachments": content.attachments,
        "sticker_id": content.sticker_id,
        "quick_reply_payload": content.quick_reply_payload,
        "reply_to_mid": content.reply_to_mid,
        "postback_title": content.postback_title,
        "postback_payload": content.postback_payload,
        "sent_at": event.occurred_at or event.received_at,
        "received_at": event.received_at,
    }
    opens_window = inbound and content.kind in _CUSTOMER_WROTE
    return NewMessage(
        index,
        columns,
        inbound=inbound,
        customer_wrote=opens_window and not is_rating_answer(content.quick_reply_payload),
        answers=not inbound,
        opens_window=opens_window,
    )


def messages_store(
    creating: Sequence[RoutedEvent],
    customers: dict[tuple[int, str], Customer],
    outcomes: list[Outcome],
    result: BatchResult,
) -> None:
    """Store the messages of `creating` (in time order); sets their outcomes. In a transaction."""
    wanted: dict[tuple[int, str], Wanted] = {}
    for item in creating:
        wanted.setdefault(
            (item.route.page_pk, item.event.customer_id),
            Wanted(item.route, item.event.is_guest, item.event.received_at),
        )
    placed, new_contact_ids, new_conversation_ids = customers_resolve(wanted, customers)
    result.new_contact_ids.extend(new_contact_ids)
    repeats = repeated_deliveries((item.index, item.event, item.route.page_pk) for item in creating)
    standby = {item.index: item.event.standby for item in creating}
    messages: list[NewMessage] = []
    for item in creating:
        if item.index in repeats:
            reason = message_reason(hidden=False, capped=False, standby=item.event.standby)
            outcomes[item.index].set(WebhookOutcome.DUPLICATE, reason)
            continue
        message = message_new(item.index, item.event)
        message.place(item.route, placed[(item.route.page_pk, item.event.customer_id)])
        messages.append(message)
    # The caps count in the order of the POST, as the one statement does.
    messages.sort(key=lambda m: m.index)
    capped = {
        m.index for m, marked in zip(messages, attachments_cap([m.columns for m in messages]), strict=True) if marked
    }
    messages.sort(key=lambda m: m.key)
    inserted = {
        (page_pk, mid): pk
        for pk, page_pk, mid in insert_rows(
            Message, [m.columns for m in messages], returning=("id", "page", "mid"), ignore_conflicts=True
        )
    }
    result.download_message_ids.extend(downloadable_message_ids((m.columns, inserted.get(m.key)) for m in messages))
    touched: dict[int, list[NewMessage]] = defaultdict(list)
    for message in messages:
        is_capped, in_standby = message.index in capped, standby[message.index]
        if message.key not in inserted:
            reason = message_reason(hidden=False, capped=is_capped, standby=in_standby)
            outcomes[message.index].set(WebhookOutcome.DUPLICATE, reason)
            continue
        hidden = message.columns["is_hidden"]
        outcomes[message.index].set(
            WebhookOutcome.STORED, message_reason(hidden=hidden, capped=is_capped, standby=in_standby)
        )
        if not hidden:
            touched[message.columns["conversation_id"]].append(message)
            if message.inbound:
                result.received.append(
                    (message.columns["organization_id"], message.columns["conversation_id"], inserted[message.key])
                )
            if message.inbound and message.columns["quick_reply_payload"]:
                result.quick_replied.append(
                    QuickReplied(
                        message.columns["organization_id"],
                        message.columns["conversation_id"],
                        inserted[message.key],
                        message.columns["quick_reply_payload"],
                    )
                )
    if touched:
        routes = {placed[(item.route.page_pk, item.event.customer_id)].conversation_id: item.route for item in creating}
        reopened = conversations_bump(
            [
                _bump(conversation_id, touched_by, assign_on=routes[conversation_id].assignment_on)
                for conversation_id, touched_by in touched.items()
            ]
        )
        result.announce_conversation_ids.extend(
            conversation_id
            for conversation_id in sorted(new_conversation_ids & touched.keys())
            if any(message.inbound for message in touched[conversation_id])
        )
        by_conversation = {customer.conversation_id: customer for customer in placed.values()}
        for conversation_id, touched_by in touched.items():
            customer, route = by_conversation[conversation_id], routes[conversation_id]
            if conversation_id in new_conversation_ids:
                whats = {CREATED}
                result.created.append((route.organization_id, conversation_id))
            else:
                whats = {CUSTOMER_MESSAGE if m.inbound else AGENT_MESSAGE for m in touched_by}
            result.changed.extend(
                ConversationChanged(
                    conversation_id,
                    what,
                    route.organization_id,
                    customer.channel_id or route.channel_id,
                    customer.assignee_id,
                )
                for what in sorted(whats)
            )
        fresh = new_conversation_ids | set(reopened)
        result.customer_wrote.extend(
            CustomerWrote(
                conversation_id,
                routes[conversation_id].channel_id,
                routes[conversation_id].department_id,
                max(m.columns["sent_at"] for m in wrote),
                conversation_id in fresh and routes[conversation_id].assignment_on,
            )
            for conversation_id, touched_by in sorted(touched.items())
            if (wrote := [m for m in touched_by if m.customer_wrote])
        )


# --------------------------------------------------------------------------- contacts and conversations


def customers_resolve(
    wanted: dict[tuple[int, str], Wanted], known: dict[tuple[int, str], Customer]
) -> tuple[dict[tuple[int, str], Customer], list[int], set[int]]:
    """The contact and conversation of each (page pk, customer id) → (route, is a chat-plugin
    guest), created when missing.

    Returns the customers, the ids of the contacts created here (their profiles are to be
    fetched) and the ids of the conversations created here.
    """
    customers = {key: known[key] for key in wanted if key in known and known[key].conversation_id is not None}
    missing = sorted(key for key in wanted if key not in customers)
    if not missing:
        return customers, [], set()

    # Contacts: insert the missing ones; those another request inserted first are read back.
    contacts: dict[tuple[int, str], tuple[int, bool]] = {
        key: (known[key].contact_id, known[key].is_blocked) for key in missing if key in known
    }
    contact_rows = []
    for key in missing:
        if key in contacts:
            continue
        route, is_guest = wanted[key].route, wanted[key].is_guest
        with translation.override(route.language):
            name = contact_fallback_name(psid=key[1], is_guest=is_guest)
        contact_rows.append(
            {
                "organization_id": route.organization_id,
                "page_id": key[0],
                "psid": key[1],
                "is_guest": is_guest,
                "display_name": name[:200],
                # There is no profile to fetch for a chat-plugin guest.
                "profile_fetched_at": wanted[key].received_at if is_guest else None,
            }
        )
    new_contact_ids = []
    for contact_id, page_pk, psid in insert_rows(
        Contact, contact_rows, returning=("id", "page", "psid"), ignore_conflicts=True
    ):
        contacts[(page_pk, psid)] = (contact_id, False)
        if not wanted[(page_pk, psid)].is_guest:
            new_contact_ids.append(contact_id)
    others = [key for key in missing if key not in contacts]
    if others:
        condition = Q()
        for page_pk, customer in others:
            condition |= Q(page_id=page_pk, psid=customer)
        for pk, page_pk, psid, is_blocked in Contact.objects.filter(condition).values_list(
            "pk", "page_id", "psid", "is_blocked"
        ):
            contacts[(page_pk, psid)] = (pk, is_blocked)

    # Conversations: the same, keyed by contact.
    conversation_rows = [
        {
            "organization_id": wanted[key].route.organization_id,
            "channel_id": wanted[key].route.channel_id,
            "department_id": wanted[key].route.department_id,
            "page_id": key[0],
            "contact_id": contacts[key][0],
            # A new conversation of a channel that assigns by itself joins its queue.
            "queued_at": wanted[key].received_at if wanted[key].route.assignment_on else None,
        }
        for key in missing
    ]
    created = {
        (page_pk, contact_id): conversation_id
        for conversation_id, page_pk, contact_id in insert_rows(
            Conversation, conversation_rows, returning=("id", "page", "contact"), ignore_conflicts=True
        )
    }
    raced = []
    for key in missing:
        contact_id, is_blocked = contacts[key]
        conversation_id = created.get((key[0], contact_id))
        if conversation_id is None:
            raced.append(contact_id)
        customers[key] = Customer(
            contact_id=contact_id,
            page_pk=key[0],
            psid=key[1],
            is_blocked=is_blocked,
            conversation_id=conversation_id,
            channel_id=wanted[key].route.channel_id,
        )
    if raced:
        existing = {
            contact_id: (pk, channel_id, assignee_id)
            for contact_id, pk, channel_id, assignee_id in Conversation.objects.filter(
                contact_id__in=raced
            ).values_list("contact_id", "pk", "channel_id", "assignee_id")
        }
        for key in missing:
            resolved = customers[key]
            if resolved.conversation_id is None:
                resolved.conversation_id, resolved.channel_id, resolved.assignee_id = existing[resolved.contact_id]
    return customers, new_contact_ids, set(created.values())


def _bump(conversation_id: int, messages: list[NewMessage], *, assign_on: bool) -> ConversationBump:
    latest = max(messages, key=lambda m: (m.columns["sent_at"], m.index))
    wrote = [m.columns["sent_at"] for m in messages if m.customer_wrote]
    answered = max((m.columns["sent_at"] for m in messages if m.answers), default=None)
    return ConversationBump(
        conversation_id=conversation_id,
        last_at=latest.columns["sent_at"],
        preview=latest.preview,
        last_in=max((m.columns["sent_at"] for m in messages if m.opens_window), default=None),
        last_wrote=max(wrote, default=None),
        wrote=len(wrote),
        first_in=min(wrote, default=None),
        answered=answered,
        assign_on=assign_on,
        waits_from=min((at for at in wrote if answered is None or at > answered), default=None),
    )
