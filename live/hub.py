"""The web process's end of the bus: one Redis pub/sub connection per process (per event
loop), subscribed to the channels of the organizations that have a stream open here, and
fanned out to each stream's queue. Each event is decoded once, however many streams get it.

When Redis drops the connection every stream of the process is told (`LOST`): they end with
an event that sends their pages to polling, and a page's next try reconnects the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from live import bus
from live.events import CLOSE, SCOPE, LiveEvent

logger = logging.getLogger(__name__)

# How many events may wait for a slow stream before it is told to resync instead.
QUEUE_SIZE = 500
# The hub's own channel, subscribed for as long as it runs (a pub/sub connection with no
# subscription at all cannot be read).
HUB_CHANNEL = "live:hub"  # never published on


class BusUnavailable(Exception):
    """Redis is not configured or does not answer: the page polls."""


@dataclass(frozen=True, slots=True)
class Delivered:
    """An event as a stream receives it: its stream id ("-" when not kept) and the event."""

    id: str
    event: LiveEvent
    page_data: bytes


LOST = None  # put in every queue when the bus connection is lost


@dataclass(eq=False)
class Subscription:
    organization_id: int
    queue: asyncio.Queue[Delivered | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False
    # The stream's member's rule (live.scope), kept current by the stream: the hub queues only
    # what it lets through, and always what addresses streams themselves (close, scope).
    accepts: Callable[[LiveEvent], bool] | None = None

    def offer(self, item: Delivered | None) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True


class Hub:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client: aioredis.Redis = aioredis.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=30)
        self._pubsub: aioredis.client.PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._subscriptions: dict[int, set[Subscription]] = defaultdict(set)
        self._start_lock = asyncio.Lock()

    async def _start(self) -> aioredis.client.PubSub:
        async with self._start_lock:
            if self._pubsub is not None and self._reader is not None and not self._reader.done():
                return self._pubsub
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(HUB_CHANNEL)
            except (RedisError, OSError) as error:
                await pubsub.aclose()
                raise BusUnavailable(str(error)) from error
            self._pubsub = pubsub
            self._reader = asyncio.create_task(self._read(pubsub), name="live-hub-reader")
            return pubsub

    async def subscribe(self, organization_id: int) -> Subscription:
        pubsub = await self._start()
        subscription = Subscription(organization_id)
        first = not self._subscriptions[organization_id]
        self._subscriptions[organization_id].add(subscription)
        if first:
            try:
                await pubsub.subscribe(bus.stream_key(organization_id))
            except (RedisError, OSError) as error:
                self._subscriptions[organization_id].discard(subscription)
                raise BusUnavailable(str(error)) from error
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        streams = self._subscriptions.get(subscription.organization_id)
        if streams is None:
            return
        streams.discard(subscription)
        if not streams:
            del self._subscriptions[subscription.organization_id]
            if self._pubsub is not None:
                task = asyncio.get_running_loop().create_task(self._unsubscribe(subscription.organization_id))
                task.add_done_callback(lambda done: done.exception() if not done.cancelled() else None)

    async def _unsubscribe(self, organization_id: int) -> None:
        if self._pubsub is not None and organization_id not in self._subscriptions:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(bus.stream_key(organization_id))

    async def _read(self, pubsub: aioredis.client.PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                if message is None or message.get("type") != "message":
                    continue
                self._dispatch(message["channel"], message["data"])
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("live: the bus connection was lost; streams fall back to polling", exc_info=True)
        finally:
            self._lose(pubsub)

    def _dispatch(self, channel: bytes, data: bytes) -> None:
        organization_id = bus.organization_of(channel)
        streams = self._subscriptions.get(organization_id)
        if not streams:
            return
        stream_id, _space, raw = data.partition(b" ")
        try:
            event = LiveEvent.decode(organization_id, raw)
        except (ValueError, KeyError, TypeError):
            logger.warning("live: an unreadable event on %r was dropped", channel)
            return
        delivered = Delivered(id=stream_id.decode(), event=event, page_data=event.for_page())
        for_streams = event.kind in (CLOSE, SCOPE)
        for subscription in list(streams):
            if for_streams or subscription.accepts is None or subscription.accepts(event):
                subscription.offer(delivered)

    def _lose(self, pubsub: aioredis.client.PubSub) -> None:
        if self._pubsub is pubsub:
            self._pubsub = None
        for streams in self._subscriptions.values():
            for subscription in streams:
                subscription.offer(LOST)
        self._subscriptions.clear()
        task = asyncio.get_running_loop().create_task(self._close(pubsub))
        task.add_done_callback(lambda done: done.exception() if not done.cancelled() else None)

    async def _close(self, pubsub: aioredis.client.PubSub) -> None:
        with contextlib.suppress(RedisError, OSError):
            await pubsub.aclose()
        await self.reset()

    async def reset(self) -> None:
        """Drop the pooled connections (after Redis went away they are all dead)."""
        with contextlib.suppress(RedisError, OSError):
            await self.client.connection_pool.disconnect()

    async def since(self, organization_id: int, last_id: str, *, limit: int) -> list[Delivered] | None:
        """The kept events after `last_id`, or None when they cannot all be given (the id is
        older than what the stream keeps, ahead of it, or more than `limit` events behind)."""
        wanted = bus.parse_id(last_id)
        if wanted is None:
            return None
        key = bus.stream_key(organization_id)
        try:
            first: Any = await self.client.xrange(key, count=1)
            latest: Any = await self.client.xrevrange(key, count=1)
            if not latest:
                return [] if wanted == (0, 0) else None
            oldest, newest = bus.parse_id(_text(first[0][0])), bus.parse_id(_text(latest[0][0]))
            if oldest is None or newest is None or wanted > newest:
                return None  # forged, or from before Redis lost the stream
            if wanted < oldest and wanted != (0, 0):
                # Trimmed past it: unless the id is the entry just before the oldest, some are lost.
                return None
            entries: Any = await self.client.xrange(key, min=f"({last_id}", count=limit + 1)
        except (RedisError, OSError) as error:
            raise BusUnavailable(str(error)) from error
        if len(entries) > limit:
            return None
        delivered = []
        for entry_id, fields in entries:
            event = LiveEvent.decode(organization_id, fields[b"e"])
            delivered.append(Delivered(id=_text(entry_id), event=event, page_data=event.for_page()))
        return delivered

    async def position(self, organization_id: int) -> str:
        try:
            latest: Any = await self.client.xrevrange(bus.stream_key(organization_id), count=1)
        except (RedisError, OSError) as error:
            raise BusUnavailable(str(error)) from error
        return _text(latest[0][0]) if latest else "0-0"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """This event loop's hub (one per process under uvicorn; the tests run several loops)."""
    url = bus.url()
    if url is None:
        raise BusUnavailable("LIVE_REDIS_URL is not set")
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.url != url:
        hub = _hubs[loop] = Hub(url)
    return hub
