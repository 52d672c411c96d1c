"""One member's event stream, as the SSE view sends it.

Order of a stream's life: subscribe to the hub first, then catch up from `Last-Event-ID`
(or the position the page was rendered at) with what the Redis stream kept, then pass on
what the hub delivers; ids already passed on during the catch-up are skipped, so the
overlap of the two never shows twice and nothing falls between them. A catch-up that
cannot be complete (an id older than what is kept, forged, or too far behind) is a
`resync`: the page fetches every live part again. Every event goes through the member's
scope (`live.scope`) before it is written.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable

import orjson
from django.conf import settings
from redis.exceptions import RedisError

from live import bus
from live.events import CLOSE, SCOPE, LiveEvent
from live.hub import LOST, BusUnavailable, Delivered, Hub, Subscription
from live.scope import MemberScope

logger = logging.getLogger(__name__)

# The most a catch-up gives event by event; more than that is a resync.
CATCH_UP_LIMIT = 1000
# Browsers wait this long (ms) before they reconnect by themselves.
RETRY_MILLISECONDS = 3000
# An open stream is an open tab for availability (`tab_seen`): said when it opens and then at
# most this often (a tab's own heartbeat is every minute; the sweep waits three).
TAB_SEEN_SECONDS = 60
# At most this many queued events go out in one write.
SEND_AT_ONCE = 100


def sse(event: str, data: bytes | str, event_id: str | None = None) -> bytes:
    lines = []
    if event_id:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {event}")
    text = data.decode() if isinstance(data, bytes) else data
    lines.extend(f"data: {line}" for line in text.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def _registry_key(scope: MemberScope) -> str:
    return f"{settings.LIVE_KEY_PREFIX}:streams:{scope.organization_id}:{scope.user_id}"


async def _register(hub: Hub, scope: MemberScope, stream_id: str) -> list[str]:
    """Record the stream; returns the member's oldest streams beyond their limit (to close)."""
    key, now = _registry_key(scope), time.time()
    stale = now - 3 * settings.LIVE_HEARTBEAT_SECONDS
    async with hub.client.pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(key, "-inf", stale)
        pipe.zadd(key, {stream_id: now})
        pipe.expire(key, 3 * settings.LIVE_HEARTBEAT_SECONDS)
        pipe.zrange(key, 0, -1)
        *_ignored, members = await pipe.execute()
    excess = len(members) - settings.LIVE_MAX_STREAMS_PER_MEMBER
    return [member.decode() for member in members[:excess]] if excess > 0 else []


async def _beat(hub: Hub, scope: MemberScope, stream_id: str) -> None:
    key = _registry_key(scope)
    async with hub.client.pipeline(transaction=False) as pipe:
        pipe.zadd(key, {stream_id: time.time()}, xx=True)
        pipe.expire(key, 3 * settings.LIVE_HEARTBEAT_SECONDS)
        await pipe.execute()


async def _unregister(hub: Hub, scope: MemberScope, stream_id: str) -> None:
    try:
        await hub.client.zrem(_registry_key(scope), stream_id)
    except (RedisError, OSError):
        pass  # the entry goes stale and is dropped by the member's next stream


def _close_event(scope: MemberScope, stream_id: str) -> LiveEvent:
    return LiveEvent(
        organization_id=scope.organization_id, kind=CLOSE, data={"stream": stream_id}, user_id=scope.user_id
    )


async def open_stream(
    *,
    hub: Hub,
    scope: MemberScope,
    last_id: str,
    reload_scope: Callable[[], Awaitable[MemberScope]],
    tab_seen: Callable[[], Awaitable[None]] | None = None,
) -> AsyncGenerator[bytes, None]:
    """The SSE bytes of one stream until the client leaves, Redis is lost, or the stream is
    closed (the member opened too many, or lost access). Raises BusUnavailable before the
    first byte when Redis does not answer."""
    stream_id = uuid.uuid4().hex
    subscription = await hub.subscribe(scope.organization_id)
    subscription.accepts = scope.may_receive
    try:
        try:
            too_many = await _register(hub, scope, stream_id)
            # The position first: what is added after it comes through the catch-up or the hub.
            position = await hub.position(scope.organization_id)
            caught_up = await hub.since(scope.organization_id, last_id, limit=CATCH_UP_LIMIT) if last_id else None
        except (RedisError, OSError, BusUnavailable) as error:
            await hub.reset()
            raise BusUnavailable(str(error)) from error
        if too_many:
            await asyncio.to_thread(bus.publish_now, [_close_event(scope, old) for old in too_many])
    except BaseException:
        hub.unsubscribe(subscription)
        raise
    return _stream(hub, scope, stream_id, subscription, last_id, caught_up, position, reload_scope, tab_seen)


