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
    "429": "Too many requests.",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = _ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, description in _ERRORS.items():
                operation["responses"].setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": reference}}}
                )
    return result
