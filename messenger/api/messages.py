"""The messages of the inbox API: sending a failed message again, and the stored copy of an
attachment. A conversation's messages are listed, and replies sent, under its conversation."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api import OrganizationViewSet
from helpdesk.models import Membership
from messenger.api.errors import ERRORS
from messenger.api.serializers import MessageSerializer
from messenger.selectors import messages as message_selectors
from messenger.services.sending import replies
from messenger.views.attachments import attachment_response


class MessageViewSet(OrganizationViewSet):
    """Actions on one message of the caller's conversations."""

    serializer_class = MessageSerializer
    admin_only_writes = False

    def scoped_queryset(self, *, organization: Any, membership: Membership) -> QuerySet[Any]:
        return message_selectors.message_visible_list(organization=organization, membership=membership)

    @extend_schema(
        request=None,
        summary="Send a failed message again",
        responses={202: MessageSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        message = message_selectors.message_get(
            organization=self.organization, membership=self.membership, message_id=pk
        )
        message = replies.message_retry(organization=self.organization, acting_user=request.user, message=message)
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Download the stored copy of an attachment (a customer's file, or one an agent sent)",
        description="`index` is the attachment's position in the message's `attachments`. The type is "
        "read from the file's bytes: raster images (PNG, JPEG, GIF, WebP) are served inline, anything "
        "else as a download (HTML, SVG, XML and scripts as `application/octet-stream`).",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: ERRORS[404]},
    )
    @action(detail=True, methods=["get"], url_path="attachments/<int:index>", url_name="attachment")
    def attachment(self, request: Request, pk: str, index: int) -> FileResponse:
        message = message_selectors.message_get(
            organization=self.organization, membership=self.membership, message_id=pk
        )
        return attachment_response(message, index)