async def _stream(
    hub: Hub,
    scope: MemberScope,
    stream_id: str,
    subscription: Subscription,
    last_id: str,
    caught_up: list[Delivered] | None,
    position: str,
    reload_scope: Callable[[], Awaitable[MemberScope]],
    tab_seen: Callable[[], Awaitable[None]] | None = None,
) -> AsyncGenerator[bytes, None]:
    heartbeat = settings.LIVE_HEARTBEAT_SECONDS
    tab_seen_at: float | None = None

    async def say_tab_seen() -> None:
        nonlocal tab_seen_at
        if tab_seen is None or (tab_seen_at is not None and time.monotonic() - tab_seen_at < TAB_SEEN_SECONDS):
            return
        tab_seen_at = time.monotonic()
        try:
            await tab_seen()
        except Exception:  # availability is told again at the next beat; the stream goes on
            logger.warning("live: could not record the stream's member as seen", exc_info=True)

    try:
        yield f"retry: {RETRY_MILLISECONDS}\n\n".encode()
        yield sse("hello", orjson.dumps({"stream": stream_id, "heartbeat": heartbeat}))
        await say_tab_seen()
        # Where this stream stands: ids at or before it were given (or replaced by a resync).
        passed = bus.parse_id(position) or (0, 0)
        if caught_up is None:
            if last_id:
                yield sse("resync", b"{}", position)
        else:
            for missed in caught_up:
                if scope.may_receive(missed.event):
                    yield sse("live", missed.page_data, missed.id)
            if caught_up:
                passed = max(passed, bus.parse_id(caught_up[-1].id) or passed)
        while True:
            try:
                # asyncio.timeout, not wait_for: no task per event (a stream waits for every
                # event of its organization, most of them not its own).
                async with asyncio.timeout(heartbeat):
                    first = await subscription.queue.get()
            except TimeoutError:
                yield b": ping\n\n"
                try:
                    await _beat(hub, scope, stream_id)
                except (RedisError, OSError):
                    yield sse("fallback", b"{}")
                    return
                await say_tab_seen()
                continue
            # What else is waiting goes out in the same write: under load, one send for many.
            batch = [first]
            while len(batch) < SEND_AT_ONCE and not subscription.queue.empty():
                batch.append(subscription.queue.get_nowait())
            out: list[bytes] = []
            for delivered in batch:
                if delivered is LOST:
                    yield b"".join([*out, sse("fallback", b"{}")])
                    return
                if subscription.overflowed:
                    # Events were dropped for this slow stream: what is queued is stale too.
                    subscription.overflowed = False
                    while not subscription.queue.empty():
                        subscription.queue.get_nowait()
                    out.append(sse("resync", b"{}"))
                    break
                if delivered.id != "-":
                    given = bus.parse_id(delivered.id)
                    if given is not None and given <= passed:
                        continue
                    if given is not None:
                        passed = given
                event = delivered.event
                if event.kind == CLOSE:
                    if event.data.get("stream") == stream_id:
                        yield b"".join([*out, sse("close", b"{}")])
                        return
                    continue
                if event.kind == SCOPE:
                    if scope.may_receive(event):
                        scope = await reload_scope()
                        subscription.accepts = scope.may_receive
                        if not scope.active:
                            yield b"".join([*out, sse("close", b"{}")])
                            return
                        out.append(sse("resync", b"{}", delivered.id))
                    continue
                if scope.may_receive(event):
                    out.append(sse("live", delivered.page_data, None if delivered.id == "-" else delivered.id))
            if out:
                yield b"".join(out)
    finally:
        hub.unsubscribe(subscription)
        await asyncio.shield(_unregister(hub, scope, stream_id))
