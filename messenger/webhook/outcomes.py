"""What became of each event of a POST: its outcome, the reason the event log gives, and
what is left to do after commit.

The reasons are the event log's words (WebhookEvent.reason), besides those `parsing` gives
to events it ignores. Which reason a routed event gets is decided by the rules of
`messenger.webhook.route`; the reason of a message stored or found again is decided here,
once, for both ways of storing a batch (`message_reason`, `MESSAGE_REASONS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from messenger.models import WebhookOutcome
from messenger.webhook.sql import literal

REASON_UNKNOWN_PAGE = "unknown_page"
REASON_CHANNEL_DISABLED = "channel_disabled"
REASON_CHANNEL_DELETED = "channel_deleted"
REASON_UNKNOWN_MESSAGE = "unknown_message"
REASON_NOTHING_TO_UPDATE = "nothing_to_update"
REASON_CONTACT_BLOCKED = "contact_blocked"
REASON_STANDBY = "standby"
# Stored, but some of its files are over the caps of a message or a POST and are not kept.
REASON_ATTACHMENTS_NOT_KEPT = "attachments_not_kept"
REASON_GAVE_UP = "gave_up"

# The reason of a message event stored (or found a duplicate): the first flag that holds.
# `hidden`: stored hidden, its customer is blocked (only a message this POST stored);
# `capped`: some of its files are over the caps; `standby`: it came in an entry's standby
# list (said of every kind of event, when nothing else is: `eventlog.logged_reason`).
MESSAGE_REASONS = (
    ("hidden", REASON_CONTACT_BLOCKED),
    ("capped", REASON_ATTACHMENTS_NOT_KEPT),
    ("standby", REASON_STANDBY),
)


def message_reason(*, hidden: bool, capped: bool, standby: bool) -> str:
    flags = {"hidden": hidden, "capped": capped, "standby": standby}
    return next((reason for flag, reason in MESSAGE_REASONS if flags[flag]), "")


@dataclass(slots=True)
class Outcome:
    outcome: str = WebhookOutcome.PENDING
    reason: str = ""
    organization_id: int | None = None

    def set(self, outcome: str, reason: str = "") -> None:
        self.outcome, self.reason = outcome, reason


@dataclass(frozen=True, slots=True)
class CustomerWrote:
    """A conversation its customer wrote in (a message stored and shown), for what routing
    does after commit: assign it when it is new or reopened in a channel that assigns by
    itself, answer it when its department is closed."""

    conversation_id: int
    channel_id: int  # of its page's route (a forwarded conversation may be filed elsewhere)
    department_id: int
    at: datetime  # their latest message of the batch
    to_assign: bool  # new or reopened, in a channel that assigns by itself: it joined the queue


def customer_wrote_merge(items: list[CustomerWrote]) -> list[CustomerWrote]:
    """One per conversation: its latest message, to assign when any says so."""
    merged: dict[int, CustomerWrote] = {}
    for item in items:
        seen = merged.get(item.conversation_id)
        if seen is None:
            merged[item.conversation_id] = item
        else:
            merged[item.conversation_id] = CustomerWrote(
                item.conversation_id,
                item.channel_id,
                item.department_id,
                max(seen.at, item.at),
                seen.to_assign or item.to_assign,
            )
    return sorted(merged.values(), key=lambda item: item.conversation_id)


@dataclass(frozen=True, slots=True, order=True)
class ConversationChanged:
    """A conversation a batch changed and how (`what`: a code of the live events' vocabulary)."""

    conversation_id: int
    what: str  # messenger.conversation_changes
    organization_id: int
    channel_id: int  # the conversation's own channel (a forwarded one is filed elsewhere than its page's)
    assignee_id: int | None


@dataclass(frozen=True, slots=True, order=True)
class QuickReplied:
    """A customer's message stored and shown that carries a quick reply's payload (a tap on one
    of the buttons a message of the page offered): told to the apps above after commit."""

    organization_id: int
    conversation_id: int
    message_id: int
    payload: str


@dataclass
class BatchResult:
    """What became of each event (aligned with the input) and what to do after commit."""

    outcomes: list[Outcome]
    new_contact_ids: list[int] = field(default_factory=list)
    announce_conversation_ids: list[int] = field(default_factory=list)
    # Messages inserted with a file to keep in our storage (messenger.services.attachments).
    download_message_ids: list[int] = field(default_factory=list)
    customer_wrote: list[CustomerWrote] = field(default_factory=list)
    changed: list[ConversationChanged] = field(default_factory=list)
    quick_replied: list[QuickReplied] = field(default_factory=list)
    # Customers' messages stored and shown: (organization id, conversation id, message id).
    received: list[tuple[int, int, int]] = field(default_factory=list)
    # Messages this app sent that an echo proved sent: (organization id, conversation id, message id).
    sent: list[tuple[int, int, int]] = field(default_factory=list)
    # Conversations the batch started: (organization id, conversation id).
    created: list[tuple[int, int]] = field(default_factory=list)


def message_reason_sql(flags: dict[str, str]) -> str:
    """`message_reason` as an SQL expression, each flag given as an SQL boolean expression."""
    cases = " ".join(f"WHEN {flags[flag]} THEN {literal(reason)}" for flag, reason in MESSAGE_REASONS)
    return f"CASE {cases} ELSE '' END"
