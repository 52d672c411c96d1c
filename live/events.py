"""What a live event is: a note that something changed, addressed by the visibility rule.

An event carries ids and codes only (never a customer's words): the page that receives one
fetches the fragments it names (`topics`) through the ordinary views, which ask the visibility
rule again. Its audience is one of
- a channel (and, for a ticket, the ticket's own department): the members who see what is
  filed under it (`channels.visibility`, read back in `live.scope`);
- one member, by their user id within the organization (their notifications, a command
  to their own streams);
- the whole organization (neither given: a change of its channels or departments).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

# The kinds a page reacts to (live.js dispatches each as a `helpdesk:live` DOM event).
CONVERSATION = "conversation"
TICKET = "ticket"
NOTIFICATION = "notification"
PRESENCE = "presence"
# A label was renamed, recoloured or deleted: every list that shows it (labels are the whole
# organization's, their names no secret).
LABEL = "label"
# Addressed to a member's streams: their scope changed (associations, departments, role).
SCOPE = "scope"
# Addressed to one stream (`data.stream`): the member opened more than their limit.
CLOSE = "close"

# Kinds kept for catch-up (Last-Event-ID). Presence is only worth its moment.
KEPT_KINDS = frozenset({CONVERSATION, TICKET, NOTIFICATION, SCOPE, LABEL})


@dataclass(frozen=True, slots=True)
class LiveEvent:
    organization_id: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    # The fragments of a page that depend on the change (data-live="…" in the templates).
    topics: tuple[str, ...] = ()
    channel_id: int | None = None
    department_id: int | None = None
    user_id: int | None = None

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "k": self.kind,
                "x": self.data,
                "t": list(self.topics),
                "c": self.channel_id,
                "d": self.department_id,
                "u": self.user_id,
            }
        )

    @classmethod
    def decode(cls, organization_id: int, raw: bytes | str) -> LiveEvent:
        fields = orjson.loads(raw)
        return cls(
            organization_id=organization_id,
            kind=fields["k"],
            data=fields.get("x") or {},
            topics=tuple(fields.get("t") or ()),
            channel_id=fields.get("c"),
            department_id=fields.get("d"),
            user_id=fields.get("u"),
        )

    def key(self) -> bytes:
        """Two events with the same key say the same thing (one transaction sends it once)."""
        return self.encode()

    def for_page(self) -> bytes:
        """What the page receives: the kind, its data and the topics; never the audience."""
        return orjson.dumps({"kind": self.kind, "topics": list(self.topics), **self.data})


def conversation_topics(conversation_id: int) -> tuple[str, ...]:
    return ("conversations", f"conversation:{conversation_id}")


# The parts that show labels: the conversation and ticket lists.
LABEL_TOPICS = ("conversations", "tickets")


def ticket_topics(ticket_id: int, conversation_id: int | None) -> tuple[str, ...]:
    topics = ("tickets", f"ticket:{ticket_id}")
    return (*topics, f"conversation:{conversation_id}") if conversation_id else topics
