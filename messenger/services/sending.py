"""Outbound messages: the checks a reply must pass, storing it, and sending it through
the Graph API exactly once.

The life of an agent's reply:

1. ``message_send`` checks the conversation can be answered (channel, page, customer,
   reply window), stores the message as ``queued`` with a fresh ``idempotency_key`` and
   the messaging type the window calls for, and after commit queues
   ``messenger.tasks.sending.send_message``.
2. The task calls ``message_deliver``: a conditional UPDATE moves the message from
   ``queued`` to ``sending`` (a redelivered or duplicated task finds nothing to claim and
   stops), the checks run again (time has passed), and the Send API is called with
   ``metadata=str(idempotency_key)``. A file goes first to the Attachment Upload API (the
   bytes travel in the request; Facebook never fetches an address of ours), and the
   ``attachment_id`` it answers is kept on the attachment at once, so a retry sends it
   without uploading again. Success: ``sent`` with Facebook's message id
   (``delivered`` and ``read`` come later from the webhook's receipts).
3. Rate limits, 5xx and timeouts put it back to ``queued`` and the task retries with
   exponential backoff (``SEND_MAX_RETRIES`` times); other errors fail it with a reason.

Recovery rule (``message_sweep``, every 20 seconds): a message still ``sending`` after
``SENDING_TIMEOUT`` (the worker died mid-call, so nobody knows whether Facebook got it)
and not reconciled by its echo meanwhile is marked ``failed`` with reason
``unknown_outcome``. It is never resent by itself: the agent sees it and may press
Retry. A message whose task could not be published (the broker was down: the failure is
recorded in ``dispatch_failed_at``) is published again by the next run of the sweep, which
itself came through the broker and so finds it back: within ``SWEEP_INTERVAL`` plus the
worker's reconnection of the broker's return. A message ``queued`` for longer than
``QUEUED_REDISPATCH_AFTER`` without any such record (the process died between the commit
and the publication) is published again too. Both are safe because only the task that wins
the claim sends.

After a timeout the message may in fact have reached Facebook; the retry waits at least
``OUTCOME_UNKNOWN_RETRY_SECONDS`` (Facebook delivers the echo within seconds), and if the
echo carrying our metadata has meanwhile reconciled the message as sent (webhook side),
the retry finds nothing to claim.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helpdesk.exceptions import (
    ChannelDeleted,
    ChannelDisabled,
    ContactBlocked,
    HelpdeskError,
    InvalidInput,
    InvalidTransition,
    MessageTooLong,
    NotFound,
    PageReauthorizationRequired,
    ReplyWindowClosed,
)
from helpdesk.files import OCTET_STREAM, safe_display_name, sniff_content_type
from helpdesk.models import Organization
from messenger.client import call_with_page
from messenger.crypto import TokenDecryptionError
from messenger.graph import (
    GraphClient,
    GraphError,
    GraphTimeoutError,
    RecipientUnavailableError,
    SendResult,
    WindowClosedError,
)
from messenger.models import (
    Conversation,
    Direction,
    FacebookPage,
    Message,
    MessageKind,
    MessageSource,
    MessageStatus,
    PageStatus,
)
from messenger.previews import message_preview
from messenger.reply_window import ReplyWindow, reply_window
from messenger.tasks import sending as sending_tasks

logger = logging.getLogger(__name__)

# The longest reply an agent may send, in Unicode code points (the Send API itself takes more).
# The one place of this rule: the service, its error, the API's schema, the composers'
# counters and hints all read it here.
MAX_TEXT_LENGTH = 1600
MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_IMAGE_BYTES = 8 * 1024 * 1024
IMAGE_CONTENT_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})
SEND_MAX_RETRIES = sending_tasks.SEND_MAX_RETRIES  # the task declares its retries
BACKOFF_BASE_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 300.0
# After a timeout nobody knows whether Facebook took the message: the retry leaves its echo
# time to arrive first (and so to settle it as sent).
OUTCOME_UNKNOWN_RETRY_SECONDS = 60.0
SENDING_TIMEOUT = timedelta(minutes=5)
# A queued message with no failed publication on record is published again after this long
# (a publication lost without a trace); one whose publication failed, at the sweep's next run.
QUEUED_REDISPATCH_AFTER = timedelta(minutes=10)
# How often beat runs message_sweep (settings.CELERY_BEAT_SCHEDULE): a reply queued while the
# broker was down goes out within this plus the worker's reconnection (at most 30 s) of its return.
SWEEP_INTERVAL_SECONDS = 20.0
SWEEP_BATCH = 500

UNKNOWN_OUTCOME = "unknown_outcome"
# What the agent reads next to a failed message, by error code (Facebook's own text is
# kept in error_message and shown beside it).
FAILURE_REASONS: dict[str, Any] = {
    "reply_window_closed": gettext_lazy("The reply window is closed: the customer must write first."),
    "page_reauthorization_required": gettext_lazy(
        "The Facebook Page needs to be re-authorized by an admin before messages can be sent."
    ),
    "recipient_unavailable": gettext_lazy("This person isn't available right now."),
    "recipient_cannot_receive": gettext_lazy("This person can't receive messages from the page."),
    "thread_owned_by_other_app": gettext_lazy("Another app is handling this conversation on Facebook."),
    "no_matching_user": gettext_lazy("Facebook does not know this customer any more."),
    "app_not_live": gettext_lazy("The Facebook app is not live."),
    "rate_limited": gettext_lazy("Facebook kept refusing because of rate limits."),
    "graph_transient": gettext_lazy("Facebook had a temporary problem and the message was not accepted."),
    "graph_timeout": gettext_lazy("Facebook did not answer in time."),
    "graph_connection": gettext_lazy("Facebook could not be reached."),
    "channel_disabled": gettext_lazy("The channel was disabled before the message went out."),
    "channel_deleted": gettext_lazy("The channel was deleted before the message went out."),
    "contact_blocked": gettext_lazy("The customer was blocked before the message went out."),
    "attachment_unavailable": gettext_lazy("The file of this message can no longer be read."),
    UNKNOWN_OUTCOME: gettext_lazy(
        "Sending was interrupted and it is not known whether Facebook received the message. "
        "Check the conversation on Facebook before retrying."
    ),
}


def failure_reason(message: Message) -> str:
    reason = FAILURE_REASONS.get(message.error_code)
    if reason is not None:
        return str(reason)
    return message.error_message or str(gettext_lazy("Facebook refused the message."))


def text_length(text: str) -> int:
    """Characters as the product counts them: Unicode code points (JS ``[...text].length``)."""
    return len(text)


def normalize_text(text: str) -> str:
    # Browsers submit a textarea's line breaks as CRLF; the counter in the page sees LF.
    # NUL is no character of a message (and PostgreSQL text cannot hold it): it is dropped.
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()


# --- The rules a reply must pass ------------------------------------------------------------


def conversation_reply_check(
    *, conversation: Conversation, page: FacebookPage | None = None, now: datetime | None = None
) -> ReplyWindow:
    """Raise the reason this conversation cannot be answered now, or return its window."""
    channel = conversation.channel
    if channel.deleted_at is not None:
        raise ChannelDeleted
    if not channel.is_enabled:
        raise ChannelDisabled
    page = page or conversation.page
    if page.unlinked_at is not None or page.status == PageStatus.REAUTHORIZATION_REQUIRED:
        raise PageReauthorizationRequired
    if conversation.contact.is_blocked:
        raise ContactBlocked
    window = reply_window(conversation.last_inbound_at, now=now)
    if not window.is_open:
        raise ReplyWindowClosed
    return window


def reply_refusal(*, conversation: Conversation) -> HelpdeskError | None:
    """The refusal the composer should show before the agent types (None: may reply)."""
    try:
        conversation_reply_check(conversation=conversation)
    except HelpdeskError as refusal:
        return refusal
    return None


def validate_text(text: str) -> str:
    text = normalize_text(text)
    if not text:
        raise InvalidInput(_("Write a message first."), details={"text": [_("This field is required.")]})
    if text_length(text) > MAX_TEXT_LENGTH:
        raise MessageTooLong(
            limit=MAX_TEXT_LENGTH,
            details={
                "text": [_("%(count)d of %(max)d characters.") % {"count": text_length(text), "max": MAX_TEXT_LENGTH}]
            },
        )
    return text


class AttachmentTooLarge(InvalidInput):
    code = "attachment_too_large"


class AttachmentUnavailable(Exception):
    """The stored file of a queued message can no longer be read."""


OUTBOUND_STORAGE_PREFIX = "messenger/outbound"
# What Facebook delivers as a playable video or audio message; other formats go as files.
VIDEO_CONTENT_TYPES = frozenset({"video/mp4"})
AUDIO_CONTENT_TYPES = frozenset({"audio/mpeg", "audio/mp4", "audio/aac", "audio/x-wav", "audio/ogg"})


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    type: str
    stored_name: str
    title: str
    size: int
    content_type: str


def attachment_type_for(content_type: str) -> str:
    """The Send API's attachment type for a file of this (sniffed) content type."""
    if content_type in IMAGE_CONTENT_TYPES:
        return "image"
    if content_type in VIDEO_CONTENT_TYPES:
        return "video"
    if content_type in AUDIO_CONTENT_TYPES:
        return "audio"
    return "file"


