"""The Attachment Upload API (``POST /{page-id}/message_attachments``) and the files that
come with a multipart send, checked like Facebook checks them: every accepted upload is kept
with its bytes (``SandboxUpload``), and a send naming an ``attachment_id`` the page never
uploaded is refused."""

from __future__ import annotations

import json
import secrets
from typing import Any

from django.core.files.uploadedfile import UploadedFile

from helpdesk.files import INLINE_IMAGE_TYPES, sniff_content_type
from messenger.sandbox import errors
from messenger.sandbox.models import SandboxPage, SandboxUpload
from messenger.sandbox.send_requests import SendAnswer
from messenger.sandbox.tokens import token_require_messaging_page

UPLOAD_TYPES = frozenset({"image", "video", "audio", "file"})
# Facebook's limits for a Messenger attachment: 25 MB, images 8 MB.
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_IMAGE_UPLOAD_BYTES = 8 * 1024 * 1024
UPLOAD_FAILURE_SUBCODE = 2018047


def attachment_upload(
    *, node_id: str, raw_token: str | None, message: str | None, filedata: UploadedFile | None
) -> SendAnswer:
    """``POST /{page-id}/message_attachments``: keep the file, answer its ``attachment_id``."""
    page = None if node_id == "me" else SandboxPage.objects.filter(page_id=node_id).first()
    try:
        page = token_require_messaging_page(raw_token, node_id=node_id, page=page)
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


def with_uploaded_file(*, page: SandboxPage, body: dict[str, Any], filedata: UploadedFile) -> dict[str, Any]:
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


def uploaded_attachment_check(*, page: SandboxPage, message: dict[str, Any] | None) -> None:
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
