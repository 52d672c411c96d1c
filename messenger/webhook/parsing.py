"""Pure parsing of a verified webhook body into `ParsedEvent`s.

No database, no settings, no clock: the caller passes the moment the body arrived. Each
event kind has one parsing function (`PARSERS`); kinds the product knows and does not
handle are listed in `IGNORED_KINDS`; anything else is an unknown kind, kept raw and
ignored. Nothing here raises on a strange payload: a value of the wrong type is treated
as absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from messenger.webhook.parsed import (
    CHANGES,
    DELIVERY,
    ECHO,
    IGNORED_KINDS,
    KIND_OPTIN,
    KIND_POSTBACK,
    KIND_REFERRAL,
    MALFORMED,
    MESSAGE,
    MESSAGE_EDIT,
    OBJECT_PREFIX,
    OPTIN,
    POSTBACK,
    REACTION,
    READ,
    REASON_CHANGES_NOT_HANDLED,
    REASON_DASHBOARD_TEST,
    REASON_MALFORMED,
    REASON_NO_SENDER,
    REASON_NO_TARGET,
    REASON_NOT_HANDLED,
    REASON_UNKNOWN_KIND,
    REASON_UNSUPPORTED_OBJECT,
    REFERRAL,
    UNKNOWN,
    Content,
    Edit,
    ParsedEvent,
    Reaction,
    Receipt,
)
from messenger.webhook.payload import (
    MAX_COUNT,
    MAX_PAYLOAD,
    as_dict,
    as_id,
    as_int,
    as_list,
    as_text,
    customer_id,
    derived_mid,
    message_content,
    moment,
    party,
    referral_attachment,
    timestamp_ms,
)

# --------------------------------------------------------------------------- one parser per kind


@dataclass(frozen=True, slots=True)
class _Item:
    page_id: str
    item: Mapping[str, Any]
    received_at: datetime
    standby: bool

    def base(self, kind: str, **fields: Any) -> ParsedEvent:
        ms = timestamp_ms(self.item.get("timestamp"))
        fields.setdefault("occurred_at", moment(ms, self.received_at))
        return ParsedEvent(
            kind=kind,
            page_id=self.page_id,
            payload=self.item,
            received_at=self.received_at,
            timestamp_ms=ms or 0,
            standby=self.standby,
            **fields,
        )

    @property
    def sender(self) -> tuple[str, bool]:
        return party(self.item.get("sender"))


def parse_message(ctx: _Item) -> ParsedEvent:
    message = as_dict(ctx.item.get("message"))
    content = message_content(message)
    mid = as_id(message.get("mid"))
    if message.get("is_echo") is True:
        # Sender and recipient are swapped: the page wrote to the customer.
        customer, is_guest = party(ctx.item.get("recipient"))
        return ctx.base(
            ECHO,
            customer_id=customer,
            is_guest=is_guest,
            mid=mid or derived_mid(ECHO, ctx.item),
            detail=content,
            ignored_reason="" if customer else REASON_NO_SENDER,
        )
    customer, is_guest = ctx.sender
    return ctx.base(
        MESSAGE,
        customer_id=customer,
        is_guest=is_guest,
        mid=mid or derived_mid(MESSAGE, ctx.item),
        detail=content,
        ignored_reason="" if customer else REASON_NO_SENDER,
    )


def parse_postback(ctx: _Item) -> ParsedEvent:
    postback = as_dict(ctx.item.get("postback"))
    customer, is_guest = ctx.sender
    title = as_text(postback.get("title"), MAX_PAYLOAD)
    referral = as_dict(postback.get("referral"))
    content = Content(
        kind=KIND_POSTBACK,
        # The button's title is what the customer "said": the inbox shows it as the text.
        text=title,
        attachments=[referral_attachment(referral)] if referral else [],
        postback_title=title,
        postback_payload=as_text(postback.get("payload"), MAX_PAYLOAD),
    )
    return ctx.base(
        POSTBACK,
        customer_id=customer,
        is_guest=is_guest,
        mid=as_id(postback.get("mid")) or derived_mid(POSTBACK, ctx.item),
        detail=content,
        ignored_reason="" if customer else REASON_NO_SENDER,
    )


def parse_referral(ctx: _Item) -> ParsedEvent:
    customer, is_guest = ctx.sender
    content = Content(kind=KIND_REFERRAL, attachments=[referral_attachment(as_dict(ctx.item.get("referral")))])
    return ctx.base(
        REFERRAL,
        customer_id=customer,
        is_guest=is_guest,
        mid=derived_mid(REFERRAL, ctx.item),
        detail=content,
        ignored_reason="" if customer else REASON_NO_SENDER,
    )


def parse_optin(ctx: _Item) -> ParsedEvent:
    optin = as_dict(ctx.item.get("optin"))
    customer, is_guest = ctx.sender
    if not customer:
        # The checkbox plugin identifies the person only by the optin's user_ref.
        customer = customer_id(optin.get("user_ref"))
        is_guest = bool(customer)
    kept: dict[str, Any] = {"type": "optin"}
    for key in ("ref", "type", "payload", "notification_messages_frequency", "notification_messages_status"):
        value = as_text(optin.get(key), MAX_PAYLOAD)
        if value:
            kept["optin_type" if key == "type" else key] = value
    return ctx.base(
        OPTIN,
        customer_id=customer,
        is_guest=is_guest,
        mid=derived_mid(OPTIN, ctx.item),
        detail=Content(kind=KIND_OPTIN, attachments=[kept]),
        ignored_reason="" if customer else REASON_NO_SENDER,
    )


def _parse_receipt(kind: str) -> Callable[[_Item], ParsedEvent]:
    def parse(ctx: _Item) -> ParsedEvent:
        receipt = as_dict(ctx.item.get(kind))
        customer, is_guest = ctx.sender
        mids = tuple(m for m in (as_id(v) for v in as_list(receipt.get("mids")) if v is not None) if m)
        watermark = moment(timestamp_ms(receipt.get("watermark")), ctx.received_at)
        return ctx.base(
            kind,
            customer_id=customer,
            is_guest=is_guest,
            detail=Receipt(watermark=watermark, mids=mids),
            ignored_reason="" if customer and (watermark or mids) else REASON_NO_TARGET,
        )

    parse.__name__ = f"parse_{kind}"
    return parse


parse_delivery = _parse_receipt(DELIVERY)
parse_read = _parse_receipt(READ)


def parse_reaction(ctx: _Item) -> ParsedEvent:
    reaction = as_dict(ctx.item.get("reaction"))
    customer, is_guest = ctx.sender
    mid = as_id(reaction.get("mid"))
    action = "unreact" if as_text(reaction.get("action")) == "unreact" else "react"
    return ctx.base(
        REACTION,
        customer_id=customer,
        is_guest=is_guest,
        mid=mid,
        detail=Reaction(
            action=action, reaction=as_text(reaction.get("reaction"), 40), emoji=as_text(reaction.get("emoji"), 40)
        ),
        ignored_reason="" if mid and customer else REASON_NO_TARGET,
    )


def parse_message_edit(ctx: _Item) -> ParsedEvent:
    edit = as_dict(ctx.item.get("message_edit"))
    customer, is_guest = ctx.sender
    mid = as_id(edit.get("mid"))
    num_edit = as_int(edit.get("num_edit"))
    if num_edit is not None and num_edit > MAX_COUNT:
        num_edit = None
    return ctx.base(
        MESSAGE_EDIT,
        customer_id=customer,
        is_guest=is_guest,
        mid=mid,
        detail=Edit(text=as_text(edit.get("text")), num_edit=num_edit if num_edit and num_edit > 0 else 1),
        ignored_reason="" if mid else REASON_NO_TARGET,
    )


# Checked in this order: an edit or a reaction item never also carries `message`.
PARSERS: dict[str, Callable[[_Item], ParsedEvent]] = {
    "message": parse_message,
    "message_edit": parse_message_edit,
    "reaction": parse_reaction,
    "delivery": parse_delivery,
    "read": parse_read,
    "postback": parse_postback,
    "referral": parse_referral,
    "optin": parse_optin,
}


def item_kind(item: Mapping[str, Any]) -> str:
    """The key that names the item's kind: a handled one, an ignored one, or the first unknown one."""
    for key in PARSERS:
        if key in item:
            return key
    for key in item:
        if key in IGNORED_KINDS:
            return key
    return UNKNOWN


