"""Graph API errors as Facebook shapes them: ``{"error": {message, type, code, error_subcode,
fbtrace_id}}`` with Facebook's HTTP status."""

from __future__ import annotations

import secrets
import string
from typing import Any

_TRACE_ALPHABET = string.ascii_letters + string.digits

# Facebook's own wordings, so that what the product logs looks like what it will meet.
WINDOW_MESSAGE = (
    "(#10) This message is sent outside of allowed window. Learn more about the new policy here: "
    "https://developers.facebook.com/docs/messenger-platform/policy-overview"
)
INVALID_TOKEN_MESSAGE = "Invalid OAuth access token - Cannot parse access token"


def fbtrace_id() -> str:
    return "".join(secrets.choice(_TRACE_ALPHABET) for _ in range(11))


class SandboxGraphError(Exception):
    """Raised by the sandbox's Graph logic; the views turn it into Facebook's error response."""

    def __init__(
        self,
        message: str,
        *,
        code: int,
        subcode: int | None = None,
        http_status: int = 400,
        is_transient: bool = False,
        error_type: str = "OAuthException",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.http_status = http_status
        self.is_transient = is_transient
        self.error_type = error_type

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.is_transient:
            error["is_transient"] = True
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}


def invalid_token() -> SandboxGraphError:
    return SandboxGraphError(INVALID_TOKEN_MESSAGE, code=190)


def missing_token() -> SandboxGraphError:
    return SandboxGraphError("An access token is required to request this resource.", code=104)


def invalid_parameter(message: str, *, subcode: int | None = None) -> SandboxGraphError:
    return SandboxGraphError(f"(#100) {message}", code=100, subcode=subcode)


def unknown_object(object_id: str, method: str) -> SandboxGraphError:
    return SandboxGraphError(
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation. Please read the Graph API "
        "documentation at https://developers.facebook.com/docs/graph-api",
        code=100,
        subcode=33,
        error_type="GraphMethodException",
    )


def permission_missing(permission: str, *, code: int = 200) -> SandboxGraphError:
    return SandboxGraphError(
        f"(#{code}) Requires {permission} permission to manage the object", code=code, http_status=403
    )


def page_token_required() -> SandboxGraphError:
    return SandboxGraphError("(#210) A page access token is required to request this resource.", code=210)
