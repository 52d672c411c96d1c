"""DRF glue that DRF itself imports through settings: the error format and pagination.

Kept apart from helpdesk.api because DRF's generic views import these while they are
being defined; this module must not import DRF's views.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import inline_serializer
from rest_framework import exceptions, pagination, serializers
from rest_framework.response import Response

from helpdesk.exceptions import HelpdeskError

# --- The error format --------------------------------------------------------------------

_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ValidationError: "invalid",
    exceptions.ParseError: "parse_error",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def error_body(code: str, message: Any, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": str(message), "details": details}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """`{"error": {"code", "message", "details"}}` for every failure the API reports."""
    if isinstance(exc, HelpdeskError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    code = next((c for kind, c in _DRF_CODES.items() if isinstance(exc, kind)), "error")
    if isinstance(exc, exceptions.ValidationError):
        body = error_body(code, _("The input is not valid."), exc.detail)
    else:
        body = error_body(code, exc.detail if isinstance(exc.detail, str) else _("The request failed."))
    response = Response(body, status=exc.status_code)
    if isinstance(exc, exceptions.Throttled) and exc.wait:
        response["Retry-After"] = str(int(exc.wait))
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        response["WWW-Authenticate"] = auth_header
    return response


class ErrorSerializer(serializers.Serializer):
    error = inline_serializer(
        "ErrorDetail",
        fields={
            "code": serializers.CharField(),
            "message": serializers.CharField(),
            "details": serializers.JSONField(allow_null=True),
        },
    )


class CursorPagination(pagination.CursorPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-id"