def store_attachment(*, organization: Organization, upload: UploadedFile) -> StoredAttachment:
    """Keep an agent's file under a random storage name; its type is read from its bytes.

    The uploader's file name is kept only as the title shown and offered on download. The
    file is served by the attachment view to members who may see the conversation, and it
    reaches Facebook as an upload (messenger.graph.GraphClient.upload_attachment), never
    through an address of ours.
    """
    title = safe_display_name(upload.name or "")
    if not upload.size:
        raise InvalidInput(_("The file is empty."), details={"file": [_("The file is empty.")]})
    content_type = sniff_content_type(upload)
    attachment_type = attachment_type_for(content_type)
    is_image = attachment_type == "image"
    limit = MAX_IMAGE_BYTES if is_image else MAX_FILE_BYTES
    if upload.size > limit:
        message = _("An image can be at most 8 MB.") if is_image else _("A file can be at most 25 MB.")
        raise AttachmentTooLarge(message, details={"file": [message]})
    upload.seek(0)
    stored_name = default_storage.save(f"{OUTBOUND_STORAGE_PREFIX}/{organization.pk}/{uuid.uuid4().hex}", upload)
    return StoredAttachment(
        type=attachment_type, stored_name=stored_name, title=title, size=upload.size, content_type=content_type
    )


