"""Pure parsing of a verified webhook body into `ParsedEvent`s.

No database, no settings, no clock: the caller passes the moment the body arrived. Each
event kind has one parsing function (`PARSERS`); kinds the product knows and does not
handle are listed in `IGNORED_KINDS`; anything else is an unknown kind, kept raw and
ignored. Nothing here raises on a strange payload: a value of the wrong type is treated
as absent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Event kinds as the event log names them.
MESSAGE = "message"
ECHO = "echo"
POSTBACK = "postback"
DELIVERY = "delivery"
READ = "read"
REACTION = "reaction"
MESSAGE_EDIT = "message_edit"
REFERRAL = "referral"
OPTIN = "optin"
CHANGES = "changes"
UNKNOWN = "unknown"
MALFORMED = "malformed"
OBJECT_PREFIX = "object:"

# Message kinds (messenger.models.MessageKind values; this module imports nothing of the project).
KIND_TEXT = "text"
KIND_ATTACHMENT = "attachment"
KIND_STICKER = "sticker"
KIND_POSTBACK = "postback"
KIND_REFERRAL = "referral"
KIND_OPTIN = "optin"

# Why an event was ignored (WebhookEvent.reason); the ingest adds the routing reasons.
REASON_NOT_HANDLED = "not_handled"
REASON_UNKNOWN_KIND = "unknown_kind"
REASON_DASHBOARD_TEST = "dashboard_test"
REASON_CHANGES_NOT_HANDLED = "changes_not_handled"
REASON_UNSUPPORTED_OBJECT = "unsupported_object"
REASON_MALFORMED = "malformed"
REASON_NO_SENDER = "no_sender"
REASON_NO_TARGET = "no_target"

# Kinds Facebook may send that the helpdesk knowingly does not act on (handover protocol
# control, account linking, payments, games, policy notices, feedback forms…).
IGNORED_KINDS = frozenset(
    {
        "account_linking",
        "app_roles",
        "checkout_update",
        "game_play",
        "messaging_feedback",
        "pass_thread_control",
        "payment",
        "policy_enforcement",
        "pre_checkout",
        "request_thread_control",
        "take_thread_control",
    }
)

# The "like" thumbs-up is a sticker with one of these ids (small, medium, large).
LIKE_STICKER_IDS = frozenset({"369239263222822", "369239343222814", "369239383222810"})

# Values are cut to what the columns hold: Facebook's own limits are below these.
_MAX_PAYLOAD = 1000
_MAX_ID = 255
# A customer id longer than Contact.psid holds is no id at all (cut, two could merge).
_MAX_CUSTOMER_ID = 100
_MAX_COUNT = 2**31 - 1  # counters are 32-bit integer columns
# Timestamps below this are seconds (the dashboard's test shape), above it milliseconds.
_SECONDS_CEILING = 100_000_000_000


@dataclass(frozen=True, slots=True)
class Content:
    """What a message, echo, postback, referral or opt-in says (becomes a Message row)."""

    kind: str
    text: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    sticker_id: str = ""
    quick_reply_payload: str = ""
    reply_to_mid: str = ""
    postback_title: str = ""
    postback_payload: str = ""
    # Echoes only: the app that sent it and the Send API metadata it carried.
    app_id: str = ""
    metadata: str = ""


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery or read watermark: every message sent up to it is delivered / read."""

    watermark: datetime | None
    mids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reaction:
    action: str  # "react" or "unreact"
    reaction: str = ""
    emoji: str = ""


@dataclass(frozen=True, slots=True)
class Edit:
    text: str
    num_edit: int


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """One event of a POST. `payload` is the item exactly as received (kept in the event log)."""

    kind: str
    page_id: str
    payload: Any
    # Facebook's timestamp, never later than the moment the body arrived; None when absent.
    occurred_at: datetime | None = None
    # Milliseconds as sent, for ordering events of the same moment and for reaction recency.
    timestamp_ms: int = 0
    # The customer: sender for inbound kinds, recipient for echoes (PSID or chat-plugin user_ref).
    customer_id: str = ""
    is_guest: bool = False
    # The message it is (message, echo, postback…) or is about (reaction, edit). For kinds
    # without a Facebook mid (referral, opt-in, old postbacks) a stable id derived from the item.
    mid: str = ""
    standby: bool = False
    detail: Content | Receipt | Reaction | Edit | None = None
    # Set when the event is recorded as ignored whatever its page.
    ignored_reason: str = ""


# --------------------------------------------------------------------------- the raw body

