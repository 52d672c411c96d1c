"""The stored copy of a message's attachment (a customer's file we downloaded, or a file an
agent sent), served only to members who may see its conversation (messenger.selectors), in
the HTML inbox and, through the API token, the API. What the browser receives is decided
by helpdesk.files from the file's bytes."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.urls import reverse
from django.views.decorators.http import require_GET

from helpdesk.exceptions import NotFound
from helpdesk.files import file_response, is_inline_image
from helpdesk.tenancy import TenantRequest, member_required
from messenger.models import Direction, Message
from messenger.referrals import referral_attachment_text
from messenger.selectors import messages as message_selectors
from messenger.services.attachments.storage import stored_file_name


def safe_url(url: Any) -> str:
    """Only web addresses become links and images (payload text is never a javascript: URL)."""
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else ""


def _display_name(attachment: dict[str, Any], *, outbound: bool) -> str:
    # An agent's file keeps the name it was uploaded under apart from its random storage
    # name; a customer's is read back from the storage name the downloader chose.
    if outbound and attachment.get("title"):
        return str(attachment["title"])
    return stored_file_name(str(attachment["stored_name"]))


def display_attachments(attachments: Any, *, organization_slug: str, message_id: int) -> list[dict[str, Any]]:
    """Each attachment with the address to show (the inbox and ticket transcripts): our
    stored copy when there is one, else Facebook's URL while the download is pending.
    `inline` says whether it may be shown as an image (only a raster image, by its bytes).
    A referral (an m.me link, the chat plugin) is no file: it carries its sentence as `text`."""
    entries = [a for a in attachments if isinstance(a, dict)] if isinstance(attachments, list) else []
    stored_url = ""
    if any(a.get("stored_name") for a in entries):
        stored_url = reverse(
            "messenger:message_attachment",
            kwargs={"org_slug": organization_slug, "message_id": message_id, "index": 0},
        )
    shown = []
    for index, attachment in enumerate(attachments if isinstance(attachments, list) else []):
        if not isinstance(attachment, dict):
            continue
        if attachment.get("type") == "referral":
            shown.append({"type": "referral", "text": referral_attachment_text(attachment), "url": "", "inline": False})
            continue
        stored = bool(attachment.get("stored_name"))
        url = safe_url(attachment.get("url"))
        inline = attachment.get("type") == "image"
        if stored:
            url = stored_url.replace("/attachments/0/", f"/attachments/{index}/")
            attachment = {**attachment, "title": attachment.get("title") or stored_file_name(attachment["stored_name"])}
            inline = inline and is_inline_image(str(attachment.get("content_type", "")).lower())
        shown.append({**attachment, "url": url, "stored": stored, "inline": inline and bool(url)})
    return shown


def attachment_response(message: Message, index: int) -> FileResponse:
    """The stored file of the message's attachment ``index``, or Http404."""
    attachments = message.attachments if isinstance(message.attachments, list) else []
    entry = attachments[index] if 0 <= index < len(attachments) else None
    if not isinstance(entry, dict) or not entry.get("stored_name"):
        raise Http404
    try:
        handle = default_storage.open(str(entry["stored_name"]), "rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    return file_response(handle, file_name=_display_name(entry, outbound=message.direction == Direction.OUTBOUND))


@member_required
@require_GET
def message_attachment(request: TenantRequest, message_id: int, index: int) -> FileResponse:
    try:
        message = message_selectors.message_get(
            organization=request.organization, membership=request.membership, message_id=message_id
        )
    except NotFound:
        raise Http404 from None
    return attachment_response(message, index)
