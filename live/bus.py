"""The live events' way between processes: one Redis stream per organization, kept for
catch-up, and a pub/sub channel of the same name that wakes the web processes at once.

A publisher (any process: web, Celery) adds its events with one script per organization:
each event is appended to the stream `live:o:<organization id>` (`LIVE_KEY_PREFIX`) (trimmed to about
`LIVE_STREAM_LENGTH` entries) and published on the channel of the same name as
"<stream id> <event>". The stream id is the event's SSE id: a client that comes back with
`Last-Event-ID` is given what the stream holds after it (`live.hub`). Events not worth
keeping (presence) are only published, with the id "-".

Push is best effort by design: a write never fails because Redis does not answer. After a
failure the publisher stays quiet for `COOLDOWN_SECONDS`, and the pages, which lose their
stream at the same moment, poll until it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable

import redis
from django.conf import settings

from live.events import KEPT_KINDS, LiveEvent

logger = logging.getLogger(__name__)

COOLDOWN_SECONDS = 5.0
SOCKET_TIMEOUT_SECONDS = 0.5

# KEYS[1]: the organization's stream (and channel); ARGV[1]: its length; ARGV[2..]: pairs of
# (kept "1"/"0", event). Returns the stream ids given, "-" for those not kept.
_PUBLISH = """
local ids = {}
for i = 2, #ARGV, 2 do
  local id = '-'
  if ARGV[i] == '1' then
    id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i + 1])
  end
  redis.call('PUBLISH', KEYS[1], id .. ' ' .. ARGV[i + 1])
  ids[#ids + 1] = id
end
return ids
"""


def stream_key(organization_id: int) -> str:
    return f"{settings.LIVE_KEY_PREFIX}:o:{organization_id}"


def organization_of(channel: bytes | str) -> int:
    name = channel.decode() if isinstance(channel, bytes) else channel
    return int(name.rsplit(":", 1)[1])


def url() -> str | None:
    return getattr(settings, "LIVE_REDIS_URL", None) or None


def enabled() -> bool:
    return url() is not None


class _Publisher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: redis.Redis | None = None
        self._url: str | None = None
        self._quiet_until = 0.0

    def client(self) -> redis.Redis | None:
        target = url()
        if target is None:
            return None
        with self._lock:
            if self._client is None or self._url != target:
                self._client = redis.Redis.from_url(
                    target,
                    socket_timeout=SOCKET_TIMEOUT_SECONDS,
                    socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
                    health_check_interval=30,
                )
                self._url = target
                self._script = self._client.register_script(_PUBLISH)
            return self._client

    def publish(self, events: Iterable[LiveEvent]) -> list[str]:
        client = self.client()
        if client is None or time.monotonic() < self._quiet_until:
            return []
        by_organization: dict[int, list[LiveEvent]] = defaultdict(list)
        events = list(events)
        for event in events:
            by_organization[event.organization_id].append(event)
        ids: list[str] = []
        try:
            for organization_id, batch in by_organization.items():
                args: list[bytes | str | int] = [settings.LIVE_STREAM_LENGTH]
                for event in batch:
                    args += ["1" if event.kind in KEPT_KINDS else "0", event.encode()]
                given = self._script(keys=[stream_key(organization_id)], args=args, client=client)
                ids += [value.decode() if isinstance(value, bytes) else str(value) for value in given]
        except redis.RedisError:
            self._quiet_until = time.monotonic() + COOLDOWN_SECONDS
            logger.warning("live: Redis did not take %d event(s); pages poll meanwhile", len(events), exc_info=True)
        return ids

    def position(self, organization_id: int) -> str:
        """The id of the organization's latest kept event ("0-0" for none; "" without Redis)."""
        client = self.client()
        if client is None or time.monotonic() < self._quiet_until:
            return ""
        try:
            latest = client.xrevrange(stream_key(organization_id), count=1)
        except redis.RedisError:
            self._quiet_until = time.monotonic() + COOLDOWN_SECONDS
            return ""
        if not latest:
            return "0-0"
        entry_id = latest[0][0]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


_publisher = _Publisher()


def publish_now(events: Iterable[LiveEvent]) -> list[str]:
    """Send the events at once (callers inside a transaction use `live.publish`)."""
    return _publisher.publish(events)


def position(organization_id: int) -> str:
    return _publisher.position(organization_id)


def parse_id(value: str) -> tuple[int, int] | None:
    """A stream id as a comparable pair, or None when it is not one."""
    milliseconds, dash, sequence = value.partition("-")
    if not dash or not milliseconds.isdigit() or not sequence.isdigit() or len(value) > 40:
        return None
    return int(milliseconds), int(sequence)