# Facebook's payloads nest about six levels deep. Far deeper bodies are refused: the JSON
# encoders that store and show a payload (and json.loads itself) recurse once per level.
MAX_NESTING = 64
# What neither PostgreSQL's text nor its jsonb can hold: NUL, and UTF-16 surrogates left
# unpaired. Both can only arrive as \u escapes (raw, they are not valid JSON or UTF-8).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
_MAY_BE_UNSTORABLE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"{text} does not fit a double")
    return number


def body_document(raw: bytes) -> Any:
    """The JSON document of a verified body, with every string made storable (U+FFFD for
    NUL and unpaired surrogates). ValueError when it is not usable JSON: not JSON, NaN or
    Infinity, a number no double holds, or nested deeper than MAX_NESTING."""
    try:
        document = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as error:
        raise ValueError("nested too deeply") from error
    # Only a body with that many brackets can be nested that deep: the walk is rarely needed.
    if raw.count(b"[") + raw.count(b"{") > MAX_NESTING and _nesting_exceeds(document, MAX_NESTING):
        raise ValueError("nested too deeply")
    if _MAY_BE_UNSTORABLE.search(raw):
        document = _storable(document)
    return document


def _nesting_exceeds(document: Any, limit: int) -> bool:
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _storable(value: Any) -> Any:
    """The same document with NUL and unpaired surrogates replaced (nesting is bounded here)."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    return value


# --------------------------------------------------------------------------- primitives


def as_id(value: Any) -> str:
    """Ids are strings on the wire, but captured payloads carry numbers too."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)[:_MAX_ID]
    if isinstance(value, str):
        return value.strip()[:_MAX_ID]
    return ""


def as_text(value: Any, limit: int | None = None) -> str:
    if isinstance(value, str):
        return value if limit is None else value[:limit]
    return ""


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value:  # not NaN
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def timestamp_ms(value: Any) -> int | None:
    number = as_int(value)
    if number is None or number <= 0:
        return None
    return number * 1000 if number < _SECONDS_CEILING else number


def moment(ms: int | None, received_at: datetime) -> datetime | None:
    """Facebook's time, capped at arrival (a clock ahead of ours never dates a message later)."""
    if ms is None:
        return None
    try:
        when = datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return min(when, received_at)


def derived_mid(kind: str, item: Any) -> str:
    """A stable id for an item Facebook gives none: the same delivery gives the same id."""
    canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return f"{kind}:{hashlib.sha256(canonical.encode()).hexdigest()[:40]}"


def _party(value: Any) -> tuple[str, bool]:
    """(id, is_guest) of a sender or recipient: a PSID, or a chat-plugin guest's user_ref."""
    party = as_dict(value)
    psid = _customer_id(party.get("id"))
    if psid:
        return psid, False
    user_ref = _customer_id(party.get("user_ref"))
    return user_ref, bool(user_ref)


def _customer_id(value: Any) -> str:
    customer = as_id(value)
    return customer if len(customer) <= _MAX_CUSTOMER_ID else ""


# --------------------------------------------------------------------------- content


def attachment_parse(raw: Any) -> dict[str, Any] | None:
    """One attachment as the product keeps it: {"type", "url"?, "title"?, "sticker_id"?, "lat"?, "long"?}."""
    attachment = as_dict(raw)
    kind = as_text(attachment.get("type"), 30) or "unknown"
    raw_payload = attachment.get("payload")
    payload = as_dict(raw_payload)
    parsed: dict[str, Any] = {"type": kind}
    # Legacy fallback/location attachments carry title and url on the attachment itself,
    # and sometimes a plain string (or null) as payload.
    url = as_text(payload.get("url")) or as_text(attachment.get("url"))
    title = as_text(payload.get("title"), 500) or as_text(attachment.get("title"), 500)
    if url:
        parsed["url"] = url
    if title:
        parsed["title"] = title
    sticker_id = as_id(payload.get("sticker_id"))
    if sticker_id:
        parsed["sticker_id"] = sticker_id
    coordinates = as_dict(payload.get("coordinates"))
    lat, long = coordinates.get("lat"), coordinates.get("long")
    if isinstance(lat, int | float) and isinstance(long, int | float) and not isinstance(lat, bool):
        parsed["lat"], parsed["long"] = float(lat), float(long)
    return parsed


def message_content(message: Mapping[str, Any]) -> Content:
    attachments = [
        parsed
        for parsed in (attachment_parse(raw) for raw in as_list(message.get("attachments")) if isinstance(raw, Mapping))
        if parsed
    ]
    sticker_id = as_id(message.get("sticker_id")) or next(
        (a["sticker_id"] for a in attachments if a.get("sticker_id")), ""
    )
    if sticker_id or any(a["type"] == "sticker" for a in attachments):
        kind = KIND_STICKER
    elif attachments:
        kind = KIND_ATTACHMENT
    else:
        kind = KIND_TEXT
    return Content(
        kind=kind,
        text=as_text(message.get("text")),
        attachments=attachments,
        sticker_id=sticker_id[:40],
        quick_reply_payload=as_text(as_dict(message.get("quick_reply")).get("payload"), _MAX_PAYLOAD),
        reply_to_mid=as_id(as_dict(message.get("reply_to")).get("mid")),
        app_id=as_id(message.get("app_id")),
        metadata=as_text(message.get("metadata"), _MAX_PAYLOAD),
    )


