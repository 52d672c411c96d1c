"""Sending one queued message through the Graph API (in the task) and recording what
Facebook answered; sender actions (``mark_seen``, ``typing_on``).

After a timeout the message may in fact have reached Facebook; the retry waits at
least ``OUTCOME_UNKNOWN_RETRY_SECONDS`` (Facebook delivers the echo within seconds), and if
the echo carrying our metadata has meanwhile reconciled the message as sent (webhook side),
the retry finds nothing to claim.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from helpdesk import signals
from helpdesk.exceptions import HelpdeskError
from helpdesk.files import OCTET_STREAM
from messenger.client import call_with_page
from messenger.conversation_changes import STATUS, conversation_told
from messenger.crypto import TokenDecryptionError
from messenger.graph import GraphClient, GraphError, GraphTimeoutError, SendResult
from messenger.models import Conversation, Direction, Message, MessageStatus
from messenger.pages.health import page_sent_record
from messenger.services.sending.failures import failure_code
from messenger.services.sending.reply_rules import conversation_reply_check, outbound_window_check
from messenger.tasks import sending as sending_tasks

logger = logging.getLogger(__name__)

SEND_MAX_RETRIES = sending_tasks.SEND_MAX_RETRIES  # the task declares its retries
BACKOFF_BASE_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 300.0
# After a timeout nobody knows whether Facebook took the message: the retry leaves its echo
# time to arrive first (and so to settle it as sent).
OUTCOME_UNKNOWN_RETRY_SECONDS = 60.0


class AttachmentUnavailable(Exception):
    """The stored file of a queued message can no longer be read."""


def backoff_seconds(retries_done: int, retry_after: float | None = None) -> float:
    """10 s, 20 s, 40 s…, at most 5 minutes; Facebook's Retry-After wins when it is longer."""
    delay = min(BACKOFF_BASE_SECONDS * 2**retries_done, BACKOFF_MAX_SECONDS)
    if retry_after is not None:
        delay = min(max(delay, retry_after), BACKOFF_MAX_SECONDS)
    return delay


def _graph_message(message: Message) -> dict[str, Any]:
    if message.attachments:
        attachment = message.attachments[0]
        return {
            "attachment": {
                "type": attachment.get("type", "file"),
                "payload": {"attachment_id": attachment["attachment_id"]},
            }
        }
    if message.quick_replies:
        return {"text": message.text, "quick_replies": message.quick_replies}
    return {"text": message.text}


def _attachment_upload(*, message: Message, client: GraphClient, page_token: str) -> None:
    """Upload the message's file to Facebook unless an earlier try already did, and keep the
    attachment_id on the attachment at once: a retry after a failed send does not upload again."""
    attachments = list(message.attachments) if isinstance(message.attachments, list) else []
    if not attachments or attachments[0].get("attachment_id"):
        return
    attachment = attachments[0]
    try:
        handle = default_storage.open(str(attachment["stored_name"]), "rb")
    except (KeyError, OSError) as error:
        raise AttachmentUnavailable(str(message.pk)) from error
    with handle:
        attachment_id = client.upload_attachment(
            page_id=message.page.page_id,
            page_token=page_token,
            attachment_type=str(attachment.get("type") or "file"),
            file_name=str(attachment.get("title") or "file"),
            content_type=str(attachment.get("content_type") or OCTET_STREAM),
            content=handle,
        )
    attachments[0] = {**attachment, "attachment_id": attachment_id}
    message.attachments = attachments
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(attachments=attachments)


def _signalled(message: Message, type: str) -> None:
    signals.domain_events_send(
        organization_id=message.organization_id,
        type=type,
        resource=signals.MESSAGE,
        subjects=[(message.pk, message.conversation_id)],
    )


def _fail(message: Message, *, code: str, text: str, now: datetime) -> None:
    with transaction.atomic():
        failed = Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
            status=MessageStatus.FAILED, error_code=code[:60], error_message=text[:500], status_changed_at=now
        )
        if failed:
            _signalled(message, signals.MESSAGE_FAILED)
    conversation_told(message.conversation, what=STATUS)


