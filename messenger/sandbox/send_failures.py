"""Send API failures scripted in advance: the next calls of a page answer a Graph error,
time out, or are only slow::

    sandbox_send_failures_script(page_id=..., http_status=500, code=2, is_transient=True, times=2)

The controls page offers the rows of MESSENGER.md's error table (``failure_presets``); the
Send API (``send_api``) takes them one call at a time (``send_failure_take``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from messenger.sandbox import errors
from messenger.sandbox.models import SandboxPage, SandboxSendFailure


@dataclass(frozen=True, slots=True)
class FailurePreset:
    label: str
    http_status: int
    code: int
    subcode: int | None = None
    is_transient: bool = False
    delay_seconds: float | None = None


def failure_presets() -> dict[str, FailurePreset]:
    """The rows of MESSENGER.md's error table the controls page offers."""
    return {
        "token_expired": FailurePreset("190 / 463 — token expired", 400, 190, 463),
        "window_closed": FailurePreset("10 / 2018278 — outside the messaging window", 400, 10, 2018278),
        "unavailable": FailurePreset("551 — this person isn't available right now", 400, 551, 1545041),
        "rate_limited": FailurePreset("613 — rate limited", 400, 613),
        "server_error": FailurePreset("HTTP 500 — unexpected error (transient)", 500, 2, None, True),
        "timeout": FailurePreset(
            "Timeout — no answer before the client gives up", 500, 2, None, True, settings.FB_GRAPH_TIMEOUT + 5
        ),
    }


_FAILURE_MESSAGES = {
    1: "An unknown error occurred",
    2: "An unexpected error has occurred. Please retry your request later.",
    4: "(#4) Application request limit reached",
    10: errors.WINDOW_MESSAGE,
    190: "Error validating access token: Session has expired.",
    551: "(#551) This person isn't available right now.",
    613: "(#613) Calls to this api have exceeded the rate limit.",
}


def sandbox_send_failures_script(
    *,
    page_id: str,
    http_status: int,
    code: int,
    subcode: int | None = None,
    is_transient: bool = False,
    times: int = 1,
    delay_seconds: float | None = None,
    message: str | None = None,
) -> SandboxSendFailure:
    """The next ``times`` Send API calls of the page answer this Graph error.

    With ``delay_seconds`` the sandbox first sleeps that long (longer than the client's
    timeout: a timeout). With an ``http_status`` below 400 the call is only slow and then
    goes through (sent, echoed), like a send that timed out on the client's side.
    """
    if times < 1:
        raise ValueError("times must be at least 1")
    page = SandboxPage.objects.get(page_id=page_id)
    return SandboxSendFailure.objects.create(
        page=page,
        http_status=http_status,
        code=code,
        subcode=subcode,
        is_transient=is_transient,
        message=message or _FAILURE_MESSAGES.get(code, f"(#{code}) Scripted sandbox failure"),
        remaining=times,
        delay_seconds=delay_seconds,
    )


@transaction.atomic
def send_failure_take(*, page: SandboxPage) -> SandboxSendFailure | None:
    """The failure scripted for the page's next Send API call, counted as used; None when
    nothing is scripted."""
    failure = SandboxSendFailure.objects.select_for_update().filter(page=page, remaining__gt=0).first()
    if failure is None:
        return None
    failure.remaining -= 1
    if failure.remaining:
        failure.save(update_fields=["remaining"])
    else:
        failure.delete()
    return failure