def parse_item(page_id: str, item: Any, *, received_at: datetime, standby: bool = False) -> ParsedEvent:
    """One `messaging` (or `standby`) item. Also used to re-run an event kept as pending."""
    if not isinstance(item, Mapping):
        return ParsedEvent(
            kind=MALFORMED, page_id=page_id, payload=item, received_at=received_at, ignored_reason=REASON_MALFORMED
        )
    ctx = _Item(page_id=page_id, item=item, received_at=received_at, standby=standby)
    key = item_kind(item)
    if key in PARSERS:
        return PARSERS[key](ctx)
    if key in IGNORED_KINDS:
        return ctx.base(key, ignored_reason=REASON_NOT_HANDLED)
    return ctx.base(UNKNOWN, ignored_reason=REASON_UNKNOWN_KIND)


def unknown_keys(item: Any) -> str:
    """For the log line of an unknown kind: the item's keys other than the envelope."""
    if not isinstance(item, Mapping):
        return type(item).__name__
    return ",".join(sorted(str(k) for k in item if k not in {"sender", "recipient", "timestamp"}))[:200]


def _entry_events(entry: Any, received_at: datetime) -> Iterator[ParsedEvent]:
    if not isinstance(entry, Mapping):
        yield ParsedEvent(
            kind=MALFORMED, page_id="", payload=entry, received_at=received_at, ignored_reason=REASON_MALFORMED
        )
        return
    page_id = as_id(entry.get("id"))
    found = False
    for key, standby in (("messaging", False), ("standby", True)):
        items = entry.get(key)
        if isinstance(items, list):
            found = True
            for item in items:
                yield parse_item(page_id, item, received_at=received_at, standby=standby)
    changes = entry.get("changes")
    if isinstance(changes, list):
        found = True
        # The App Dashboard's "Test" button uses page id "0"; real `changes` (feed and the
        # like) are not subscribed to by this product.
        reason = REASON_DASHBOARD_TEST if page_id == "0" else REASON_CHANGES_NOT_HANDLED
        for change in changes:
            yield ParsedEvent(
                kind=CHANGES, page_id=page_id, payload=change, received_at=received_at, ignored_reason=reason
            )
    if not found:
        yield ParsedEvent(
            kind=MALFORMED, page_id=page_id, payload=entry, received_at=received_at, ignored_reason=REASON_MALFORMED
        )


