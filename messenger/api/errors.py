"""The error responses the inbox API's routes document (the codes are the services')."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse

from helpdesk.drf import ErrorSerializer

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input (invalid, message_too_long…)."),
    404: OpenApiResponse(ErrorSerializer, description="Not one of your conversations."),
    409: OpenApiResponse(
        ErrorSerializer,
        description="reply_window_closed, channel_disabled, channel_deleted, page_reauthorization_required, "
        "contact_blocked, invalid_transition or colleague_replied (a reply with `seen_at`).",
    ),
}