def referral_attachment(referral: Mapping[str, Any]) -> dict[str, Any]:
    """Where the customer came from (m.me link, ad, plugin), kept as an attachment of type referral."""
    kept: dict[str, Any] = {"type": "referral"}
    for key in ("ref", "source", "type", "ad_id", "referer_uri"):
        value = as_text(referral.get(key), _MAX_PAYLOAD) or as_id(referral.get(key))
        if value:
            kept["referral_type" if key == "type" else key] = value
    return kept


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
            kind=kind, page_id=self.page_id, payload=self.item, timestamp_ms=ms or 0, standby=self.standby, **fields
        )

    @property
    def sender(self) -> tuple[str, bool]:
        return _party(self.item.get("sender"))


def parse_message(ctx: _Item) -> ParsedEvent:
    message = as_dict(ctx.item.get("message"))
    content = message_content(message)
    mid = as_id(message.get("mid"))
    if message.get("is_echo") is True:
        # Sender and recipient are swapped: the page wrote to the customer.
        customer, is_guest = _party(ctx.item.get("recipient"))
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
    title = as_text(postback.get("title"), _MAX_PAYLOAD)
    referral = as_dict(postback.get("referral"))
    content = Content(
        kind=KIND_POSTBACK,
        # The button's title is what the customer "said": the inbox shows it as the text.
        text=title,
        attachments=[referral_attachment(referral)] if referral else [],
        postback_title=title,
        postback_payload=as_text(postback.get("payload"), _MAX_PAYLOAD),
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
        customer = _customer_id(optin.get("user_ref"))
        is_guest = bool(customer)
    kept: dict[str, Any] = {"type": "optin"}
    for key in ("ref", "type", "payload", "notification_messages_frequency", "notification_messages_status"):
        value = as_text(optin.get(key), _MAX_PAYLOAD)
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
    if num_edit is not None and num_edit > _MAX_COUNT:
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
        return ParsedEvent(kind=MALFORMED, page_id=page_id, payload=item, ignored_reason=REASON_MALFORMED)
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
        yield ParsedEvent(kind=MALFORMED, page_id="", payload=entry, ignored_reason=REASON_MALFORMED)
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
            yield ParsedEvent(kind=CHANGES, page_id=page_id, payload=change, ignored_reason=reason)
    if not found:
        yield ParsedEvent(kind=MALFORMED, page_id=page_id, payload=entry, ignored_reason=REASON_MALFORMED)


def parse_body(body: Any, *, received_at: datetime) -> list[ParsedEvent]:
    """Every event of a POST, in the order received (the ingest orders them by timestamp)."""
    document = as_dict(body)
    subject = document.get("object")
    if subject != "page":
        name = as_text(subject, 20) or "missing"
        return [
            ParsedEvent(kind=OBJECT_PREFIX + name, page_id="", payload=body, ignored_reason=REASON_UNSUPPORTED_OBJECT)
        ]
    entries = document.get("entry")
    if not isinstance(entries, list) or not entries:
        return [ParsedEvent(kind=MALFORMED, page_id="", payload=body, ignored_reason=REASON_MALFORMED)]
    return [event for entry in entries for event in _entry_events(entry, received_at)]


def parse_stored(kind: str, page_id: str, payload: Any, *, received_at: datetime, standby: bool = False) -> ParsedEvent:
    """An event read back from the log (the retry of pending events), parsed as it was at
    arrival: `standby` says it came in an entry's `standby` list (the log's row tells)."""
    if kind == CHANGES:
        reason = REASON_DASHBOARD_TEST if page_id == "0" else REASON_CHANGES_NOT_HANDLED
        return ParsedEvent(kind=kind, page_id=page_id, payload=payload, ignored_reason=reason)
    if kind == MALFORMED:
        return ParsedEvent(kind=kind, page_id=page_id, payload=payload, ignored_reason=REASON_MALFORMED)
    if kind.startswith(OBJECT_PREFIX):
        return ParsedEvent(kind=kind, page_id=page_id, payload=payload, ignored_reason=REASON_UNSUPPORTED_OBJECT)
    return parse_item(page_id, payload, received_at=received_at, standby=standby)
