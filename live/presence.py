"""Who else has a conversation open, and who types in its composer: kept for seconds in the
Django cache (Redis in production; the embedded defaults' file cache works across processes
too), one entry per conversation holding each member's "viewing until" and "typing until".

A page says it is there every VIEWING_BEAT_SECONDS while visible and that its member types
at most every TYPING_BEAT_SECONDS; each lasts VIEWING_SECONDS / TYPING_SECONDS without a
new signal. Only a change others would see (someone arrives, starts typing, leaves) is
published: an ephemeral PRESENCE event to the conversation's channel audience (the
visibility rule, as for the conversation itself), after which the pages fetch their
presence fragment. Nothing here reaches the customer (this is not Messenger's typing_on).

Two members writing the same entry at once may lose one of the two writes: the next beat
puts it back, which is as good as presence needs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.core.cache import cache

from live.events import PRESENCE, LiveEvent
from live.publish import publish

logger = logging.getLogger(__name__)

VIEWING_BEAT_SECONDS = 15
# Two missed beats and a little more: a page closed without saying so is gone by then.
VIEWING_SECONDS = 40
TYPING_BEAT_SECONDS = 3
TYPING_SECONDS = 6

VIEWING = "viewing"
TYPING = "typing"
LEFT = "left"
STATES = (VIEWING, TYPING, LEFT)


@dataclass(frozen=True, slots=True)
class Present:
    """A member with the conversation open: until when, and whether they type (until when)."""

    user_id: int
    viewing_until: float
    typing_until: float

    def typing(self, now: float) -> bool:
        return self.typing_until > now


def topic(conversation_id: int) -> str:
    return f"presence:{conversation_id}"


def _key(organization_id: int, conversation_id: int) -> str:
    return f"live:presence:{organization_id}:{conversation_id}"


def _read(key: str) -> dict[str, list[float]]:
    try:
        stored = cache.get(key)
    except Exception:  # the cache is down: presence is a courtesy, never an error
        logger.warning("presence: the cache did not answer", exc_info=True)
        return {}
    return stored if isinstance(stored, dict) else {}


def present_list(*, organization_id: int, conversation_id: int, now: float | None = None) -> list[Present]:
    """Who has the conversation open now (the members themselves; the caller leaves out the reader)."""
    now = time.time() if now is None else now
    entries = _read(_key(organization_id, conversation_id))
    return sorted(
        (
            Present(user_id=int(user_id), viewing_until=until[0], typing_until=until[1])
            for user_id, until in entries.items()
            if until[0] > now
        ),
        key=lambda present: present.user_id,
    )


def presence_record(
    *,
    organization_id: int,
    channel_id: int,
    conversation_id: int,
    user_id: int,
    state: str,
    now: float | None = None,
) -> bool:
    """Record that a member views, types in, or left the conversation (`state`); publish to
    the conversation's audience when what others see changed. True when it changed."""
    if state not in STATES:
        raise ValueError(f"unknown presence state {state!r}")
    now = time.time() if now is None else now
    key = _key(organization_id, conversation_id)
    entries = {member: until for member, until in _read(key).items() if isinstance(until, list) and until[0] > now}
    before = entries.get(str(user_id))
    was_viewing = before is not None
    was_typing = before is not None and before[1] > now
    if state == LEFT:
        entries.pop(str(user_id), None)
        changed = was_viewing
    else:
        typing_until = now + TYPING_SECONDS if state == TYPING else (before[1] if before else 0.0)
        entries[str(user_id)] = [now + VIEWING_SECONDS, typing_until]
        changed = not was_viewing or (state == TYPING and not was_typing)
    try:
        if entries:
            cache.set(key, entries, VIEWING_SECONDS)
        else:
            cache.delete(key)
    except Exception:
        logger.warning("presence: the cache did not take a change", exc_info=True)
        return False
    if changed:
        publish(
            [
                LiveEvent(
                    organization_id=organization_id,
                    kind=PRESENCE,
                    data={"conversation": conversation_id},
                    topics=(topic(conversation_id),),
                    channel_id=channel_id,
                )
            ]
        )
    return changed
