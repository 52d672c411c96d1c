"""The pure part of automatic assignment: which modes assign, how candidates are ranked, and
the codes a system line keeps of how a conversation was assigned (rendered in words by the
transcript, messenger.views.transcript)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from channels.models import AssignmentMode

# The channel modes that assign automatically.
ASSIGNING_MODES = (AssignmentMode.ROUND_ROBIN, AssignmentMode.LEAST_LOADED)

# `by` of an automatic `assigned` system line: the channel's rule, or the queue (drained to an
# agent who came online, closed a conversation or gained capacity).
BY_ROUND_ROBIN = "round_robin"
BY_LEAST_LOADED = "least_loaded"
BY_QUEUE = "queue"

# `reason` of a `requeued` system line.
REQUEUED_OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Candidate:
    """An online agent of the channel with room, as read before any lock."""

    membership_id: int
    user_id: int
    load: int
    capacity: int
    last_assigned_at: datetime | None


def _oldest_first(candidate: Candidate) -> tuple[bool, datetime | None]:
    # Never assigned (NULL) first, then the longest ago.
    return (candidate.last_assigned_at is not None, candidate.last_assigned_at)


def ranked(candidates: list[Candidate], *, mode: str) -> list[Candidate]:
    """Best first. Round robin: the agent given one of this channel's conversations longest
    ago (never: first), ties by membership id. Least loaded: fewest open conversations, ties
    as round robin."""
    if mode == AssignmentMode.LEAST_LOADED:
        return sorted(candidates, key=lambda c: (c.load, *_oldest_first(c), c.membership_id))
    return sorted(candidates, key=lambda c: (*_oldest_first(c), c.membership_id))


def by_code(mode: str) -> str:
    return BY_LEAST_LOADED if mode == AssignmentMode.LEAST_LOADED else BY_ROUND_ROBIN


def distribute(conversation_ids: list[int], seats: list[Candidate], *, mode: str) -> list[tuple[int, Candidate]]:
    """Give conversations (oldest first) to the agents with room, by the channel's rule: round
    robin takes turns from the best ranked, each agent to the back of the line once given
    one; least loaded gives each to whoever holds fewest then (ties as ranked). An agent
    leaves the line when full."""
    line = [seat for seat in ranked(seats, mode=mode) if seat.load < seat.capacity]
    loads = {seat.membership_id: seat.load for seat in line}
    given: list[tuple[int, Candidate]] = []
    for conversation_id in conversation_ids:
        if not line:
            break
        if mode == AssignmentMode.LEAST_LOADED:
            seat = min(line, key=lambda s: (loads[s.membership_id], line.index(s)))
        else:
            seat = line[0]
        line.remove(seat)
        given.append((conversation_id, seat))
        loads[seat.membership_id] += 1
        if loads[seat.membership_id] < seat.capacity:
            line.append(seat)
    return given
