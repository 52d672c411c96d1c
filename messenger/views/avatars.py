"""A contact's profile picture as kept in our storage (messenger.services.contacts), served
like any other kept file (helpdesk.files: type from the bytes, nosniff, sandboxed) to members
who may see the contact (messenger.selectors.visibility.contact_get), never by a public URL.
Facebook's own picture URL is never put in a page: it expires, and would tell Facebook who
looks."""

from __future__ import annotations

import hashlib

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.urls import reverse
from django.views.decorators.http import require_GET

from helpdesk.exceptions import NotFound
from helpdesk.files import file_response
from helpdesk.tenancy import TenantRequest, member_required
from messenger.models import Contact
from messenger.selectors import visibility as visibility_selectors


def kept_avatar_url(contact: Contact, *, organization_slug: str) -> str:
    """Where the inbox shows the contact's kept picture ("" without one). The version in the
    query changes with each copy, so that a browser's cached picture is replaced."""
    if not contact.avatar_stored_name:
        return ""
    version = hashlib.sha256(contact.avatar_stored_name.encode()).hexdigest()[:12]
    url = reverse("messenger:contact_avatar", kwargs={"org_slug": organization_slug, "contact_id": contact.pk})
    return f"{url}?v={version}"


def avatar_response(contact: Contact) -> FileResponse:
    """The kept picture, or Http404."""
    if not contact.avatar_stored_name:
        raise Http404
    try:
        handle = default_storage.open(contact.avatar_stored_name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    return file_response(handle, file_name=f"avatar-{contact.pk}", cache_control="private, max-age=86400")


@member_required
@require_GET
def contact_avatar(request: TenantRequest, contact_id: int) -> FileResponse:
    try:
        contact = visibility_selectors.contact_get(
            organization=request.organization, membership=request.membership, contact_id=contact_id
        )
    except NotFound:
        raise Http404 from None
    return avatar_response(contact)
