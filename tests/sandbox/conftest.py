"""The sandbox over real HTTP: pytest-django's live server plays Facebook, a small local
HTTP server plays the product's webhook and the OAuth callback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

import pytest

from messenger.graph import GraphClient
from messenger.sandbox import people
from messenger.sandbox.models import SandboxPage, SandboxUser

VERSION = "v21.0"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every request; answers ``status`` (settable) with an empty body."""

    url: str
    requests: list[Received] = field(default_factory=list)
    status: int = 200

    def posts(self) -> list[Received]:
        return [r for r in self.requests if r.method == "POST"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorded = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            holder["receiver"].requests.append(recorded)
            self.send_response(holder["receiver"].status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = _record

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder["receiver"]
    server.shutdown()
    server.server_close()


@dataclass
class Sandbox:
    base_url: str
    graph_url: str
    dialog_url: str
    webhook_url: str
    client: GraphClient
    user: SandboxUser
    page: SandboxPage
    queued_deliveries: mock.MagicMock


@pytest.fixture
def sandbox(live_server: Any, settings: Any, receiver: Receiver) -> Iterator[Sandbox]:
    """Settings pointed at the live server, one person with one page, and the product's
    real Graph client. Celery is not called: the deliveries it would run are recorded."""
    settings.GRAPH_SANDBOX = True
    settings.FB_GRAPH_URL = f"{live_server.url}/sandbox/graph"
    settings.FB_DIALOG_URL = f"{live_server.url}/sandbox/dialog"
    settings.SANDBOX_WEBHOOK_URL = f"{receiver.url}/webhooks/messenger/"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    client = GraphClient(
        base_url=settings.FB_GRAPH_URL,
        app_id=settings.FB_APP_ID,
        app_secret=settings.FB_APP_SECRET,
        version=VERSION,
        timeout=5,
        sleep=lambda seconds: None,
    )
    user = people.sandbox_user_create(name="Ann Owner")
    page = people.sandbox_page_create(user=user, name="Ann's Shop", page_id="200000000000001")
    with mock.patch("messenger.sandbox.tasks.deliver_pending_webhooks.delay", autospec=True) as delay:
        yield Sandbox(
            base_url=f"{live_server.url}/sandbox",
            graph_url=settings.FB_GRAPH_URL,
            dialog_url=settings.FB_DIALOG_URL,
            webhook_url=settings.SANDBOX_WEBHOOK_URL,
            client=client,
            user=user,
            page=page,
            queued_deliveries=delay,
        )
    client.close()