def parse_body(body: Any, *, received_at: datetime) -> list[ParsedEvent]:
    """Every event of a POST, in the order received (the ingest orders them by timestamp)."""
    document = as_dict(body)
    subject = document.get("object")
    if subject != "page":
        name = as_text(subject, 20) or "missing"
        return [
            ParsedEvent(
                kind=OBJECT_PREFIX + name,
                page_id="",
                payload=body,
                received_at=received_at,
                ignored_reason=REASON_UNSUPPORTED_OBJECT,
            )
        ]
    entries = document.get("entry")
    if not isinstance(entries, list) or not entries:
        return [
            ParsedEvent(
                kind=MALFORMED, page_id="", payload=body, received_at=received_at, ignored_reason=REASON_MALFORMED
            )
        ]
    return [event for entry in entries for event in _entry_events(entry, received_at)]


def parse_stored(kind: str, page_id: str, payload: Any, *, received_at: datetime, standby: bool = False) -> ParsedEvent:
    """An event read back from the log (the retry of pending events), parsed as it was at
    arrival: `standby` says it came in an entry's `standby` list (the log's row tells)."""
    if kind == CHANGES:
        reason = REASON_DASHBOARD_TEST if page_id == "0" else REASON_CHANGES_NOT_HANDLED
        return ParsedEvent(kind=kind, page_id=page_id, payload=payload, received_at=received_at, ignored_reason=reason)
    if kind == MALFORMED:
        return ParsedEvent(
            kind=kind, page_id=page_id, payload=payload, received_at=received_at, ignored_reason=REASON_MALFORMED
        )
    if kind.startswith(OBJECT_PREFIX):
        return ParsedEvent(
            kind=kind,
            page_id=page_id,
            payload=payload,
            received_at=received_at,
            ignored_reason=REASON_UNSUPPORTED_OBJECT,
        )
    return parse_item(page_id, payload, received_at=received_at, standby=standby)
