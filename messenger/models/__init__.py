"""The Messenger kind of channel: linked Facebook Pages, customers, conversations, messages,
and the raw webhook event log. One module per domain:

- pages: linked Facebook Pages, their authorization status (and why it changed), the health
  of their webhook subscription and their hourly activity;
- conversations: customers (Contact), conversations, the running times of their SLA, their
  system lines (ConversationEvent) and their labels;
- messages: messages with their kinds, sources and statuses, the search copy of their text,
  the out-of-hours reply, and the referral a message carried;
- notes: the team's private notes in a conversation and the members mentioned in them;
- saved_views: the inbox's filters kept under a name;
- open_counts: the open conversations per (channel, assignee), kept by the database's triggers;
- alerts: what the desk was told once about a conversation (left unassigned, reply window
  closing) and the conversations lost to a closed window;
- webhook: every event of every webhook POST, and the POSTs kept until a worker applies them.

Django's convention: every model, and every choices class and function of these modules, is
imported here, so that ``from messenger.models import X`` and the migrations name them as they
always have. The modules import one another, never this package."""

from messenger.models.alerts import ReplyWindowKind, UnassignedAlert, WindowAlert, WindowLoss
from messenger.models.conversations import (
    Contact,
    Conversation,
    ConversationEvent,
    ConversationLabel,
    ConversationSla,
    ConversationState,
    response_target,
)
from messenger.models.messages import (
    ConversationReferral,
    Direction,
    Message,
    MessageKind,
    MessageSearchText,
    MessageSource,
    MessageStatus,
    OutOfHoursReply,
    ReferralKind,
)
from messenger.models.notes import Note, NoteMention
from messenger.models.open_counts import OpenConversationCount
from messenger.models.pages import (
    FacebookPage,
    PageActivityHour,
    PageStatus,
    PageStatusCause,
    ReauthorizationReason,
    SubscriptionState,
)
from messenger.models.saved_views import SavedView
from messenger.models.webhook import ReceivedPost, WebhookEvent, WebhookOutcome

__all__ = [
    "Contact",
    "Conversation",
    "ConversationEvent",
    "ConversationLabel",
    "ConversationReferral",
    "ConversationSla",
    "ConversationState",
    "Direction",
    "FacebookPage",
    "Message",
    "MessageKind",
    "MessageSearchText",
    "MessageSource",
    "MessageStatus",
    "Note",
    "NoteMention",
    "OpenConversationCount",
    "OutOfHoursReply",
    "PageActivityHour",
    "PageStatus",
    "PageStatusCause",
    "ReauthorizationReason",
    "ReceivedPost",
    "ReferralKind",
    "ReplyWindowKind",
    "SavedView",
    "SubscriptionState",
    "UnassignedAlert",
    "WebhookEvent",
    "WebhookOutcome",
    "WindowAlert",
    "WindowLoss",
    "response_target",
]
