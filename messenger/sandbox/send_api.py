"""The Send API (``POST /{page-id}/messages``, ``/me/messages``), checked like Facebook checks it.

Every Send API call is recorded, whatever its outcome (``SandboxSendCall``); a call may first
meet a failure scripted for its page (``send_failures``). A successful message queues the
echo and the delivery webhooks; they are sent after commit by a Celery task (or by a flush),
never inside the Send API request itself. The request's checks are in ``send_requests``, the
files that come with a send in ``uploads``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from messenger.sandbox import errors, webhooks
from messenger.sandbox.models import SandboxCustomer, SandboxPage, SandboxSendCall
from messenger.sandbox.send_failures import send_failure_take
from messenger.sandbox.send_requests import SendAnswer, SendRequest, send_request_parse
from messenger.sandbox.tasks import deliver_pending_webhooks
from messenger.sandbox.tokens import token_require_messaging_page
from messenger.sandbox.uploads import uploaded_attachment_check, with_uploaded_file

logger = logging.getLogger(__name__)

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
WINDOW_SUBCODE = 2018278
NO_MATCHING_USER_SUBCODE = 2018001


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
        page = token_require_messaging_page(raw_token, node_id=node_id, page=page)
        if filedata is not None:
            body = with_uploaded_file(page=page, body=body, filedata=filedata)
        failure = send_failure_take(page=page)
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
        request = send_request_parse(body)
        uploaded_attachment_check(page=page, message=request.message)
        return _deliver(page=page, body=body, request=request, file_url=file_url)
    except errors.SandboxGraphError as error:
        return _record_error(page=page, body=body, error=error)


def _deliver(
    *, page: SandboxPage, body: dict[str, Any], request: SendRequest, file_url: Callable[[str], str] | None = None
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
    request: SendRequest | None,
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
        request = send_request_parse(body)
    except errors.SandboxGraphError:
        request = None
    _record(page=page, body=body, request=request, http_status=error.http_status, response=answer_body)
    return SendAnswer(error.http_status, answer_body)
