"""Storing an agent's reply as queued messages and publishing their sending task after
commit; sending a failed message again."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from helpdesk.exceptions import InvalidTransition, NotFound
from helpdesk.models import Organization
from messenger.conversation_changes import AGENT_MESSAGE, STATUS, conversation_told
from messenger.models import Conversation, Direction, Message, MessageKind, MessageSource, MessageStatus
from messenger.previews import message_preview
from messenger.reply_window import ReplyWindow
from messenger.services.sending import kept_files as kept_files_module
from messenger.services.sending import reply_rules
from messenger.services.sending.reply_files import StoredAttachment, store_attachment
from messenger.services.sending.reply_rules import (
    conversation_reply_check,
    normalize_text,
    outbound_window_check,
    validate_text,
)
from messenger.tasks import sending as sending_tasks

logger = logging.getLogger(__name__)


def reply_send(
    *,
    organization: Organization,
    acting_user: Any,
    conversation: Conversation,
    text: str = "",
    upload: UploadedFile | None = None,
    kept_files: Sequence[str] = (),
    seen_at: datetime | None = None,
) -> list[Message]:
    """Store an agent's reply (a text, a file, or both) as queued messages, sent after commit.

    Messenger's Send API carries a text or one attachment per message, so a text with a file
    becomes two messages: the file, then the text under it as its caption. Every check runs
    before anything is stored (a text too long refuses the file too) and both are queued in
    one transaction: neither goes out alone. The inbox, the API and the ticket page call this.

    ``kept_files``: tokens of files a higher layer keeps (a canned response's attachments,
    messenger.services.sending.kept_files); each is checked, copied as the message's own
    file and sent as its own message after the uploaded file, the text last.

    ``seen_at``: when the agent's composer last showed the conversation; a colleague's reply
    since then is ColleagueReplied (``reply_rules.colleague_reply_check``). None: no check
    (an API client that does not say).
    """
    if conversation.organization_id != organization.pk:
        raise NotFound
    if seen_at is not None:
        reply_rules.colleague_reply_check(
            organization=organization, conversation=conversation, acting_user=acting_user, seen_at=seen_at
        )
    if (upload is None and not kept_files) or normalize_text(text):
        text = validate_text(text)
    else:
        text = ""
    window = conversation_reply_check(conversation=conversation)
    kept = kept_files_module.kept_files_verify(organization=organization, tokens=list(kept_files))
    contents: list[tuple[str, list[dict[str, Any]]]] = []
    stored_files: list[StoredAttachment] = []
    if upload is not None:
        stored_files.append(store_attachment(organization=organization, upload=upload))
    stored_files.extend(kept_files_module.kept_file_copy(organization=organization, kept=file) for file in kept)
    for stored in stored_files:
        attachment = {
            "type": stored.type,
            "stored_name": stored.stored_name,
            "title": stored.title,
            "size": stored.size,
            "content_type": stored.content_type,
        }
        contents.append(("", [attachment]))
    if text:
        contents.append((text, []))
    with transaction.atomic():
        return [
            _message_queue(
                organization=organization,
                acting_user=acting_user,
                conversation=conversation,
                window=window,
                text=message_text,
                attachments=attachments,
            )
            for message_text, attachments in contents
        ]


def message_send(
    *,
    organization: Organization,
    acting_user: Any,
    conversation: Conversation,
    text: str = "",
    upload: UploadedFile | None = None,
) -> Message:
    """One queued message: a text, or one file (`reply_send` takes both at once)."""
    if upload is not None and normalize_text(text):
        raise ValueError("message_send stores one message; reply_send sends a text with a file")
    [message] = reply_send(
        organization=organization, acting_user=acting_user, conversation=conversation, text=text, upload=upload
    )
    return message


def _message_queue(
    *,
    organization: Organization,
    acting_user: Any,
    conversation: Conversation,
    window: ReplyWindow,
    text: str,
    attachments: list[dict[str, Any]],
    source: str = MessageSource.AGENT,
    quick_replies: list[dict[str, str]] | None = None,
) -> Message:
    """The queued row, the conversation's last activity, and the task after commit. An
    agent's reply answers the customer, who waits no more (``Conversation.waiting_since``);
    an automatic message leaves their wait as it is."""
    now = timezone.now()
    message = Message.objects.create(
        organization=organization,
        conversation=conversation,
        page_id=conversation.page_id,
        direction=Direction.OUTBOUND,
        source=source,
        kind=MessageKind.ATTACHMENT if attachments else MessageKind.TEXT,
        status=MessageStatus.QUEUED,
        text=text,
        attachments=attachments,
        quick_replies=quick_replies or None,
        sent_at=now,
        author=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        idempotency_key=Message.new_idempotency_key(),
        messaging_type=window.messaging_type,
        tag=window.tag,
        status_changed_at=now,
    )
    with translation.override(organization.language):
        preview = message_preview(kind=message.kind, text=message.text, attachments=attachments)
    answered: dict[str, Any] = (
        {"waiting_since": None, "first_answered_at": Coalesce("first_answered_at", Value(now))}
        if source == MessageSource.AGENT
        else {}
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_at=now, last_message_preview=preview, updated_at=now, **answered
    )
    conversation.last_message_at, conversation.last_message_preview = now, preview
    if answered:
        conversation.waiting_since = None
        conversation.first_answered_at = conversation.first_answered_at or now
    conversation_told(conversation, what=AGENT_MESSAGE)
    message_dispatch_on_commit(message.pk)
    return message


def automatic_message_queue(
    *,
    organization: Organization,
    conversation: Conversation,
    text: str,
    now: datetime | None = None,
    quick_replies: list[dict[str, str]] | None = None,
) -> Message:
    """Store a message the product sends by itself (``MessageSource.AUTOMATIC``, no author) as
    queued, sent after commit through the same task and exactly-once claim as an agent's reply.

    Only inside the 24-hour window and as ``RESPONSE``, never tagged (``outbound_window_check``,
    asked here and again by the delivery). It does not answer the customer: the conversation's
    waiting time is left alone. ``quick_replies``: the Send API's buttons under the text (a
    rating's 1 to 5).
    """
    if conversation.organization_id != organization.pk:
        raise NotFound
    text = validate_text(text)
    window = outbound_window_check(conversation=conversation, source=MessageSource.AUTOMATIC, now=now)
    with transaction.atomic():
        return _message_queue(
            organization=organization,
            acting_user=None,
            conversation=conversation,
            window=window,
            text=text,
            attachments=[],
            source=MessageSource.AUTOMATIC,
            quick_replies=quick_replies,
        )


@transaction.atomic
def message_retry(*, organization: Organization, acting_user: Any, message: Message) -> Message:
    """Send a failed message again (same idempotency key), if the conversation still allows it."""
    if message.organization_id != organization.pk:
        raise NotFound
    if message.direction != Direction.OUTBOUND or message.status != MessageStatus.FAILED:
        raise InvalidTransition(_("Only a message that failed can be sent again."))
    conversation = (
        Conversation.objects.select_related("channel", "page", "contact").filter(pk=message.conversation_id).get()
    )
    window = outbound_window_check(conversation=conversation, source=message.source)
    now = timezone.now()
    changed = Message.objects.filter(pk=message.pk, status=MessageStatus.FAILED).update(
        status=MessageStatus.QUEUED,
        messaging_type=window.messaging_type,
        tag=window.tag,
        error_code="",
        error_message="",
        status_changed_at=now,
    )
    if not changed:
        raise InvalidTransition(_("Only a message that failed can be sent again."))
    message.refresh_from_db()
    conversation_told(conversation, what=STATUS)
    message_dispatch_on_commit(message.pk)
    return message


def message_dispatch_on_commit(message_id: int) -> None:
    """Publish the sending task after commit; a failed publication is recorded in
    ``dispatch_failed_at`` for ``recovery.message_sweep`` to publish it again."""

    def dispatch() -> None:
        try:
            sending_tasks.send_message.delay(message_id)
        except Exception:
            # The message stays queued; message_sweep publishes it again at its next run.
            logger.warning("could not queue message %s for sending", message_id, exc_info=True)
            try:
                Message.objects.filter(pk=message_id, status=MessageStatus.QUEUED).update(
                    dispatch_failed_at=timezone.now()
                )
            except DatabaseError:
                logger.warning("could not record the failed publication of message %s", message_id, exc_info=True)

    transaction.on_commit(dispatch)
