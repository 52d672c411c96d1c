"""The one line the conversation list shows of a conversation's last message.

One pure function for every message, whoever wrote it: the webhook (both its step-by-step
and its one-statement path) and an agent's reply ask it, so the list reads the same
whichever way a message arrived.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext

from messenger.models import MessageKind
from messenger.webhook.parsed import LIKE_STICKER_IDS

# Conversation.last_message_preview holds this many characters.
PREVIEW_LENGTH = 200
# Attachments that are a file someone chose: shown by their name when they have one.
_NAMED_FILE_TYPES = frozenset({"image", "video", "audio", "file"})


def message_preview(
    *, kind: str, text: str, attachments: Sequence[Mapping[str, Any]] = (), sticker_id: str = ""
) -> str:
    """The text on one line, else what was sent: a file by its name (``📎 invoice.pdf``),
    otherwise by its kind in the active language (``Photo``, ``Sticker``...)."""
    line = " ".join(text.split())
    if line:
        return line[:PREVIEW_LENGTH]
    if kind == MessageKind.STICKER:
        return "👍" if sticker_id in LIKE_STICKER_IDS else gettext("Sticker")
    if kind == MessageKind.POSTBACK:
        return gettext("Pressed a button")
    attachment = attachments[0] if attachments else {}
    attachment_type = str(attachment.get("type") or "")
    title = " ".join(str(attachment.get("title") or "").split())
    if attachment_type in _NAMED_FILE_TYPES and title:
        return f"📎 {title}"[:PREVIEW_LENGTH]
    labels = {
        "image": gettext("Photo"),
        "video": gettext("Video"),
        "audio": gettext("Voice message"),
        "file": gettext("File"),
        "location": gettext("Location"),
        "fallback": gettext("Link"),
        "referral": gettext("Opened the conversation from a link or an ad"),
        "optin": gettext("Opted in to messages"),
    }
    return labels.get(attachment_type, gettext("Attachment"))[:PREVIEW_LENGTH]
