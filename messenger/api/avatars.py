"""A contact's kept profile picture through the API (the same rule and headers as the inbox's
messenger.views.avatars)."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request

from helpdesk.api import OrganizationAPIView
from messenger.api.errors import ERRORS
from messenger.selectors import visibility as visibility_selectors
from messenger.views.avatars import avatar_response


class ContactAvatarView(OrganizationAPIView):
    # Read-only: a write is 405 for everyone (never 403 before the contact is looked up).
    admin_only_writes = False

    @extend_schema(
        summary="Download a contact's profile picture (the copy kept by the helpdesk)",
        description="Only for a contact of a conversation the caller may see. 404 when no picture is "
        "kept (Facebook gave none, or it was not an image); the type is read from the file's bytes.",
        responses={(200, "image/*"): OpenApiTypes.BINARY, 404: ERRORS[404]},
    )
    def get(self, request: Request, contact_id: int) -> FileResponse:
        contact = visibility_selectors.contact_get(
            organization=self.organization, membership=self.membership, contact_id=contact_id
        )
        return avatar_response(contact)
