"""Why an outbound message failed: the code stored from a Graph API error. The words the
agent reads for a code are ``messenger.send_failures``'s; Facebook's own text is kept in
``error_message`` (shown to admins only)."""

from __future__ import annotations

from messenger.graph import GraphError, RecipientUnavailableError, WindowClosedError
from messenger.models import Message
from messenger.send_failures import send_failure

UNKNOWN_OUTCOME = "unknown_outcome"


def failure_reason(message: Message) -> str:
    """What the agent reads next to a failed message: the words of ``messenger.send_failures``
    (the one map of codes to words; never Facebook's developer text)."""
    failure = send_failure(message)
    return failure.reason if failure else ""


def failure_code(error: GraphError) -> str:
    """The code stored on a message the Send API refused for good."""
    if error.needs_reauthorization:
        return "page_reauthorization_required"
    if isinstance(error, WindowClosedError):
        return "reply_window_closed"
    if isinstance(error, RecipientUnavailableError):
        return "recipient_unavailable"
    return error.reason
