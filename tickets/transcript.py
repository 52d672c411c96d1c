"""How a run of messages reads as a ticket: a one-line subject and a plain-text transcript.

Pure functions over message rows (dicts from `.values()`), so that the sweep can build a
thousand tickets from one query.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from messenger.models import Direction, MessageKind, MessageSource, MessageStatus
from messenger.services.attachments.storage import stored_file_name

SUBJECT_MAX_LENGTH = 120

# The columns of messenger.Message a transcript needs (plus the author's names).
MESSAGE_FIELDS = (
    "id",
    "conversation_id",
    "direction",
    "source",
    "kind",
    "status",
    "text",
    "attachments",
    "sticker_id",
    "postback_title",
    "postback_payload",
    "sent_at",
    "is_hidden",
    "author__first_name",
    "author__last_name",
    "author__username",
)


def single_line(text: str) -> str:
    return " ".join(text.split())


def attachment_text(attachment: Any) -> str:
    """`[image: photo.jpg]` (kept in our storage: the ticket lists it with its link),
    `[image: https://…]` (not kept yet: Facebook's address), `[location: 35.68,139.76]`,
    `[fallback: Title https://…]`, `[sticker]`."""
    if not isinstance(attachment, Mapping):
        return "[attachment]"
    kind = single_line(str(attachment.get("type") or "attachment"))
    if kind == "location" and attachment.get("lat") is not None and attachment.get("long") is not None:
        return f"[location: {attachment['lat']},{attachment['long']}]"
    if attachment.get("stored_name"):
        # Facebook's address expires; our copy is served to those who may see it.
        return f"[{kind}: {single_line(stored_file_name(str(attachment['stored_name'])))}]"
    detail = " ".join(single_line(str(attachment[key])) for key in ("title", "url") if attachment.get(key))
    return f"[{kind}: {detail}]" if detail else f"[{kind}]"


def message_body(message: Mapping[str, Any]) -> str:
    """What a message says, as text: its words, then its attachments by kind and URL."""
    text = (message.get("text") or "").strip()
    attachments = message.get("attachments")
    if (
        text
        and message.get("kind") == MessageKind.TEXT
        and attachments in (None, [], "[]")
        and not message.get("sticker_id")
    ):
        return text  # the common case, kept cheap for the sweep
    parts: list[str] = []
    if message.get("sticker_id"):
        # A sticker arrives as an image attachment with Facebook's address: not worth a link.
        return " ".join([*([text] if text else []), "[sticker]"])
    if text:
        parts.append(text)
    if message.get("kind") == MessageKind.POSTBACK:
        label = message.get("postback_title") or message.get("postback_payload")
        if label:
            parts.append(f"[postback: {single_line(label)}]")
    attachments = attachments or []
    if isinstance(attachments, str):  # JSON text, as the sweep reads it
        attachments = json.loads(attachments) if attachments not in ("[]", "null") else []
    for attachment in attachments if isinstance(attachments, list) else [attachments]:
        parts.append(attachment_text(attachment))
    if not parts:
        parts.append(f"[{message.get('kind') or 'message'}]")
    return " ".join(parts)


def subject_from(messages: Iterable[Mapping[str, Any]], *, fallback: str) -> str:
    """The first customer message, on one line and cut to a readable length; never an agent's
    words (`fallback` when the customer said nothing)."""
    first = next((m for m in messages if m.get("direction") == Direction.INBOUND), None)
    text = (single_line(message_body(first)) if first is not None else "") or fallback
    if len(text) > SUBJECT_MAX_LENGTH:
        text = text[: SUBJECT_MAX_LENGTH - 1].rstrip() + "…"
    return text


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


@lru_cache(maxsize=16)
def speaker_labels(language: str) -> dict[str, str]:
    """The words a transcript uses, in the organization's language (stored text, not a template)."""
    with translation.override(language or None):
        return {
            "customer": _("Customer"),
            "agent": _("Agent"),
            "external": _("Page (outside the helpdesk)"),
            "not_delivered": _("not delivered"),
            "chat": _("Messenger chat"),
        }


def _speaker(message: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    if message.get("direction") == Direction.INBOUND:
        return labels["customer"]
    if message.get("source") == MessageSource.EXTERNAL:
        return labels["external"]
    name = " ".join(part for part in (message.get("author__first_name"), message.get("author__last_name")) if part) or (
        message.get("author__username") or ""
    )
    # The agent's name alone ("Agent Demo", not "Agent Agent Demo"); the label when unknown.
    return name or labels["agent"]


def _local(moment: datetime, zone: tzinfo) -> str:
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, zoneinfo.ZoneInfo("UTC"))
    local = moment.astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"


def transcript(messages: Iterable[Mapping[str, Any]], *, time_zone: str, language: str) -> str:
    """One `Customer (2025-03-01 14:05): text` line per message; later lines of a message are indented."""
    zone = _zone(time_zone or "UTC")
    labels = speaker_labels(language)
    lines: list[str] = []
    for message in messages:
        speaker = _speaker(message, labels)
        if message.get("status") == MessageStatus.FAILED:
            speaker = f"{speaker} [{labels['not_delivered']}]"
        body = message_body(message).replace("\r\n", "\n").replace("\r", "\n")
        lines.append(f"{speaker} ({_local(message['sent_at'], zone)}): " + body.replace("\n", "\n  "))
    return "\n".join(lines)
