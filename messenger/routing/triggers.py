"""What starts automatic assignment: tasks queued once the transaction that calls for them
commits, and the receivers of the availability signals (connected in MessengerConfig.ready).

A task that cannot be queued (broker down) is only logged: the minute's sweep
(``messenger.routing.sweep``) does its work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache import cache
from django.db import transaction

from messenger.tasks import routing as routing_tasks

logger = logging.getLogger(__name__)

# availability.models.Status.ONLINE: this module is imported by MessengerConfig before the
# models can be (tests/messenger/test_routing_drain.py checks that the two agree).
ONLINE = "online"


def _queue_on_commit(publish: Callable[[], Any], what: str) -> None:
    def dispatch() -> None:
        try:
            publish()
        except Exception:  # the sweep catches up; never fail the caller for it
            logger.warning("could not queue %s", what, exc_info=True)

    transaction.on_commit(dispatch)


def route_on_commit(conversation_ids: Iterable[int]) -> None:
    """Route these conversations (``messenger.routing.route_conversations``) after commit, in
    the order given."""
    ids = list(dict.fromkeys(conversation_ids))
    if ids:
        _queue_on_commit(lambda: routing_tasks.route_conversations.delay(ids), f"routing of {len(ids)} conversation(s)")


# A drain of the channel's queue is queued and has not started: a request finding this flag
# queues nothing (that drain will see its conversation); a lost drain's flag lapses.
DRAIN_REQUESTED = "messenger:routing:drain-requested:{channel_id}"
DRAIN_REQUEST_SECONDS = 10


def channels_drain_request(channel_ids: Iterable[int]) -> None:
    """Drain these channels' queues soon (``messenger.routing.drain_channel``), one queued
    drain per channel however many conversations join it meanwhile: under load, one drain
    hands out many. Called once what joined the queue has committed; a broker error is the
    caller's (the webhook pauses its publishing)."""
    for channel_id in sorted(set(channel_ids)):
        try:
            requested = cache.add(DRAIN_REQUESTED.format(channel_id=channel_id), 1, DRAIN_REQUEST_SECONDS)
        except Exception:  # the cache down: queue it, a drain too many costs little
            logger.warning("routing: could not read the drain request of channel %s", channel_id, exc_info=True)
            requested = True
        if requested:
            routing_tasks.drain_channel.delay(channel_id)


def drain_request_clear(channel_id: int) -> None:
    """A drain starts: later requests queue another one."""
    try:
        cache.delete(DRAIN_REQUESTED.format(channel_id=channel_id))
    except Exception:
        logger.warning("routing: could not clear the drain request of channel %s", channel_id, exc_info=True)


def drain_on_commit(membership_id: int) -> None:
    """Drain the queue to this member (``messenger.routing.drain_agent``) after commit."""
    _queue_on_commit(lambda: routing_tasks.drain_agent.delay(membership_id), f"drain to member {membership_id}")


def drain_organization_on_commit(organization_id: int) -> None:
    _queue_on_commit(
        lambda: routing_tasks.drain_organization.delay(organization_id), f"drain of organization {organization_id}"
    )


def on_status_changed(sender: Any, *, membership: Any, old_status: str, new_status: str, **kwargs: Any) -> None:
    """availability.signals.status_changed: a member who comes online takes from the queue."""
    if new_status == ONLINE and old_status != ONLINE:
        drain_on_commit(membership.pk)


def on_capacity_changed(sender: Any, *, membership: Any = None, organization: Any = None, **kwargs: Any) -> None:
    """availability.signals.capacity_changed: one member's capacity, or the organization's default."""
    if membership is not None:
        drain_on_commit(membership.pk)
    elif organization is not None:
        drain_organization_on_commit(organization.pk)