# --- Storing a reply ---------------------------------------------------------------------------


def reply_send(
    *,
    organization: Organization,
    acting_user: Any,
    conversation: Conversation,
    text: str = "",
    upload: UploadedFile | None = None,
) -> list[Message]:
    """Store an agent's reply (a text, a file, or both) as queued messages, sent after commit.

    Messenger's Send API carries a text or one attachment per message, so a text with a file
    becomes two messages: the file, then the text under it as its caption. Every check runs
    before anything is stored (a text too long refuses the file too) and both are queued in
    one transaction: neither goes out alone. The inbox, the API and the ticket page call this.
    """
    if conversation.organization_id != organization.pk:
        raise NotFound
    if upload is None or normalize_text(text):
        text = validate_text(text)
    else:
        text = ""
    window = conversation_reply_check(conversation=conversation)
    contents: list[tuple[str, list[dict[str, Any]]]] = []
    if upload is not None:
        stored = store_attachment(organization=organization, upload=upload)
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
) -> Message:
    """The queued row, the conversation's last activity, and the task after commit."""
    now = timezone.now()
    message = Message.objects.create(
        organization=organization,
        conversation=conversation,
        page_id=conversation.page_id,
        direction=Direction.OUTBOUND,
        source=MessageSource.AGENT,
        kind=MessageKind.ATTACHMENT if attachments else MessageKind.TEXT,
        status=MessageStatus.QUEUED,
        text=text,
        attachments=attachments,
        sent_at=now,
        author=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        idempotency_key=Message.new_idempotency_key(),
        messaging_type=window.messaging_type,
        tag=window.tag,
        status_changed_at=now,
    )
    with translation.override(organization.language):
        preview = message_preview(kind=message.kind, text=message.text, attachments=attachments)
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_at=now, last_message_preview=preview, updated_at=now
    )
    conversation.last_message_at, conversation.last_message_preview = now, preview
    _send_on_commit(message.pk)
    return message


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
    window = conversation_reply_check(conversation=conversation)
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
    _send_on_commit(message.pk)
    return message