def message_deliver(*, message_id: int, retries_done: int = 0, max_retries: int = SEND_MAX_RETRIES) -> float | None:
    """Send one queued message. Returns the countdown of the next try when it must be retried.

    Safe to run twice: only the run that moves the message from queued to sending calls
    Facebook.
    """
    now = timezone.now()
    claimed = Message.objects.filter(pk=message_id, direction=Direction.OUTBOUND, status=MessageStatus.QUEUED).update(
        status=MessageStatus.SENDING, attempts=F("attempts") + 1, status_changed_at=now
    )
    if not claimed:
        return None
    message = Message.objects.select_related(
        "page", "conversation", "conversation__channel", "conversation__contact", "conversation__page"
    ).get(pk=message_id)
    conversation = message.conversation
    try:
        window = outbound_window_check(conversation=conversation, source=message.source, page=message.page, now=now)
    except HelpdeskError as refusal:
        _fail(message, code=refusal.code, text=str(refusal.message), now=now)
        return None
    if (message.messaging_type, message.tag) != (window.messaging_type, window.tag):
        # An agent's reply queued inside the 24 hours, sent after them: it now goes out with the
        # human agent tag (an automatic one never does: outbound_window_check refused it above).
        message.messaging_type, message.tag = window.messaging_type, window.tag
        Message.objects.filter(pk=message_id).update(messaging_type=window.messaging_type, tag=window.tag)

    page, contact = message.page, conversation.contact

    def send(client: GraphClient, token: str) -> SendResult:
        _attachment_upload(message=message, client=client, page_token=token)
        return client.send_message(
            page_id=page.page_id,
            page_token=token,
            # A chat-plugin guest has no PSID: Facebook takes the user_ref it came with.
            recipient_psid=None if contact.is_guest else contact.psid,
            recipient_user_ref=contact.psid if contact.is_guest else None,
            message=_graph_message(message),
            messaging_type=window.messaging_type,
            tag=window.tag or None,
            metadata=str(message.idempotency_key),
        )

    try:
        result = call_with_page(page, send)
    except AttachmentUnavailable:
        logger.error("message %s: its stored file cannot be read", message_id)
        _fail(message, code="attachment_unavailable", text="", now=timezone.now())
        return None
    except GraphError as error:
        if error.retryable and retries_done < max_retries:
            Message.objects.filter(pk=message_id, status=MessageStatus.SENDING).update(
                status=MessageStatus.QUEUED,
                error_code=error.reason[:60],
                error_message=str(error.message)[:500],
                status_changed_at=timezone.now(),
            )
            conversation_told(conversation, what=STATUS)
            countdown = backoff_seconds(retries_done, error.retry_after)
            if isinstance(error, GraphTimeoutError):
                countdown = max(countdown, OUTCOME_UNKNOWN_RETRY_SECONDS)
            return countdown
        logger.info("message %s failed: %s", message_id, error.reason)
        _fail(message, code=failure_code(error), text=str(error.user_msg or error.message), now=timezone.now())
        return None
    except TokenDecryptionError:
        # Nothing left this process: the stored token opens with none of the configured keys.
        logger.error("message %s: the token of page %s cannot be decrypted", message_id, page.pk)
        _fail(message, code="page_reauthorization_required", text="", now=timezone.now())
        return None

    done = timezone.now()
    sent = Message.objects.filter(pk=message_id, status=MessageStatus.SENDING)
    with transaction.atomic():
        try:
            with transaction.atomic():
                updated = sent.update(
                    status=MessageStatus.SENT,
                    mid=result.message_id,
                    error_code="",
                    error_message="",
                    status_changed_at=done,
                )
        except IntegrityError:
            # The echo was stored as a row of its own with this mid; ours is still the one sent.
            updated = sent.update(status=MessageStatus.SENT, error_code="", error_message="", status_changed_at=done)
        # Nothing to update when its echo settled it as sent first: the webhook announced it then.
        if updated:
            _signalled(message, signals.MESSAGE_SENT)
    page_sent_record(page_pk=page.pk, sent_at=done)
    conversation_told(conversation, what=STATUS)
    return None


def sender_action_deliver(*, conversation_id: int, action: str) -> bool:
    """``mark_seen`` / ``typing_on``, when the conversation could be answered right now.

    Not for a chat-plugin guest: Facebook shows sender actions only to a recipient who is
    signed in, which a guest is not, so the call would spend the page's rate for nothing.
    """
    conversation = Conversation.objects.select_related("channel", "page", "contact").filter(pk=conversation_id).first()
    if conversation is None or conversation.contact.is_guest:
        return False
    try:
        conversation_reply_check(conversation=conversation)
    except HelpdeskError:
        return False
    page, psid = conversation.page, conversation.contact.psid
    try:
        call_with_page(
            page,
            lambda client, token: client.send_sender_action(
                page_id=page.page_id, page_token=token, recipient_psid=psid, action=action
            ),
        )
    except (GraphError, TokenDecryptionError) as error:
        logger.info("sender action %s for conversation %s failed: %s", action, conversation_id, type(error).__name__)
        return False
    return True
