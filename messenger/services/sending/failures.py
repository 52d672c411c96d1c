"""Why an outbound message failed: the code stored from a Graph API error, and the words
the agent reads next to the message (Facebook's own text is kept in ``error_message`` and
shown beside them)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

from messenger.graph import GraphError, RecipientUnavailableError, WindowClosedError
from messenger.models import Message

UNKNOWN_OUTCOME = "unknown_outcome"
# What the agent reads next to a failed message, by error code.
FAILURE_REASONS: dict[str, Any] = {
    "reply_window_closed": gettext_lazy("The reply window is closed: the customer must write first."),
    "page_reauthorization_required": gettext_lazy(
        "The Facebook Page needs to be re-authorized by an admin before messages can be sent."
    ),
    "recipient_unavailable": gettext_lazy("This person isn't available right now."),
    "recipient_cannot_receive": gettext_lazy("This person can't receive messages from the page."),
    "thread_owned_by_other_app": gettext_lazy("Another app is handling this conversation on Facebook."),
    "no_matching_user": gettext_lazy("Facebook does not know this customer any more."),
    "app_not_live": gettext_lazy("The Facebook app is not live."),
    "rate_limited": gettext_lazy("Facebook kept refusing because of rate limits."),
    "graph_transient": gettext_lazy("Facebook had a temporary problem and the message was not accepted."),
    "graph_timeout": gettext_lazy("Facebook did not answer in time."),
    "graph_connection": gettext_lazy("Facebook could not be reached."),
    "channel_disabled": gettext_lazy("The channel was disabled before the message went out."),
    "channel_deleted": gettext_lazy("The channel was deleted before the message went out."),
    "contact_blocked": gettext_lazy("The customer was blocked before the message went out."),
    "attachment_unavailable": gettext_lazy("The file of this message can no longer be read."),
    UNKNOWN_OUTCOME: gettext_lazy(
        "Sending was interrupted and it is not known whether Facebook received the message. "
        "Check the conversation on Facebook before retrying."
    ),
}


def failure_reason(message: Message) -> str:
    reason = FAILURE_REASONS.get(message.error_code)
    if reason is not None:
        return str(reason)
    return message.error_message or str(gettext_lazy("Facebook refused the message."))


def failure_code(error: GraphError) -> str:
    """The code stored on a message the Send API refused for good."""
    if error.needs_reauthorization:
        return "page_reauthorization_required"
    if isinstance(error, WindowClosedError):
        return "reply_window_closed"
    if isinstance(error, RecipientUnavailableError):
        return "recipient_unavailable"
    return error.reason
