"""Applying a routed batch, step by step and set-based, inside the caller's transaction:
echoes of what this app sent, new messages (messenger.webhook.messages), reactions and
edits, delivery and read receipts. The number of statements does not grow with the batch.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from django.db.models import DateTimeField, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from messenger.conversation_changes import EDIT, REACTION, STATUS
from messenger.models import Direction, Message, MessageStatus, WebhookOutcome
from messenger.services.search import message_search_texts_refresh
from messenger.webhook import parsed
from messenger.webhook.messages import messages_store
from messenger.webhook.outcomes import (
    REASON_NOTHING_TO_UPDATE,
    REASON_UNKNOWN_MESSAGE,
    BatchResult,
    ConversationChanged,
    Outcome,
)
from messenger.webhook.parsed import Content, Edit, ParsedEvent, Reaction, Receipt
from messenger.webhook.route import Customer, RoutedBatch, RoutedEvent, creates_message, in_time_order, is_own_echo

# An echo proves that a message went out, even after a send call that timed out or failed.
_ADVANCE_TO_SENT = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.FAILED)


def batch_apply(batch: RoutedBatch) -> BatchResult:
    """Apply what was routed to live channels; returns every event's outcome."""
    outcomes = batch.outcomes
    result = BatchResult(outcomes)
    routed = batch.routed
    own_echoes = [item for item in routed if is_own_echo(item.event)]
    creating = [item for item in routed if creates_message(item.event)]
    if own_echoes:
        unmatched = own_echoes_reconcile(own_echoes, outcomes, result)
        if unmatched:
            # Sent by this app but unknown here (another installation, a lost row): shown as
            # sent outside the helpdesk rather than dropped.
            creating = sorted(creating + unmatched, key=lambda item: in_time_order(item.index, item.event))
    if creating:
        messages_store(creating, batch.customers, outcomes, result)
    reactions_and_edits = [item for item in routed if item.event.kind in (parsed.REACTION, parsed.MESSAGE_EDIT)]
    if reactions_and_edits:
        reactions_and_edits_apply(reactions_and_edits, outcomes, result)
    receipts = [item for item in routed if item.event.kind in (parsed.DELIVERY, parsed.READ)]
    if receipts:
        receipts_apply(receipts, outcomes, result, batch.customers)
    return result


def _with_conversation(messages: QuerySet[Message]) -> QuerySet[Message]:
    """Messages read with their conversation's channel and assignee (who is told of a change),
    in the same query; only the messages are locked."""
    return messages.annotate(
        conversation_channel_id=F("conversation__channel_id"), conversation_assignee_id=F("conversation__assignee_id")
    )


def _changed(message: Message, what: str) -> ConversationChanged:
    return ConversationChanged(
        message.conversation_id,
        what,
        message.organization_id,
        message.conversation_channel_id,  # type: ignore[attr-defined]
        message.conversation_assignee_id,  # type: ignore[attr-defined]
    )


# --------------------------------------------------------------------------- own echoes


def own_echoes_reconcile(echoes: list[RoutedEvent], outcomes: list[Outcome], result: BatchResult) -> list[RoutedEvent]:
    """Confirm the outbound messages this app sent; returns the echoes matching none."""
    keys: dict[int, uuid.UUID] = {}  # index → the Send API metadata, when it is one of our keys
    for item in echoes:
        content = item.event.detail
        assert isinstance(content, Content)
        try:
            keys[item.index] = uuid.UUID(content.metadata)
        except ValueError:
            pass
    condition = Q(mid__in=sorted({item.event.mid for item in echoes}))
    if keys:
        condition |= Q(idempotency_key__in=list(keys.values()))
    candidates = list(
        _with_conversation(Message.objects.select_for_update(of=("self",)))
        .filter(condition, page_id__in={item.route.page_pk for item in echoes}, direction=Direction.OUTBOUND)
        .order_by("pk")
    )
    by_key = {m.idempotency_key: m for m in candidates if m.idempotency_key}
    by_mid = {(m.page_id, m.mid): m for m in candidates if m.mid}
    changed: dict[int, Message] = {}
    unmatched = []
    for item in echoes:
        key = keys.get(item.index)
        message = by_mid.get((item.route.page_pk, item.event.mid)) or (by_key.get(key) if key else None)
        if message is None or message.page_id != item.route.page_pk:
            unmatched.append(item)
            continue
        dirty = False
        if not message.mid:
            message.mid = item.event.mid
            dirty = True
        if message.status in _ADVANCE_TO_SENT:
            message.status = MessageStatus.SENT
            message.error_code = message.error_message = ""
            dirty = True
            result.sent.append((message.organization_id, message.conversation_id, message.pk))
        if dirty:
            changed[message.pk] = message
            outcomes[item.index].set(WebhookOutcome.STORED)
            result.changed.append(_changed(message, STATUS))
        else:
            outcomes[item.index].set(WebhookOutcome.DUPLICATE)
    if changed:
        Message.objects.bulk_update(list(changed.values()), ["mid", "status", "error_code", "error_message"])
    return unmatched


# --------------------------------------------------------------------------- reactions and edits


