"""OpenAPI schema post-processing: every operation documents the error format for the
statuses the API can answer with, so clients (and schema-driven fuzzers) know them."""

from __future__ import annotations

from typing import Any

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"nullable": True},
            },
        }
    },
}

_ERRORS = {
    "400": "The input is not valid (code `invalid`, or a domain code such as `message_too_long`).",
    "401": "Not authenticated, or the token is invalid or revoked.",
    "403": "Authenticated, but not allowed (for example an agent writing an admin resource).",
    "404": "No such resource in the caller's organization.",
    "405": "Method not allowed.",
    "409": "The request conflicts with the current state (a domain code says why).",
    "413": "The request body is too large.",
    "415": "Unsupported media type.",
    "429": "Too many requests (code `rate_limited`): retry after `Retry-After` seconds.",
}
# helpdesk.idempotency: every POST takes the header.
_POST_ERRORS = {
    "410": "The answer kept for this Idempotency-Key quoted a customer whose data was erased since; the request "
    "is not run again (code `idempotency_reply_erased`).",
    "422": "The Idempotency-Key was already used for a different request (code `idempotency_key_reused`).",
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Sent again with the same request, the first answer is replayed (`Idempotent-Replayed: "
    "true`) and nothing is done twice; kept 24 hours. 409 `idempotency_key_in_progress` while the first "
    "is running.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
# helpdesk.ratelimit: on every answer of an authenticated caller.
_RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "Requests allowed per window.",
    "RateLimit-Remaining": "Requests left in this window.",
    "RateLimit-Reset": "Seconds until the window ends.",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = _ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    headers = {name: {"description": text, "schema": {"type": "integer"}} for name, text in _RATE_LIMIT_HEADERS.items()}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = {**_ERRORS, **_POST_ERRORS} if method == "post" else _ERRORS
            for status, description in errors.items():
                operation["responses"].setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": reference}}}
                )
            for response in operation["responses"].values():
                response.setdefault("headers", {}).update(headers)
            if method == "post":
                operation.setdefault("parameters", []).append(_IDEMPOTENCY_KEY)
    return result