def _send_on_commit(message_id: int) -> None:
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


# --- Sending (in the task) ---------------------------------------------------------------------


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


def _failure_code(error: GraphError) -> str:
    if error.needs_reauthorization:
        return "page_reauthorization_required"
    if isinstance(error, WindowClosedError):
        return "reply_window_closed"
    if isinstance(error, RecipientUnavailableError):
        return "recipient_unavailable"
    return error.reason


def _fail(message_id: int, *, code: str, text: str, now: datetime) -> None:
    Message.objects.filter(pk=message_id, status=MessageStatus.SENDING).update(
        status=MessageStatus.FAILED, error_code=code[:60], error_message=text[:500], status_changed_at=now
    )


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
        window = conversation_reply_check(conversation=conversation, page=message.page, now=now)
    except HelpdeskError as refusal:
        _fail(message_id, code=refusal.code, text=str(refusal.message), now=now)
        return None
    if (message.messaging_type, message.tag) != (window.messaging_type, window.tag):
        # Queued inside the 24 hours, sent after them: it now goes out with the human agent tag.
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
        _fail(message_id, code="attachment_unavailable", text="", now=timezone.now())
        return None
    except GraphError as error:
        if error.retryable and retries_done < max_retries:
            Message.objects.filter(pk=message_id, status=MessageStatus.SENDING).update(
                status=MessageStatus.QUEUED,
                error_code=error.reason[:60],
                error_message=str(error.message)[:500],
                status_changed_at=timezone.now(),
            )
            countdown = backoff_seconds(retries_done, error.retry_after)
            if isinstance(error, GraphTimeoutError):
                countdown = max(countdown, OUTCOME_UNKNOWN_RETRY_SECONDS)
            return countdown
        logger.info("message %s failed: %s", message_id, error.reason)
        _fail(message_id, code=_failure_code(error), text=str(error.user_msg or error.message), now=timezone.now())
        return None
    except TokenDecryptionError:
        # Nothing left this process: the stored token opens with none of the configured keys.
        logger.error("message %s: the token of page %s cannot be decrypted", message_id, page.pk)
        _fail(message_id, code="page_reauthorization_required", text="", now=timezone.now())
        return None

    done = timezone.now()
    sent = Message.objects.filter(pk=message_id, status=MessageStatus.SENDING)
    try:
        with transaction.atomic():
            sent.update(
                status=MessageStatus.SENT,
                mid=result.message_id,
                error_code="",
                error_message="",
                status_changed_at=done,
            )
    except IntegrityError:
        # The echo was stored as a row of its own with this mid; ours is still the one sent.
        sent.update(status=MessageStatus.SENT, error_code="", error_message="", status_changed_at=done)
    return None


def message_sweep(*, now: datetime | None = None) -> tuple[int, list[int]]:
    """The recovery job: fail sends of unknown outcome, publish again what was never queued.

    Returns (messages marked failed, ids queued again). A second run changes nothing.
    """
    now = now or timezone.now()
    failed = Message.objects.filter(status=MessageStatus.SENDING, status_changed_at__lt=now - SENDING_TIMEOUT).update(
        status=MessageStatus.FAILED, error_code=UNKNOWN_OUTCOME, error_message="", status_changed_at=now
    )
    # Publishing failed since the message last changed state, or it has waited far too long.
    unpublished = Q(dispatch_failed_at__gte=F("status_changed_at")) | Q(
        status_changed_at__lt=now - QUEUED_REDISPATCH_AFTER
    )
    stale = list(
        Message.objects.filter(unpublished, status=MessageStatus.QUEUED, direction=Direction.OUTBOUND)
        .order_by("status_changed_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    if stale:
        Message.objects.filter(pk__in=stale, status=MessageStatus.QUEUED).update(
            status_changed_at=now, dispatch_failed_at=None
        )
        for message_id in stale:
            _send_on_commit(message_id)
    return failed, stale


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