def reactions_and_edits_apply(items: list[RoutedEvent], outcomes: list[Outcome], result: BatchResult) -> None:
    """Each reaction or edit changes the message it names (locked), in time order."""
    condition = Q()
    for page_pk in sorted({item.route.page_pk for item in items}):
        mids = sorted({item.event.mid for item in items if item.route.page_pk == page_pk})
        condition |= Q(page_id=page_pk, mid__in=mids)
    messages = {
        (m.page_id, m.mid): m
        for m in _with_conversation(Message.objects.select_for_update(of=("self",))).filter(condition).order_by("pk")
    }
    changed: dict[int, Message] = {}
    edited: dict[int, Message] = {}
    for item in items:
        event = item.event
        message = messages.get((item.route.page_pk, event.mid))
        if message is None:
            outcomes[item.index].set(WebhookOutcome.IGNORED, REASON_UNKNOWN_MESSAGE)
            continue
        if isinstance(event.detail, Reaction):
            dirty = reaction_apply(message, event, event.detail)
        else:
            assert isinstance(event.detail, Edit)
            dirty = edit_apply(message, event, event.detail)
            if dirty:
                edited[message.pk] = message
        if dirty:
            changed[message.pk] = message
            outcomes[item.index].set(WebhookOutcome.STORED)
            if not message.is_hidden:
                result.changed.append(_changed(message, REACTION if isinstance(event.detail, Reaction) else EDIT))
        else:
            outcomes[item.index].set(WebhookOutcome.DUPLICATE)
    if changed:
        Message.objects.bulk_update(list(changed.values()), ["reactions", "text", "edit_count", "edited_at"])
        message_search_texts_refresh(edited.values())


def reaction_apply(message: Message, event: ParsedEvent, reaction: Reaction) -> bool:
    """Each reactor's current reaction; an older event never overrides a newer one."""
    reactions = dict(message.reactions) if isinstance(message.reactions, dict) else {}
    current = reactions.get(event.customer_id)
    if isinstance(current, dict) and int(current.get("at") or 0) > event.timestamp_ms:
        return False
    if reaction.action == "unreact":
        if current is None:
            return False
        del reactions[event.customer_id]
    else:
        wanted = {"reaction": reaction.reaction, "emoji": reaction.emoji, "at": event.timestamp_ms}
        if current == wanted:
            return False
        reactions[event.customer_id] = wanted
    message.reactions = reactions
    return True


def edit_apply(message: Message, event: ParsedEvent, edit: Edit) -> bool:
    """The latest edit wins: the same (or an older) num_edit changes nothing."""
    if edit.num_edit <= message.edit_count:
        return False
    message.text = edit.text
    message.edit_count = edit.num_edit
    message.edited_at = event.occurred_at or timezone.now()
    return True


# --------------------------------------------------------------------------- receipts


def receipts_apply(
    receipts: list[RoutedEvent],
    outcomes: list[Outcome],
    result: BatchResult,
    customers: dict[tuple[int, str], Customer],
) -> None:
    """Per customer and kind, one UPDATE that advances every earlier outbound message."""
    grouped: dict[tuple[str, int, str], list[RoutedEvent]] = defaultdict(list)
    for item in receipts:
        grouped[(item.event.kind, item.route.page_pk, item.event.customer_id)].append(item)
    for (kind, page_pk, customer), items in sorted(grouped.items()):
        details = [item.event.detail for item in items if isinstance(item.event.detail, Receipt)]
        watermarks = [d.watermark for d in details if d.watermark]
        watermark = max(watermarks) if watermarks else None
        mids = sorted({mid for d in details for mid in d.mids})
        scope = Message.objects.filter(
            organization_id=items[0].route.organization_id,
            page_id=page_pk,
            conversation__contact__psid=customer,
            direction=Direction.OUTBOUND,
        )
        reached = Q(mid__in=mids) if mids else Q()
        if watermark:
            reached = (reached | Q(sent_at__lte=watermark)) if mids else Q(sent_at__lte=watermark)
        at = watermark or max(item.event.occurred_at or item.event.received_at for item in items)
        if kind == parsed.DELIVERY:
            updated = scope.filter(reached, status=MessageStatus.SENT).update(
                status=MessageStatus.DELIVERED, delivered_at=at
            )
        else:
            updated = scope.filter(reached, status__in=(MessageStatus.SENT, MessageStatus.DELIVERED)).update(
                status=MessageStatus.READ,
                read_at=at,
                delivered_at=Coalesce("delivered_at", Value(at, output_field=DateTimeField())),
            )
        customer_known = customers.get((page_pk, customer))
        if updated and customer_known and customer_known.conversation_id and customer_known.channel_id:
            result.changed.append(
                ConversationChanged(
                    customer_known.conversation_id,
                    STATUS,
                    items[0].route.organization_id,
                    customer_known.channel_id,
                    customer_known.assignee_id,
                )
            )
        for item in items:
            if updated:
                outcomes[item.index].set(WebhookOutcome.STORED)
            else:
                outcomes[item.index].set(WebhookOutcome.IGNORED, REASON_NOTHING_TO_UPDATE)
