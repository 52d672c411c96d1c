"""Reading Facebook's values safely: the raw body as a storable JSON document, ids, texts,
numbers and timestamps of the right type (a value of the wrong type is treated as absent),
and the content of a message (text, attachments, sticker, quick reply, postback, referral).
Pure functions: no database, no settings, no clock.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from messenger.webhook.parsed import KIND_ATTACHMENT, KIND_STICKER, KIND_TEXT, Content

# Values are cut to what the columns hold: Facebook's own limits are below these.
MAX_PAYLOAD = 1000
MAX_ID = 255
# A customer id longer than Contact.psid holds is no id at all (cut, two could merge).
MAX_CUSTOMER_ID = 100
MAX_COUNT = 2**31 - 1  # counters are 32-bit integer columns
# Timestamps below this are seconds (the dashboard's test shape), above it milliseconds.
SECONDS_CEILING = 100_000_000_000

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
    # Only a body with that many brackets can be nested that deep.
    if raw.count(b"[") + raw.count(b"{") > MAX_NESTING and _nesting_exceeds(raw, MAX_NESTING):
        raise ValueError("nested too deeply")
    if _MAY_BE_UNSTORABLE.search(raw):
        document = _storable(document)
    return document


# Read on the raw text of a document json.loads accepted: its strings are taken out, then
# everything but brackets, and braces become square brackets (they pair up the same).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKETS_ONLY = (bytes.maketrans(b"{}", b"[]"), bytes(set(range(256)) - set(b"[]{}")))


def _nesting_exceeds(raw: bytes, limit: int) -> bool:
    """Whether the (valid) JSON text nests deeper than `limit`: each pass takes out the
    innermost pairs of brackets, one level; what is left after `limit` passes is deeper.
    Work on the text at C speed, not a walk of the document."""
    brackets = _JSON_STRING.sub(b"", raw).translate(*_BRACKETS_ONLY)
    for _ in range(limit):
        brackets = brackets.replace(b"[]", b"")
        if not brackets:
            return False
    return bool(brackets)


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
        return str(value)[:MAX_ID]
    if isinstance(value, str):
        return value.strip()[:MAX_ID]
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
    return number * 1000 if number < SECONDS_CEILING else number


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


def party(value: Any) -> tuple[str, bool]:
    """(id, is_guest) of a sender or recipient: a PSID, or a chat-plugin guest's user_ref."""
    party = as_dict(value)
    psid = customer_id(party.get("id"))
    if psid:
        return psid, False
    user_ref = customer_id(party.get("user_ref"))
    return user_ref, bool(user_ref)


def customer_id(value: Any) -> str:
    customer = as_id(value)
    return customer if len(customer) <= MAX_CUSTOMER_ID else ""


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
        quick_reply_payload=as_text(as_dict(message.get("quick_reply")).get("payload"), MAX_PAYLOAD),
        reply_to_mid=as_id(as_dict(message.get("reply_to")).get("mid")),
        app_id=as_id(message.get("app_id")),
        metadata=as_text(message.get("metadata"), MAX_PAYLOAD),
    )


def referral_attachment(referral: Mapping[str, Any]) -> dict[str, Any]:
    """Where the customer came from (m.me link, ad, plugin), kept as an attachment of type referral."""
    kept: dict[str, Any] = {"type": "referral"}
    for key in ("ref", "source", "type", "ad_id", "referer_uri"):
        value = as_text(referral.get(key), MAX_PAYLOAD) or as_id(referral.get(key))
        if value:
            kept["referral_type" if key == "type" else key] = value
    return kept
