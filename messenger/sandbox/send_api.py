"""The Send API (``POST /{page-id}/messages``, ``/me/messages``) and the Attachment Upload API
(``POST /{page-id}/message_attachments``), checked like Facebook checks them.

Every Send API call is recorded, whatever its outcome; every accepted upload is kept with its
bytes (``SandboxUpload``), and a send naming an ``attachment_id`` the page never uploaded is
refused. A successful message queues the echo and the delivery webhooks; they are sent after
commit by a Celery task (or by a flush), never inside the Send API request itself.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from helpdesk.files import INLINE_IMAGE_TYPES, sniff_content_type
from messenger.graph import ALLOWED_MESSAGE_TAGS, MESSAGING_TYPES, SENDER_ACTIONS
from messenger.sandbox import errors, webhooks
from messenger.sandbox.models import (
    SandboxCustomer,
    SandboxPage,
    SandboxSendCall,
    SandboxSendFailure,
    SandboxUpload,
)
from messenger.sandbox.tasks import deliver_pending_webhooks
from messenger.sandbox.tokens import token_require_page, token_require_permission

logger = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 2000
MAX_METADATA_LENGTH = 1000
MAX_QUICK_REPLIES = 13
STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
ATTACHMENT_TYPES = frozenset({"image", "video", "audio", "file", "template"})
UPLOAD_TYPES = frozenset({"image", "video", "audio", "file"})
# Facebook's limits for a Messenger attachment: 25 MB, images 8 MB.
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_IMAGE_UPLOAD_BYTES = 8 * 1024 * 1024
UPLOAD_FAILURE_SUBCODE = 2018047
WINDOW_SUBCODE = 2018278
NO_MATCHING_USER_SUBCODE = 2018001


@dataclass(frozen=True, slots=True)
class SendAnswer:
    http_status: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Request:
    # The recipient's PSID, or a chat-plugin guest's user_ref when `to_user_ref`.
    psid: str
    to_user_ref: bool
    messaging_type: str
    tag: str
    sender_action: str
    message: dict[str, Any] | None
    metadata: str


def send_api_call(
    *,
    node_id: str,
    raw_token: str | None,
    body: dict[str, Any],
    filedata: UploadedFile | None = None,
    file_url: Callable[[str], str] | None = None,
) -> SendAnswer:
    """Answer one Send API request and record it.

    ``filedata``: the file part of a multipart send (the file goes with the message in one
    call); ``file_url`` gives the sandbox CDN address of an upload, for the echo.
    """
    # Known before the token is checked, so that refusals are logged against the page.
    page = None if node_id == "me" else SandboxPage.objects.filter(page_id=node_id).first()
    try:
        page = _authorized_page(node_id=node_id, page=page, raw_token=raw_token)
        if filedata is not None:
            body = _with_uploaded_file(page=page, body=body, filedata=filedata)
        failure = _scripted_failure_take(page=page)
        if failure is not None:
            error = errors.SandboxGraphError(
                failure.message,
                code=failure.code or 0,
                subcode=failure.subcode,
                http_status=failure.http_status,
                is_transient=failure.is_transient,
            )
            if failure.http_status >= 400:
                answer = _record_error(page=page, body=body, error=error)
                # Sleep outside any transaction: a scripted timeout must not hold a lock.
                if failure.delay_seconds:
                    time.sleep(failure.delay_seconds)
                return answer
            if failure.delay_seconds:  # "slow, but it went through"
                time.sleep(failure.delay_seconds)
        request = _parse(body)
        _check_uploaded(page=page, message=request.message)
        return _deliver(page=page, body=body, request=request, file_url=file_url)
    except errors.SandboxGraphError as error:
        return _record_error(page=page, body=body, error=error)


# --- Uploads ---------------------------------------------------------------------------------


def attachment_upload(
    *, node_id: str, raw_token: str | None, message: str | None, filedata: UploadedFile | None
) -> SendAnswer:
    """``POST /{page-id}/message_attachments``: keep the file, answer its ``attachment_id``."""
    page = None if node_id == "me" else SandboxPage.objects.filter(page_id=node_id).first()
    try:
        page = _authorized_page(node_id=node_id, page=page, raw_token=raw_token)
        if message is None:
            raise errors.invalid_parameter("The parameter message is required")
        try:
            parsed = json.loads(message)
        except ValueError:
            raise errors.invalid_parameter("param message must be JSON") from None
        attachment = parsed.get("attachment") if isinstance(parsed, dict) else None
        if not isinstance(attachment, dict):
            raise errors.invalid_parameter("param message[attachment] must be a JSON object")
        payload = attachment.get("payload")
        is_reusable = isinstance(payload, dict) and payload.get("is_reusable") is True
        upload = _upload_keep(
            page=page, attachment_type=attachment.get("type"), filedata=filedata, is_reusable=is_reusable
        )
    except errors.SandboxGraphError as error:
        return SendAnswer(error.http_status, error.body())
    return SendAnswer(200, {"attachment_id": upload.attachment_id})


def _upload_keep(
    *, page: SandboxPage, attachment_type: object, filedata: UploadedFile | None, is_reusable: bool
) -> SandboxUpload:
    """Check an uploaded file as Facebook does and keep it; raises SandboxGraphError."""
    if attachment_type not in UPLOAD_TYPES:
        raise errors.invalid_parameter("Param message[attachment][type] must be one of {IMAGE, VIDEO, AUDIO, FILE}")
    if filedata is None:
        raise errors.SandboxGraphError(
            "(#100) Upload attachment failure: the file part filedata is missing.",
            code=100,
            subcode=UPLOAD_FAILURE_SUBCODE,
        )
    if not filedata.size:
        raise errors.SandboxGraphError(
            "(#100) Upload attachment failure: the file is empty.", code=100, subcode=UPLOAD_FAILURE_SUBCODE
        )
    limit = MAX_IMAGE_UPLOAD_BYTES if attachment_type == "image" else MAX_UPLOAD_BYTES
    if filedata.size > limit:
        raise errors.SandboxGraphError(
            f"(#100) Attachment size exceeds allowable limit of {limit} bytes for {attachment_type}.",
            code=100,
            subcode=UPLOAD_FAILURE_SUBCODE,
        )
    content_type = sniff_content_type(filedata)
    expected_prefix = {"image": "image/", "video": "video/", "audio": "audio/"}.get(str(attachment_type))
    is_valid = content_type in INLINE_IMAGE_TYPES if attachment_type == "image" else True
    if expected_prefix and not (content_type.startswith(expected_prefix) and is_valid):
        raise errors.SandboxGraphError(
            f"(#100) Upload attachment failure: the file is not a valid {attachment_type}.",
            code=100,
            subcode=UPLOAD_FAILURE_SUBCODE,
        )
    filedata.seek(0)
    return SandboxUpload.objects.create(
        attachment_id=str(10**15 + secrets.randbelow(9 * 10**15)),
        page=page,
        attachment_type=str(attachment_type),
        file_name=str(filedata.name or "")[:255],
        declared_content_type=str(filedata.content_type or "")[:100],
        content_type=content_type,
        size=filedata.size,
        data=filedata.read(),
        is_reusable=is_reusable,
    )


def _with_uploaded_file(*, page: SandboxPage, body: dict[str, Any], filedata: UploadedFile) -> dict[str, Any]:
    """A multipart send: keep the file and name it in the message by its new attachment_id."""
    message = body.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("attachment"), dict):
        raise errors.invalid_parameter("param message[attachment] is required with filedata")
    attachment = message["attachment"]
    payload = attachment.get("payload")
    is_reusable = isinstance(payload, dict) and payload.get("is_reusable") is True
    upload = _upload_keep(page=page, attachment_type=attachment.get("type"), filedata=filedata, is_reusable=is_reusable)
    payload = {**(payload if isinstance(payload, dict) else {}), "attachment_id": upload.attachment_id}
    return {**body, "message": {**message, "attachment": {**attachment, "payload": payload}}}


def _check_uploaded(*, page: SandboxPage, message: dict[str, Any] | None) -> None:
    """An attachment_id must be one this page uploaded, of the type the message says."""
    attachment = (message or {}).get("attachment")
    if not isinstance(attachment, dict):
        return
    payload = attachment.get("payload")
    if not isinstance(payload, dict) or "attachment_id" not in payload:
        return
    attachment_id = str(payload["attachment_id"])
    upload = SandboxUpload.objects.filter(page=page, attachment_id=attachment_id).only("attachment_type").first()
    if upload is None:
        raise errors.invalid_parameter(f"Attachment {attachment_id} does not exist or was not uploaded by this page")
    if upload.attachment_type != attachment["type"]:
        raise errors.invalid_parameter(
            f"message[attachment][type] {attachment['type']} does not match the uploaded {upload.attachment_type}"
        )


def _authorized_page(*, node_id: str, page: SandboxPage | None, raw_token: str | None) -> SandboxPage:
    """The page the call sends as: the URL's (its own token required) or, for ``me``, the token's."""
    if node_id == "me":
        token = token_require_page(raw_token)
        assert token.page is not None  # token_require_page guarantees it
        page = token.page
    else:
        if page is None:
            raise errors.unknown_object(node_id, "POST")
        token = token_require_page(raw_token)
        if token.page_id != page.pk:
            raise errors.SandboxGraphError(
                "Error validating access token: the page access token was issued for another page.",
                code=190,
                subcode=467,
            )
    token_require_permission(token, "pages_messaging", code=10)
    return page


@transaction.atomic
def _scripted_failure_take(*, page: SandboxPage) -> SandboxSendFailure | None:
    failure = SandboxSendFailure.objects.select_for_update().filter(page=page, remaining__gt=0).first()
    if failure is None:
        return None
    failure.remaining -= 1
    if failure.remaining:
        failure.save(update_fields=["remaining"])
    else:
        failure.delete()
    return failure


def _parse(body: dict[str, Any]) -> _Request:
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
        return _Request(psid, to_user_ref, "", "", str(sender_action), None, "")

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
    return _Request(psid, to_user_ref, str(messaging_type), str(tag or ""), "", message, metadata or "")


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
    if quick_replies is not None and (not isinstance(quick_replies, list) or len(quick_replies) > MAX_QUICK_REPLIES):
        raise errors.invalid_parameter(f"param message[quick_replies] must have at most {MAX_QUICK_REPLIES} items")


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


def _deliver(
    *, page: SandboxPage, body: dict[str, Any], request: _Request, file_url: Callable[[str], str] | None = None
) -> SendAnswer:
    # A PSID reaches a Messenger user, a user_ref a chat-plugin guest, never the other way.
    customer = SandboxCustomer.objects.filter(page=page, psid=request.psid, is_guest=request.to_user_ref).first()
    if customer is None:
        raise errors.invalid_parameter("No matching user found", subcode=NO_MATCHING_USER_SUBCODE)
    window = HUMAN_AGENT_WINDOW if request.tag == "HUMAN_AGENT" else STANDARD_WINDOW
    now = timezone.now()
    if customer.last_message_at is None or now - customer.last_message_at > window:
        raise errors.SandboxGraphError(errors.WINDOW_MESSAGE, code=10, subcode=WINDOW_SUBCODE)

    # Facebook leaves recipient_id out of its answer when the recipient was a user_ref.
    recipient: dict[str, Any] = {} if request.to_user_ref else {"recipient_id": customer.psid}
    if request.sender_action:
        answer_body: dict[str, Any] = dict(recipient)
        _record(page=page, body=body, request=request, http_status=200, response=answer_body)
        return SendAnswer(200, answer_body)

    answer_body = recipient | {"message_id": webhooks.new_mid()}
    with transaction.atomic():
        send_call = _record(page=page, body=body, request=request, http_status=200, response=answer_body)
        webhooks.outbound_queue_for_send(
            send_call=send_call, page=page, echo_attachment=_echo_attachment(request.message, file_url)
        )
        transaction.on_commit(_queue_webhook_delivery)
    return SendAnswer(200, answer_body)


def _echo_attachment(message: dict[str, Any] | None, file_url: Callable[[str], str] | None) -> dict[str, Any] | None:
    """An uploaded file comes back in the echo as Facebook does it: at a CDN address."""
    attachment = (message or {}).get("attachment")
    if not isinstance(attachment, dict) or file_url is None:
        return None
    payload = attachment.get("payload")
    if not isinstance(payload, dict) or "attachment_id" not in payload:
        return None
    return {"type": attachment["type"], "payload": {"url": file_url(str(payload["attachment_id"]))}}


def _queue_webhook_delivery() -> None:
    # An eager Celery would deliver inside this very request: leave it to the next flush.
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        return
    try:
        deliver_pending_webhooks.delay()
    except Exception as exc:  # the broker is down: the simulator's polling or a flush sends them
        logger.warning("Sandbox could not queue webhook delivery: %s", type(exc).__name__)


def _record(
    *,
    page: SandboxPage | None,
    body: dict[str, Any],
    request: _Request | None,
    http_status: int,
    response: dict[str, Any],
) -> SandboxSendCall:
    message = (request.message if request else None) or {}
    text = message.get("text")
    return SandboxSendCall.objects.create(
        page=page,
        psid=request.psid if request else _loose_psid(body),
        to_user_ref=request.to_user_ref if request else False,
        request_body=body,
        messaging_type=request.messaging_type if request else str(body.get("messaging_type") or "")[:20],
        tag=request.tag if request else str(body.get("tag") or "")[:40],
        sender_action=request.sender_action if request else str(body.get("sender_action") or "")[:20],
        text=text if isinstance(text, str) else "",
        metadata=request.metadata if request else "",
        http_status=http_status,
        response=response,
        error_code=(response.get("error") or {}).get("code"),
        error_subcode=(response.get("error") or {}).get("error_subcode"),
        message_id=str(response.get("message_id") or ""),
    )


def _loose_psid(body: dict[str, Any]) -> str:
    recipient = body.get("recipient")
    psid = (recipient.get("id") or recipient.get("user_ref")) if isinstance(recipient, dict) else None
    return str(psid)[:64] if isinstance(psid, (str, int)) else ""


def _record_error(*, page: SandboxPage | None, body: dict[str, Any], error: errors.SandboxGraphError) -> SendAnswer:
    answer_body = error.body()
    try:
        request = _parse(body)
    except errors.SandboxGraphError:
        request = None
    _record(page=page, body=body, request=request, http_status=error.http_status, response=answer_body)
    return SendAnswer(error.http_status, answer_body)
