"""The Send API (messages and sender actions, to a PSID or a chat-plugin guest's
``user_ref``) and the Attachment Upload API, which carries a file to Facebook before it is sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Any

from messenger.graph.errors import GraphError
from messenger.graph.transport import GraphTransport

MESSAGING_TYPES = frozenset({"RESPONSE", "UPDATE", "MESSAGE_TAG"})
# The other tags (ACCOUNT_UPDATE, CONFIRMED_EVENT_UPDATE, ...) were retired and now fail.
ALLOWED_MESSAGE_TAGS = frozenset({"HUMAN_AGENT"})
SENDER_ACTIONS = frozenset({"typing_on", "typing_off", "mark_seen"})
# What the Attachment Upload API takes (a template is not a file).
UPLOAD_ATTACHMENT_TYPES = frozenset({"image", "video", "audio", "file"})


@dataclass(frozen=True, slots=True)
class SendResult:
    # Facebook leaves recipient_id out when the recipient was named by user_ref.
    recipient_id: str | None
    message_id: str


class SendApiCalls(GraphTransport):
    """The Graph calls that send to a customer, or upload what will be sent."""

    def send_message(
        self,
        *,
        page_id: str,
        page_token: str,
        message: dict[str, Any],
        recipient_psid: str | None = None,
        recipient_user_ref: str | None = None,
        messaging_type: str = "RESPONSE",
        tag: str | None = None,
        metadata: str | None = None,
    ) -> SendResult:
        """Send one message to a PSID or to a chat-plugin guest's ``user_ref``. Put your own
        message id in ``metadata``: it comes back in the echo."""
        recipient = _recipient(recipient_psid, recipient_user_ref)
        if messaging_type not in MESSAGING_TYPES:
            raise ValueError(f"unknown messaging_type {messaging_type!r}")
        if messaging_type == "MESSAGE_TAG" and tag not in ALLOWED_MESSAGE_TAGS:
            raise ValueError(f"MESSAGE_TAG needs tag HUMAN_AGENT, not {tag!r}")
        if messaging_type != "MESSAGE_TAG" and tag is not None:
            raise ValueError("a tag is only sent with messaging_type MESSAGE_TAG")
        body: dict[str, Any] = {"recipient": recipient}
        body |= {"messaging_type": messaging_type, "message": message}
        body |= {k: v for k, v in (("tag", tag), ("metadata", metadata)) if v is not None}
        url = self._url(f"{page_id}/messages")
        payload = self._request("POST", url, {"access_token": page_token}, body)
        recipient_id = payload.get("recipient_id")
        message_id = payload.get("message_id")
        # By user_ref, Facebook answers with the message id only.
        if (recipient_id is None and recipient_user_ref is None) or not message_id:
            raise GraphError("Send API answered without recipient_id/message_id")
        return SendResult(recipient_id=None if recipient_id is None else str(recipient_id), message_id=str(message_id))

    def upload_attachment(
        self,
        *,
        page_id: str,
        page_token: str,
        attachment_type: str,
        file_name: str,
        content_type: str,
        content: IO[bytes] | bytes,
        is_reusable: bool = True,
    ) -> str:
        """Upload a file with the Attachment Upload API (``POST /{page-id}/message_attachments``,
        multipart: ``message`` JSON and the ``filedata`` part) and return its ``attachment_id``.

        The file travels in the request: Facebook never needs an address of ours to fetch it.
        Send it afterwards with ``{"attachment": {"type": ..., "payload": {"attachment_id": ...}}}``.
        Not retried here: an upload that timed out may have gone through, and only costs a
        second upload when the caller tries again.
        """
        if attachment_type not in UPLOAD_ATTACHMENT_TYPES:
            raise ValueError(f"unknown attachment type {attachment_type!r}")
        message = {"attachment": {"type": attachment_type, "payload": {"is_reusable": is_reusable}}}
        form = {"message": json.dumps(message, separators=(",", ":"))}
        files = {"filedata": (file_name, content, content_type)}
        url = self._url(f"{page_id}/message_attachments")
        payload = self._request("POST", url, {"access_token": page_token}, form_fields=form, files=files)
        attachment_id = payload.get("attachment_id")
        if not isinstance(attachment_id, (str, int)) or isinstance(attachment_id, bool) or not str(attachment_id):
            raise GraphError("Attachment Upload API answered without attachment_id")
        return str(attachment_id)

    def send_sender_action(
        self,
        *,
        page_id: str,
        page_token: str,
        action: str,
        recipient_psid: str | None = None,
        recipient_user_ref: str | None = None,
    ) -> None:
        recipient = _recipient(recipient_psid, recipient_user_ref)
        if action not in SENDER_ACTIONS:
            raise ValueError(f"unknown sender action {action!r}")
        body = {"recipient": recipient, "sender_action": action}
        url = self._url(f"{page_id}/messages")
        self._request("POST", url, {"access_token": page_token}, body)


def _recipient(psid: str | None, user_ref: str | None) -> dict[str, str]:
    """The Send API's recipient: a PSID, or a chat-plugin guest's ``user_ref`` (exactly one)."""
    if psid is not None and user_ref is None:
        return {"id": psid}
    if user_ref is not None and psid is None:
        return {"user_ref": user_ref}
    raise ValueError("name the recipient by exactly one of recipient_psid and recipient_user_ref")
