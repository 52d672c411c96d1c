"""The product served as in production (ASGI, uvicorn) for the tests of live updates, with a
Redis of the test's own for the live events, and an SSE reader.

`asgi_server` runs uvicorn in a thread of the test process, on the test database (the data
a test writes must be committed: the fixture asks for `transactional_db`), like Django's
`live_server` does with its WSGI server.
"""

from __future__ import annotations

import contextlib
import queue
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
import requests
from django.db import connections
from django.test import Client

from helpdesk.asgi import BoundedSyncThreads, build
from tests.servers import RedisServer, free_port


@pytest.fixture
def live_redis(settings: Any) -> Iterator[RedisServer]:
    """A redis-server for the live events only (stopped and started at will)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: push cannot be tested")
    server = RedisServer(port=free_port())
    server.start()
    settings.LIVE_REDIS_URL = server.url
    try:
        yield server
    finally:
        server.stop()


@dataclass
class AsgiServer:
    url: str
    server: Any
    thread: threading.Thread


@pytest.fixture
def asgi_server(transactional_db: None, live_redis: RedisServer, settings: Any) -> Iterator[AsgiServer]:
    import uvicorn

    # Idle streams speak every second: a client gone is noticed at once.
    settings.LIVE_HEARTBEAT_SECONDS = 1
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    application = build()
    config = uvicorn.Config(
        application,
        lifespan="off",
        log_level="warning",
        loop="asyncio",
        http="h11",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield AsgiServer(url=f"http://127.0.0.1:{port}", server=server, thread=thread)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        _close_server_connections(application)


def _close_server_connections(application: BoundedSyncThreads) -> None:
    """The server ran Django's synchronous code on the application's threads, each with its
    database connection: close them there, or the test database cannot be flushed and dropped."""
    for executor in application.executors:
        with contextlib.suppress(Exception):
            executor.submit(connections.close_all).result(timeout=5)
        executor.shutdown(wait=False)


def session_cookies(user: Any) -> dict[str, str]:
    """The cookies of a signed-in session of this user (for requests made outside Django's client)."""
    client = Client()
    client.force_login(user)
    return {name: morsel.value for name, morsel in client.cookies.items()}


@dataclass
class SseEvent:
    event: str
    data: dict[str, Any]
    id: str | None


@dataclass
class SseReader:
    """An open event stream read by a thread: `next()` waits for the next event."""

    response: requests.Response
    events: queue.Queue[SseEvent | None] = field(default_factory=queue.Queue)
    thread: threading.Thread | None = None

    def start(self) -> SseReader:
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        return self

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for raw in self.response.iter_lines(chunk_size=1, decode_unicode=True):
                line = raw or ""
                if not line:
                    if "event" in fields or "data" in fields:
                        data = orjson.loads(fields.get("data") or "{}")
                        self.events.put(SseEvent(fields.get("event", "message"), data, fields.get("id")))
                    fields = {}
                    continue
                if line.startswith(":"):
                    continue
                name, _colon, value = line.partition(":")
                value = value.removeprefix(" ")
                fields[name] = fields[name] + "\n" + value if name == "data" and name in fields else value
        except (requests.RequestException, AttributeError, ValueError):
            pass
        finally:
            self.events.put(None)

    def next(self, timeout: float = 5.0) -> SseEvent | None:
        """The next event (None when the stream ended); fails the test after `timeout`."""
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no event within {timeout} s")

    def next_live(self, timeout: float = 5.0) -> SseEvent:
        """The next data event, skipping the stream's own greeting."""
        while True:
            event = self.next(timeout)
            assert event is not None, "the stream ended"
            if event.event != "hello":
                return event

    def nothing_within(self, seconds: float) -> bool:
        try:
            event = self.events.get(timeout=seconds)
        except queue.Empty:
            return True
        self.events.put(event)  # put back for the caller's next read (order is not needed after)
        return False

    def close(self) -> None:
        # Shut the socket first: the reading thread is blocked in recv() until then.
        connection = getattr(self.response.raw, "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.response.close()


def open_stream(
    server: AsgiServer, user: Any, org_slug: str, *, last_event_id: str | None = None, start: str = ""
) -> SseReader:
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    response = requests.get(
        f"{server.url}/o/{org_slug}/live/" + (f"?from={start}" if start else ""),
        cookies=session_cookies(user),
        headers=headers,
        stream=True,
        timeout=(5, 30),
        allow_redirects=False,
    )
    reader = SseReader(response)
    if response.status_code == 200:
        reader.start()
        hello = reader.next()
        assert hello is not None and hello.event == "hello", hello
    return reader
