"""Why a reply was not sent, in words an agent understands, and what they can do about it.

The one place a failed message's stored code (``Message.error_code``) becomes a sentence.
Facebook's error codes and subcodes become those codes in ``messenger.graph.errors``
(``error_from_response``: 10/2018278 → ``reply_window_closed``, 551 → ``recipient_unavailable``,
190 → the page needs re-authorization, …); the product's own refusals keep the codes of
``helpdesk.exceptions``. Facebook's own text (``Message.error_message``) is developer text:
the inbox shows it to admins only, behind a "Details" disclosure.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from messenger.models import Message, MessageStatus


@dataclass(frozen=True, slots=True)
class SendFailure:
    """A failed send as the agent reads it: what happened, and what to do now."""

    code: str
    reason: str
    advice: str

    @property
    def text(self) -> str:
        return f"{self.reason} {self.advice}"


RETRY_THEN_ADMIN = _("Retry in a moment; if it fails again, tell an admin.")
REAUTHORIZE = _("An admin must re-authorize the Facebook Page in Settings → Channels; then retry.")
ANOTHER_WAY = _("Retrying will not help: reach the customer another way.")

# By the stored code: (what happened, what to do).
_FAILURES: dict[str, tuple[Promise, Promise]] = {
    "reply_window_closed": (
        _("The reply window is closed: the customer must write first."),
        _("You can answer as soon as the customer writes again."),
    ),
    "page_reauthorization_required": (
        _("The Facebook Page needs to be re-authorized by an admin before messages can be sent."),
        REAUTHORIZE,
    ),
    "recipient_unavailable": (
        _("This person isn't available right now."),
        _("They may have blocked the page or closed their account. Try again later, or reach them another way."),
    ),
    "recipient_cannot_receive": (_("This person can't receive messages from the page."), ANOTHER_WAY),
    "no_matching_user": (_("Facebook does not know this customer any more."), ANOTHER_WAY),
    "thread_owned_by_other_app": (
        _("Another app is handling this conversation on Facebook."),
        _("Answer from that app, or ask an admin to hand the conversation back to the helpdesk."),
    ),
    "app_not_live": (
        _("The Facebook app is not live."),
        _("Facebook delivers only to the app's testers until then: tell an admin."),
    ),
    "rate_limited": (
        _("Facebook kept refusing because of rate limits."),
        _("Wait a few minutes, then retry."),
    ),
    "graph_transient": (_("Facebook had a temporary problem and the message was not accepted."), RETRY_THEN_ADMIN),
    "graph_timeout": (_("Facebook did not answer in time."), RETRY_THEN_ADMIN),
    "graph_connection": (_("Facebook could not be reached."), RETRY_THEN_ADMIN),
    "channel_disabled": (
        _("The channel was disabled before the message went out."),
        _("An admin can enable it again in Settings → Channels; then retry."),
    ),
    "channel_deleted": (
        _("The channel was deleted before the message went out."),
        _("It can no longer be sent from this conversation."),
    ),
    "contact_blocked": (
        _("The customer was blocked before the message went out."),
        _("Unblock the customer to send it."),
    ),
    "attachment_unavailable": (
        _("The file of this message can no longer be read."),
        _("Send the file again."),
    ),
    "unknown_outcome": (  # messenger.services.sending.failures.UNKNOWN_OUTCOME
        _("Sending was interrupted and it is not known whether Facebook received the message."),
        _("Check the conversation on Facebook before retrying."),
    ),
}
# Any other refusal of Facebook's (an unexpected code): never its developer text.
_UNKNOWN = (_("Facebook refused the message."), RETRY_THEN_ADMIN)


def send_failure(message: Message) -> SendFailure | None:
    """Why ``message`` was not sent, in the reader's language; None unless it failed."""
    if message.status != MessageStatus.FAILED:
        return None
    reason, advice = _FAILURES.get(message.error_code, _UNKNOWN)
    return SendFailure(code=message.error_code, reason=str(reason), advice=str(advice))
