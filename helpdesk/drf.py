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
from rest_framework import exceptions, pagination, parsers, serializers
from rest_framework.response import Response

from helpdesk.converters import parse_int
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
    if isinstance(exc, exceptions.Throttled):
        # Set by Throttled.__init__; missing from the DRF stubs.
        wait = exc.wait  # type: ignore[attr-defined]
        if wait:
            response["Retry-After"] = str(int(wait))
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


class IdField(serializers.IntegerField):
    """A primary key in a request body: a positive number that fits a 64-bit column."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(**kwargs)


# --- Request bodies ------------------------------------------------------------------------

# Deeper than any body the API takes; the webhook allows as much (messenger.webhook.parsing).
JSON_MAX_DEPTH = 64


def _check_document(value: Any, depth: int = 0) -> None:
    if depth > JSON_MAX_DEPTH:
        raise exceptions.ParseError(_("JSON parse error - the document is nested too deeply."))
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            message = _("JSON parse error - the text holds an unpaired surrogate escape, which is not Unicode.")
            raise exceptions.ParseError(message) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_document(key, depth + 1)
            _check_document(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_document(item, depth + 1)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing with a 400 (`parse_error`) the bodies it would let through
    to a 500: nesting deeper than Python's recursion limit, and text with an unpaired
    surrogate escape (a lone `\\ud800`), which no database or response can encode."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            document = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(_("JSON parse error - the document is nested too deeply.")) from None
        _check_document(document)
        return document


# --- Pagination --------------------------------------------------------------------------


class CursorPagination(pagination.CursorPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering: str | list[str] | tuple[str, ...] = "-id"

    def get_page_size(self, request: Any) -> int:
        """A page_size that is not a whole number from 1 to max_page_size is refused, not ignored."""
        raw = request.query_params.getlist(self.page_size_query_param)
        if not raw:
            return self.page_size
        page_size = parse_int(raw[0], minimum=1, maximum=self.max_page_size) if len(raw) == 1 else None
        if page_size is None:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [_("A whole number from 1 to %(max)d.") % {"max": self.max_page_size}]}
            )
        return page_size

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters
