"""A real HTTP receiver on 127.0.0.1 standing in for a customer's server, and a resolver that
gives its name a public address (the connection to that address is routed to the receiver),
so that the product's public-address rule stays on in these tests."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

import aiohappyeyeballs
import pytest
import urllib3

from tests.servers import free_port

PUBLIC_IP = "93.184.215.14"
HOST = "hooks.example.com"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    path: str = ""

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    port: int
    requests: list[Received] = field(default_factory=list)
    # Event id → how many of its next deliveries answer 500; "*" for every event.
    failures: dict[str, int] = field(default_factory=dict)
    status: int = 200
    extra_headers: dict[str, str] = field(default_factory=dict)
    answer_body: bytes = b'{"received": true}'

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hook"

    def answer(self, event_id: str) -> int:
        for key in (event_id, "*"):
            if self.failures.get(key, 0) > 0:
                self.failures[key] -= 1
                return 500
        return self.status


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body, self.path))
            status = receiver.answer(self.headers.get("X-Helpdesk-Event-Id", ""))
            answer = receiver.answer_body
            self.send_response(status)
            for name, value in receiver.extra_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    port = free_port()
    state = Receiver(port)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


_real_getaddrinfo = socket.getaddrinfo
_real_create_connection = urllib3.util.connection.create_connection
_real_start_connection = aiohappyeyeballs.start_connection


@pytest.fixture
def dns() -> Iterator[mock.MagicMock]:
    """Names resolve to `dns.answer` (public unless a test says otherwise); a connection to
    PUBLIC_IP reaches the local receiver (same port)."""

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in getaddrinfo.answer]
        return _real_getaddrinfo(host, port, *args, **kwargs)

    def connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        host, port = address
        return _real_create_connection(("127.0.0.1" if host == PUBLIC_IP else host, port), *args, **kwargs)

    async def start_connection(addr_infos: Any, **kwargs: Any) -> socket.socket:
        # The webhook sender's (aiohttp's) connections: it connects to the addresses it was given.
        routed = [
            (family, kind, proto, name, ("127.0.0.1", address[1]) if address[0] == PUBLIC_IP else address)
            for family, kind, proto, name, address in addr_infos
        ]
        return await _real_start_connection(routed, **kwargs)

    with (
        mock.patch.object(socket, "getaddrinfo", autospec=True, side_effect=resolve) as getaddrinfo,
        mock.patch.object(urllib3.util.connection, "create_connection", autospec=True, side_effect=connect),
        mock.patch.object(aiohappyeyeballs, "start_connection", side_effect=start_connection),
    ):
        getaddrinfo.answer = (PUBLIC_IP,)
        yield getaddrinfo
