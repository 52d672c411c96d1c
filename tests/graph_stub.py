"""A scripted Graph API over real HTTP (settings.FB_GRAPH_URL points at it), for the tests
that drive the product's own GraphClient: sending, retries, profiles, failures.

Import the `graph` fixture into a test module or conftest to use it.
"""

from __future__ import annotations

import email.policy
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

__all__ = ["GraphStub", "Request", "Upload", "graph", "new_mid"]


@dataclass
class Upload:
    """One file part of a multipart request, as it arrived."""

    file_name: str
    content_type: str
    data: bytes


@dataclass
class Request:
    method: str
    path: str
    json: Any  # a JSON body; for a multipart one, its form fields (JSON fields decoded)
    status: int = 0  # what the stub answered (or would have: the caller may have given up)
    query: dict[str, str] = field(default_factory=dict)
    content_type: str = ""
    files: dict[str, Upload] = field(default_factory=dict)


def _multipart(content_type: str, raw: bytes) -> tuple[dict[str, Any], dict[str, Upload]]:
    message = BytesParser(policy=email.policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, Any] = {}
    files: dict[str, Upload] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files[str(name)] = Upload(str(part.get_filename()), part.get_content_type(), data)
        else:
            text = data.decode()
            try:
                fields[str(name)] = json.loads(text)
            except ValueError:
                fields[str(name)] = text
    return fields, files


@dataclass
class GraphStub:
    """Answers profile lookups with `profiles` (else a generic name) and sends with the next
    scripted answer (else success). `on_send`, when set, runs as each send arrives, before the
    answer: it may kill the sender, or return False to answer nothing at all."""

    base_url: str = ""
    requests: list[Request] = field(default_factory=list)
    script: deque[tuple[int, Any, float, dict[str, str]]] = field(default_factory=deque)
    # Answers of the Attachment Upload API (else a fresh attachment_id).
    upload_script: deque[tuple[int, Any, float, dict[str, str]]] = field(default_factory=deque)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    on_send: Callable[[Request], bool | None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, status: int, body: Any, *, delay: float = 0.0, headers: dict[str, str] | None = None) -> None:
        self.script.append((status, body, delay, headers or {}))

    def answer_upload(self, status: int, body: Any) -> None:
        self.upload_script.append((status, body, 0.0, {}))

    def sends(self) -> list[Any]:
        """The bodies of the Send API calls that carried a message (not sender actions)."""
        return [r.json for r in self.requests if _is_send(r)]

    def accepted(self) -> list[Any]:
        """The sends Facebook took (answered 2xx, even when the caller stopped waiting): what
        the customer receives."""
        return [r.json for r in self.requests if _is_send(r) and 200 <= r.status < 300]

    def uploads(self) -> list[Request]:
        """The Attachment Upload API calls (multipart), as they arrived."""
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/message_attachments")]


def _is_send(request: Request) -> bool:
    return (
        request.method == "POST"
        and request.path.endswith("/messages")
        and bool(request.json)
        and "message" in request.json
    )


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
            split = urlsplit(self.path)
            query = {name: values[-1] for name, values in parse_qs(split.query).items()}
            content_type = self.headers.get("Content-Type") or ""
            if content_type.startswith("multipart/form-data"):
                fields, files = _multipart(content_type, raw)
                request = Request("POST", split.path, fields, query=query, content_type=content_type, files=files)
            else:
                body = json.loads(raw) if raw else None
                request = Request("POST", split.path, body, query=query, content_type=content_type)
            if split.path.endswith("/message_attachments"):
                with stub.lock:
                    stub.requests.append(request)
                    scripted = stub.upload_script.popleft() if stub.upload_script else None
                uploaded = {"attachment_id": str(uuid.uuid4().int)[:16]}
                status, body, delay, headers = scripted or (200, uploaded, 0, {})
                request.status = status
                self._reply(status, body, headers)
                return
            with stub.lock:
                stub.requests.append(request)
                scripted = stub.script.popleft() if stub.script and _is_send(request) else None
            sent = {"recipient_id": (request.json or {}).get("recipient", {}).get("id"), "message_id": new_mid()}
            status, body, delay, headers = scripted or (200, sent, 0, {})
            request.status = status
            if stub.on_send is not None and _is_send(request) and stub.on_send(request) is False:
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
