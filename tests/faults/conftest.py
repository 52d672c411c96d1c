"""What the fault tests break on purpose: a Redis server of their own that they stop and start
again, and a Graph API over real HTTP that records every request and answers as scripted."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from messenger.webhook import followups


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- Redis ---------------------------------------------------------------------------------------


@dataclass
class RedisServer:
    """A throwaway redis-server without persistence: stopping it loses whatever it held."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def queued(self, queue: str = "celery") -> list[dict[str, Any]]:
        """The Celery messages waiting in a queue (their headers name the task and its args)."""
        import redis

        client = redis.Redis(port=self.port)
        try:
            return [json.loads(raw)["headers"] for raw in client.lrange(queue, 0, -1)]
        finally:
            client.close()


def use_broker(url: str) -> None:
    """Point the Celery app at another broker, dropping its pooled connections (what Celery
    itself does after a fork)."""
    from helpdesk.celery import app

    if app._pool is not None:
        app._pool.force_close_all()
    app.conf.broker_url = url
    app._after_fork()


@pytest.fixture
def redis_server(settings: Any) -> Iterator[RedisServer]:
    """A Redis of the test's own, as the broker and the cache; stopped and started at will."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: a Redis outage cannot be simulated")
    from helpdesk.celery import app

    server = RedisServer(port=free_port())
    server.start()
    previous = app.conf.broker_url
    settings.CELERY_BROKER_URL = server.url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    use_broker(server.url)
    followups.broker_pause_reset()
    try:
        yield server
    finally:
        server.stop()
        use_broker(previous)
        followups.broker_pause_reset()


# --- The Graph API ---------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    json: Any
    status: int = 0  # what the stub answered (or would have: the caller may have given up)


@dataclass
class GraphStub:
    """Answers profile lookups with `profiles` (else a generic name) and sends with the next
    scripted answer (else success). `on_send`, when set, runs as each send arrives, before the
    answer: it may kill the sender, or return False to answer nothing at all."""

    base_url: str = ""
    requests: list[Request] = field(default_factory=list)
    script: deque[tuple[int, Any, float, dict[str, str]]] = field(default_factory=deque)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    on_send: Callable[[Request], bool | None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, status: int, body: Any, *, delay: float = 0.0, headers: dict[str, str] | None = None) -> None:
        self.script.append((status, body, delay, headers or {}))

    def sends(self) -> list[Any]:
        """The bodies of the Send API calls that carried a message (not sender actions)."""
        return [r.json for r in self.requests if r.method == "POST" and r.json and "message" in r.json]

    def accepted(self) -> list[Any]:
        """The sends Facebook took (answered 2xx, even when the caller stopped waiting): what
        the customer receives."""
        return [
            r.json
            for r in self.requests
            if r.method == "POST" and r.json and "message" in r.json and 200 <= r.status < 300
        ]


def new_mid() -> str:
    return f"m_{uuid.uuid4().hex}"


def _handler(stub: GraphStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            psid = urlsplit(self.path).path.rstrip("/").rsplit("/", 1)[-1]
            with stub.lock:
                stub.requests.append(Request("GET", urlsplit(self.path).path, None))
            profile = stub.profiles.get(psid, {"first_name": "Customer", "last_name": psid[-4:]})
            self._reply(200, {"id": psid, **profile})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = Request("POST", urlsplit(self.path).path, json.loads(raw) if raw else None)
            with stub.lock:
                stub.requests.append(request)
                scripted = stub.script.popleft() if stub.script and "message" in (request.json or {}) else None
            sent = {"recipient_id": (request.json or {}).get("recipient", {}).get("id"), "message_id": new_mid()}
            status, body, delay, headers = scripted or (200, sent, 0, {})
            request.status = status
            if stub.on_send is not None and "message" in (request.json or {}) and stub.on_send(request) is False:
                return
            if delay:
                time.sleep(delay)
            self._reply(status, body, headers)

        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the caller gave up (a timeout) or is dead
                pass

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def graph(settings: Any) -> Iterator[GraphStub]:
    stub = GraphStub()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    httpd.daemon_threads = True
    stub.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    settings.FB_GRAPH_URL = stub.base_url
    settings.FB_GRAPH_TIMEOUT = 0.5
    try:
        yield stub
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
