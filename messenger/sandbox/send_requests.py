"""What a Send API request must look like, checked as Facebook checks it, and the answer a
messaging call (Send API, Attachment Upload API) gets back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from messenger.graph import ALLOWED_MESSAGE_TAGS, MESSAGING_TYPES, SENDER_ACTIONS
from messenger.sandbox import errors

MAX_TEXT_LENGTH = 2000
MAX_METADATA_LENGTH = 1000
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20
MAX_QUICK_REPLY_PAYLOAD = 1000
ATTACHMENT_TYPES = frozenset({"image", "video", "audio", "file", "template"})


@dataclass(frozen=True, slots=True)
class SendAnswer:
    http_status: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SendRequest:
    # The recipient's PSID, or a chat-plugin guest's user_ref when `to_user_ref`.
    psid: str
    to_user_ref: bool
    messaging_type: str
    tag: str
    sender_action: str
    message: dict[str, Any] | None
    metadata: str


def send_request_parse(body: dict[str, Any]) -> SendRequest:
    """The request in a Send API body; raises SandboxGraphError with Facebook's message."""
    recipient = body.get("recipient")
    if not isinstance(recipient, dict):
        raise errors.invalid_parameter("The parameter recipient is required")
    to_user_ref = "user_ref" in recipient
    if to_user_ref == ("id" in recipient):
        raise errors.invalid_parameter("param recipient must have exactly one of id or user_ref")
    field = "user_ref" if to_user_ref else "id"
    psid = recipient.get(field)
    if isinstance(psid, int) and not isinstance(psid, bool):
        psid = str(psid)
    if not isinstance(psid, str) or not psid:
        raise errors.invalid_parameter(f"param recipient[{field}] must be a non-empty string")
    message = body.get("message")
    sender_action = body.get("sender_action")
    if (message is None) == (sender_action is None):
        raise errors.invalid_parameter("Exactly one of the parameters message or sender_action is required")
    metadata = body.get("metadata")
    if metadata is not None and (not isinstance(metadata, str) or len(metadata) > MAX_METADATA_LENGTH):
        raise errors.invalid_parameter(f"Length of param metadata must be less than or equal to {MAX_METADATA_LENGTH}")
    if sender_action is not None:
        if sender_action not in SENDER_ACTIONS:
            raise errors.invalid_parameter("Param sender_action must be one of {TYPING_ON, TYPING_OFF, MARK_SEEN}")
        return SendRequest(psid, to_user_ref, "", "", str(sender_action), None, "")

    messaging_type = body.get("messaging_type")
    if messaging_type is None:
        raise errors.invalid_parameter("The parameter messaging_type is required")
    if messaging_type not in MESSAGING_TYPES:
        raise errors.invalid_parameter("Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}")
    tag = body.get("tag")
    if messaging_type == "MESSAGE_TAG":
        if tag is None:
            raise errors.invalid_parameter("The parameter tag is required for messaging_type MESSAGE_TAG")
        if tag not in ALLOWED_MESSAGE_TAGS:
            raise errors.invalid_parameter("Param tag must be one of {HUMAN_AGENT}")
    elif tag is not None:
        raise errors.invalid_parameter("The parameter tag can only be used with messaging_type MESSAGE_TAG")
    _check_message(message)
    return SendRequest(psid, to_user_ref, str(messaging_type), str(tag or ""), "", message, metadata or "")


def _check_message(message: object) -> None:
    if not isinstance(message, dict):
        raise errors.invalid_parameter("param message must be a JSON object")
    text = message.get("text")
    attachment = message.get("attachment")
    if (text is None) == (attachment is None):
        raise errors.invalid_parameter("Exactly one of message[text] or message[attachment] is required")
    if text is not None:
        if not isinstance(text, str) or not text:
            raise errors.invalid_parameter("param message[text] must be a non-empty UTF-8 encoded string")
        if len(text) > MAX_TEXT_LENGTH:
            raise errors.invalid_parameter(
                f"Length of param message[text] must be less than or equal to {MAX_TEXT_LENGTH}"
            )
    else:
        _check_attachment(attachment)
    quick_replies = message.get("quick_replies")
    if quick_replies is not None:
        if not isinstance(quick_replies, list) or not quick_replies or len(quick_replies) > MAX_QUICK_REPLIES:
            raise errors.invalid_parameter(f"param message[quick_replies] must have 1 to {MAX_QUICK_REPLIES} items")
        for quick_reply in quick_replies:
            _check_quick_reply(quick_reply)


def _check_quick_reply(quick_reply: object) -> None:
    """A text quick reply: a title of at most 20 characters and a payload of at most 1,000."""
    if not isinstance(quick_reply, dict) or quick_reply.get("content_type") != "text":
        raise errors.invalid_parameter("param message[quick_replies][content_type] must be text")
    title, payload = quick_reply.get("title"), quick_reply.get("payload")
    if not isinstance(title, str) or not title or len(title) > MAX_QUICK_REPLY_TITLE:
        raise errors.invalid_parameter(
            f"param message[quick_replies][title] must be 1 to {MAX_QUICK_REPLY_TITLE} characters"
        )
    if not isinstance(payload, str) or not payload or len(payload) > MAX_QUICK_REPLY_PAYLOAD:
        raise errors.invalid_parameter(
            f"param message[quick_replies][payload] must be 1 to {MAX_QUICK_REPLY_PAYLOAD} characters"
        )


def _check_attachment(attachment: object) -> None:
    if not isinstance(attachment, dict) or attachment.get("type") not in ATTACHMENT_TYPES:
        raise errors.invalid_parameter(
            "Param message[attachment][type] must be one of {IMAGE, VIDEO, AUDIO, FILE, TEMPLATE}"
        )
    payload = attachment.get("payload")
    if not isinstance(payload, dict):
        raise errors.invalid_parameter("param message[attachment][payload] must be a JSON object")
    if attachment["type"] == "template":
        if not payload.get("template_type"):
            raise errors.invalid_parameter("param message[attachment][payload][template_type] is required")
    elif not (payload.get("url") or payload.get("attachment_id")):
        raise errors.invalid_parameter("message[attachment][payload] needs a url or an attachment_id")
