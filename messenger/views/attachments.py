"""The stored copy of an inbound attachment, served only to members who may see its
conversation (messenger.selectors), in the HTML inbox and, through the API token, the API."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.urls import reverse
from django.views.decorators.http import require_GET

from helpdesk.exceptions import NotFound
from helpdesk.tenancy import TenantRequest, member_required
from messenger import selectors
from messenger.models import Message
from messenger.services.attachments import INLINE_IMAGE_TYPES, attachment_for_serving, stored_file_name


def safe_url(url: Any) -> str:
    """Only web addresses become links and images (payload text is never a javascript: URL)."""
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else ""


def display_attachments(attachments: Any, *, organization_slug: str, message_id: int) -> list[dict[str, Any]]:
    """Each attachment with the address to show (the inbox and ticket transcripts): our
    stored copy when there is one, else Facebook's URL while the download is pending.
    `inline` says whether it may be shown as an image (never an HTML or SVG file)."""
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
        url = safe_url(attachment.get("url"))
        stored = bool(attachment.get("stored_name"))
        inline = attachment.get("type") == "image"
        if stored:
            url = stored_url.replace("/attachments/0/", f"/attachments/{index}/")
            attachment = {
                **attachment,
                "title": attachment.get("title") or stored_file_name(attachment["stored_name"]),
            }
            inline = inline and str(attachment.get("content_type", "")).lower() in INLINE_IMAGE_TYPES
        shown.append({**attachment, "url": url, "stored": stored, "inline": inline and bool(url)})
    return shown


def attachment_response(message: Message, index: int) -> FileResponse:
    """The file, or Http404. Only raster images are inline; HTML, SVG and the like arrive
    as a download with a neutral type, and the browser is told not to guess another."""
    served = attachment_for_serving(message, index)
    if served is None:
        raise Http404
    try:
        handle = default_storage.open(served.stored_name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    response = FileResponse(
        handle, content_type=served.content_type, as_attachment=not served.inline, filename=served.file_name
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Even if a browser rendered it, nothing in it may run or load.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@member_required
@require_GET
def message_attachment(request: TenantRequest, message_id: int, index: int) -> FileResponse:
    try:
        message = selectors.message_get(
            organization=request.organization, membership=request.membership, message_id=message_id
        )
    except NotFound:
        raise Http404 from None
    return attachment_response(message, index)
