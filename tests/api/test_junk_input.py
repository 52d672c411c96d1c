"""Junk in every field of every route answers 4xx (or 2xx/3xx where the junk is ignored as a
filter), never 5xx: as an admin of the organization, as an agent and, outside the
organization's pages, as a visitor; GET and every writing method; HTML and API.

The routes come from the URL resolver (tests/routes.py): a route added later is fuzzed by
itself. What each route takes is discovered, not listed by hand:
- the API schema (`/api/schema/`): query parameters and request bodies per method;
- the HTML pages: every page is fetched once with real ids; its forms give the form fields
  of the route they post to (with the page's own values as a plausible baseline), its links
  and GET forms the query names;
- the source module of each view: the names it reads from GET, POST, query_params or data;
- and KNOWN_QUERY / KNOWN_FORM, sent everywhere.
Path parameters are filled with the ids of real rows of the organization, and with junk.

Each route gets a fixed sweep (each junk value in every query name at once, in every form
or JSON field at once, as the whole body, and in each path parameter), then a few
hypothesis examples mixing plausible values with junk in some fields. A request runs in a
savepoint that is rolled back, so every attempt meets the same data.

No route is left out: logout, the webhook (its bodies are signed, and sent unsigned too),
the sandbox, the schema and the media files in DEBUG all take junk like the rest.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import socket
import threading
import traceback
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from html.parser import HTMLParser
from http.server import ThreadingHTTPServer
from typing import Any
from unittest import mock
from urllib.parse import quote, urljoin, urlsplit

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.signals import got_request_exception
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client, override_settings
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import Resolver404, ResolverMatch, path, resolve
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from helpdesk.models import Notification, Role
from helpdesk.services import api_token_create
from messenger.models import Direction, MessageStatus, WebhookEvent, WebhookOutcome
from messenger.sandbox import customers, people
from messenger.webhook.signature import signature_for
from tests import factories
from tests.conftest import Tenant, _tenant
from tests.graph_stub import GraphStub, _handler
from tests.messenger.fixtures import PAGE_ID, PSID, text_item
from tests.routes import iter_routes

pytestmark = pytest.mark.django_db

# --- Junk -----------------------------------------------------------------------------------


class Raw(str):
    """Sent exactly as written: a query value or path segment already percent-encoded
    (`%FF`, `%00`, a lone `%`), or a JSON token (a 5,000-digit number json.dumps cannot write)."""


HUGE = "9" * 5000
LONG = "x" * 100_000

# What hypothesis draws from (with generated text and numbers); the fixed sweep sends the
# most telling of them (SWEEP_TEXT and the others below).
JUNK_TEXT: list[str] = [
    "²", "٣", "𝟗", "1²", HUGE, str(2**63), str(2**64), "-1", "0", "-0", "+1", " 7 ", "1_000", "1.5", "1e3",
    "\x00", "1\x00", "a\x00b", LONG, "", " ", "\t\r\n", "😀", "\u202e\u200b", "\ud800", "\udfff x",
    "null", "true", "[]", "{}", "NaN", "-Infinity", "me", "none", "<script>alert(1)</script>", "' OR 1=1 --",
    "../../etc/passwd", "%s%n{0}", "a\r\nSet-Cookie: x=1",
    Raw("%FF%FE"), Raw("%00"), Raw("%"), Raw("%zz"), Raw("%C2%B2"), Raw("%ED%A0%80"),
]  # fmt: skip
# The JSON-only kinds: wrong types and numbers no column holds.
JUNK_JSON: list[Any] = [
    None, True, False, 0, -1, 2**63, -(2**63) - 1, 10**40, 1.5, -0.0, 1e308, [], {}, [None], [[]], {"id": 1},
    [1, "x", None], {"": None}, Raw(HUGE), Raw("1e999"), Raw("NaN"),
]  # fmt: skip
# What the whole body of a writing request can be instead of an object.
JUNK_BODIES: list[bytes] = [
    b"", b"null", b"[]", b'"x"', b"1", b"{", b"\xff\xfe\x00", b'{"a":' * 2000, b"[" * 10_000,
    ("{" + '"a":1,' * 20_000 + '"a":1}').encode(),
]  # fmt: skip

# A few of each kind for the sweep of path parameters (most never pass the URL converters).
JUNK_PATH: list[str] = ["²", "٣", HUGE, str(2**63), "-1", "0", "\x00", "a b", "😀", Raw("%FF"), Raw("%00"), "x" * 2000]

# Query names sent to every route, besides those a page, the schema or the view shows.
KNOWN_QUERY = [
    "active", "before", "after", "page", "page_size", "cursor", "limit", "offset", "q", "search", "channel",
    "state", "assignee", "department", "status", "outcome", "kind", "priority", "origin", "include_removed",
    "current", "v", "last", "next", "filters", "format", "id", "code", "error", "psid", "hub.mode",
    "hub.verify_token", "hub.challenge", "access_token", "fields",
]  # fmt: skip
# Form names posted to every route, besides those of the forms that post there.
KNOWN_FORM = [
    "action", "name", "token_id", "then", "next", "department", "departments", "filters", "text", "assignee",
    "to", "note", "state", "priority", "subject", "pages", "role", "channels", "members", "language", "timezone",
    "ticket_delay_minutes", "is_enabled", "psid", "page_id",
]  # fmt: skip

_READS = re.compile(r"\b(?:GET|POST|query_params|data)\.(?:get|getlist|pop)\(\s*[\"']([^\"']+)[\"']")

ROLES = ("admin", "agent")

# --- Routes ---------------------------------------------------------------------------------

_PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>|\(\?P<(?P<rname>\w+)>[^)]*\)")
# A value of each converter that passes it, to learn which view a route text leads to.
_SAMPLES = {"id": "1", "int": "1", "slug": "alpha", "graph_version": "v21.0"}


@dataclass(frozen=True)
class Route:
    """One route of tests.routes.iter_routes (`o/<slug:org_slug>/inbox/<id:conversation_id>/`)."""

    text: str

    @property
    def params(self) -> list[tuple[str, str]]:
        """(converter, name) of each parameter, in order; a regex group has converter "re"."""
        return [
            (m.group("conv") or ("re" if m.group("rname") else "str"), m.group("name") or m.group("rname"))
            for m in _PARAM.finditer(self.text)
        ]

    def fill(self, values: dict[str, str]) -> str:
        """The path with each parameter replaced by its value (already percent-encoded)."""
        return "/" + _PARAM.sub(lambda m: values[m.group("name") or m.group("rname")], self.text)

    @cached_property
    def match(self) -> ResolverMatch:
        return resolve(self.fill({name: _SAMPLES.get(conv, "x") for conv, name in self.params}))

    @property
    def key(self) -> str:
        """What resolve() names the route (ResolverMatch.route): how a form's action finds it."""
        return self.match.route

    @property
    def view(self) -> Any:
        return self.match.func

    def segment_before(self, name: str) -> str:
        """The literal path segment before a parameter: `departments` in `api/v1/departments/<id:pk>/`."""
        head = self.text.split(f":{name}>", 1)[0] if f":{name}>" in self.text else self.text.split(f"<{name}>", 1)[0]
        literal = [part for part in head.split("/")[:-1] if part and "<" not in part and "(" not in part]
        return literal[-1] if literal else ""


def _visitor_route(route: Route) -> bool:
    """Outside an organization's pages and the API, a visitor who is not logged in gets as far
    as anyone (login, the webhook, the sandbox): hypothesis sends junk as one too."""
    return not route.text.startswith(("o/", "api/v1/"))


# --- The world: one organization with a row of each kind -----------------------------------


@dataclass
class World:
    tenant: Tenant
    ids: dict[str, list[int]]  # kind of row -> primary keys (the most useful first)
    tokens: dict[str, str]
    sandbox_page_id: str
    sandbox_user_id: str


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/messenger/"


@contextmanager
def _graph_stub() -> Iterator[str]:
    """tests.graph_stub's scripted Graph API, for the whole module."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(GraphStub()))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Built once for the module, in a transaction rolled back at its end (each test then runs
    in a savepoint of it, and each request in a savepoint of that)."""
    from messenger import tasks
    from messenger.webhook import followups

    with ExitStack() as stack:
        stack.enter_context(django_db_blocker.unblock())
        graph_url = stack.enter_context(_graph_stub())
        stack.enter_context(
            override_settings(
                PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
                MEDIA_ROOT=tmp_path_factory.mktemp("media"),
                FB_GRAPH_URL=graph_url,
                FB_GRAPH_TIMEOUT=0.5,
                # The sandbox's customer simulator posts webhooks: to nobody here.
                SANDBOX_WEBHOOK_URL=_closed_port_url(),
            )
        )
        # Webhook follow-ups are queued after commit: recorded, and no broker is reached.
        followups.broker_pause_reset()
        stack.callback(followups.broker_pause_reset)
        stack.enter_context(mock.patch.object(tasks.webhook_followups, "delay", autospec=True))
        stack.enter_context(transaction.atomic())
        yield _build_world(_tenant("alpha"))
        transaction.set_rollback(True)


def _build_world(tenant_a: Tenant) -> World:
    from tickets.services import ticket_create_from_conversation

    organization = tenant_a.organization
    billing = factories.make_department(organization, "Billing")
    channel = factories.make_channel(organization, tenant_a.department, name="Messenger")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel, page_id=PAGE_ID)
    contact = factories.make_contact(page, psid=PSID)
    conversation = factories.make_conversation(page, contact, assignee=tenant_a.agent.user)
    stored = default_storage.save("messenger/inbound/alpha/photo.png", ContentFile(b"\x89PNG\r\n\x1a\n"))
    photo = factories.make_message(
        conversation,
        text="",
        kind="attachment",
        attachments=[{"type": "image", "url": "https://cdn.example/p.png", "stored_name": stored, "size": 8}],
    )
    failed = factories.make_message(conversation, direction=Direction.OUTBOUND, status=MessageStatus.FAILED, text="x")
    factories.make_message(conversation, text="Hello")
    ticket = ticket_create_from_conversation(
        organization=organization,
        acting_user=tenant_a.admin.user,
        membership=tenant_a.admin,
        conversation_id=conversation.pk,
    )
    second = factories.make_conversation(page, factories.make_contact(page))
    factories.make_message(second, text="Still open")
    event = WebhookEvent.objects.create(
        organization=organization,
        page_id=PAGE_ID,
        kind="message",
        mid="m_logged",
        payload=text_item(mid="m_logged"),
        outcome=WebhookOutcome.STORED,
        received_at=timezone.now() - timedelta(minutes=1),
    )
    notifications = [
        Notification.objects.create(organization=organization, user=m.user, kind="new_conversation", title="New")
        for m in (tenant_a.admin, tenant_a.agent)
    ]
    other = factories.make_member(organization, role=Role.AGENT, username="alpha-other", departments=[billing])
    sandbox_user = people.sandbox_user_create(name="Sandbox Owner")
    sandbox_page = people.sandbox_page_create(user=sandbox_user, name="Sandbox Page", page_id=PAGE_ID)
    customers.sandbox_customer_create(page_id=sandbox_page.page_id, first_name="Ann", last_name="Lee", psid=PSID)
    return World(
        tenant=tenant_a,
        ids={
            "department": [tenant_a.department.pk, billing.pk],
            "membership": [tenant_a.agent.pk, other.pk, tenant_a.admin.pk],
            "channel": [channel.pk],
            "page": [page.pk],
            "contact": [contact.pk],
            "conversation": [second.pk, conversation.pk],
            "message": [photo.pk, failed.pk],
            "ticket": [ticket.pk],
            "webhook_event": [event.pk],
            "notification": [n.pk for n in notifications],
        },
        tokens={role: api_token_create(membership=getattr(tenant_a, role), name="junk")[1] for role in ROLES},
        sandbox_page_id=sandbox_page.page_id,
        sandbox_user_id=sandbox_user.facebook_id,
    )


# Which kind of row a path parameter names: by its own name, else by the segment before it.
ID_KINDS = {
    "department_id": "department", "departments": "department",
    "membership_id": "membership", "members": "membership", "agents": "membership",
    "channel_id": "channel", "channels": "channel",
    "page_pk": "page", "pages": "page",
    "conversation_id": "conversation", "conversations": "conversation", "inbox": "conversation",
    "convert": "conversation",
    "message_id": "message", "messages": "message",
    "ticket_id": "ticket", "tickets": "ticket",
    "contact_id": "contact", "contact": "contact",
    "webhook-events": "webhook_event",
    "notifications": "notification",
}  # fmt: skip


def valid_values(route: Route, converter: str, name: str, world: World) -> list[str]:
    """Values of a path parameter that reach real rows (or real pages) of the organization."""
    if name == "org_slug":
        return [world.tenant.organization.slug]
    if name == "index":
        return ["0", "1"]
    if converter in ("id", "int"):
        kind = ID_KINDS.get(name) or ID_KINDS.get(route.segment_before(name))
        if kind:
            return [str(pk) for pk in world.ids[kind]]
        # A route added later with a parameter of its own: every id of the world.
        return sorted({str(pk) for pks in world.ids.values() for pk in pks}, key=int)
    by_name = {
        "version": [settings.FB_GRAPH_VERSION],
        "node_id": [world.sandbox_page_id, "me", world.sandbox_user_id, PSID],
        "page_id": [world.sandbox_page_id],
        "psid": [PSID],
        "kind": ["image", "video"],
        "name": ["sample.pdf"],
    }
    return by_name.get(name, ["x"])


def junk_path_value(converter: str, value: str) -> str:
    """A junk value as a path segment: percent-encoded (a `path` may hold slashes)."""
    if isinstance(value, Raw):
        return value
    return quote(value.encode("utf-8", "surrogatepass"), safe="/" if converter == "path" else "")


# --- Clients --------------------------------------------------------------------------------


@dataclass
class Clients:
    world: World
    by_role: dict[str, Client] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for role in (*ROLES, "visitor"):
            self.by_role[role] = Client(raise_request_exception=False)
            self.login(role)

    def login(self, role: str) -> None:
        client = self.by_role[role]
        client.cookies.clear()
        if role != "visitor":
            client.force_login(getattr(self.world.tenant, role).user)


@pytest.fixture
def clients(world: World, caplog: pytest.LogCaptureFixture) -> Clients:
    caplog.set_level(logging.CRITICAL, logger="django.request")  # thousands of 4xx, each logged
    return Clients(world)


@dataclass
class Attempt:
    role: str
    method: str
    path: str  # percent-encoded
    query: str = ""  # percent-encoded
    body: bytes | None = None
    content_type: str = "application/octet-stream"
    signed: bool = True

    def __str__(self) -> str:
        def short(text: str) -> str:
            return re.sub(r"(.)\1{40,}", lambda m: f"{m.group(1)}×{len(m.group(0))}", text)

        body = "" if self.body is None else f" {self.content_type} {short(self.body[:600].decode(errors='replace'))!r}"
        query = f"?{short(self.query)[:600]}" if self.query else ""
        return f"{self.role}: {self.method} {short(self.path)[:300]}{query}{body}"


_LAST_EXCEPTION: list[str] = []


def _record_exception(sender: Any, request: Any = None, **kwargs: Any) -> None:
    _LAST_EXCEPTION.append("".join(traceback.format_exc(limit=-4)))


@pytest.fixture(autouse=True)
def _exceptions_recorded() -> Iterator[None]:
    got_request_exception.connect(_record_exception)
    yield
    got_request_exception.disconnect(_record_exception)


def send(clients: Clients, attempt: Attempt) -> tuple[int, str | None]:
    """Make the request in a savepoint that is rolled back; what is wrong with the answer, if anything."""
    client = clients.by_role[attempt.role]
    headers: dict[str, str] = {}
    is_api = attempt.path.startswith("/api/v1/")
    if is_api and attempt.role in ROLES:
        headers["Authorization"] = f"Token {clients.world.tokens[attempt.role]}"
    if attempt.body is not None and attempt.signed:
        headers["X-Hub-Signature-256"] = signature_for(attempt.body, settings.FB_APP_SECRET)
    session_before = client.cookies.get(settings.SESSION_COOKIE_NAME)
    _LAST_EXCEPTION.clear()
    with transaction.atomic():
        response = client.generic(
            attempt.method,
            attempt.path + (f"?{attempt.query}" if attempt.query else ""),
            attempt.body or b"",
            content_type=attempt.content_type,
            headers=headers,
        )
        transaction.set_rollback(True)
    session_after = client.cookies.get(settings.SESSION_COOKIE_NAME)
    if (session_before and session_before.value) != (session_after and session_after.value):
        clients.login(attempt.role)  # logged out, or a session of a rolled-back row
    status = response.status_code
    if status >= 500:
        return status, f"{attempt} answered {status}\n{''.join(_LAST_EXCEPTION)}"
    if (
        is_api
        and status >= 400
        and response.content
        and response.get("Content-Type", "").startswith("application/json")
    ):
        error = response.json().get("error") if isinstance(response.json(), dict) else None
        if not (isinstance(error, dict) and isinstance(error.get("code"), str) and "message" in error):
            return status, f"{attempt} answered {status} outside the error format: {response.content[:300]!r}"
    return status, None


# --- Encoding -------------------------------------------------------------------------------


def encode_value(value: Any) -> str:
    if isinstance(value, Raw):
        return value
    return quote(str(value).encode("utf-8", "surrogatepass"), safe="")


def encode_pairs(pairs: list[tuple[str, Any]]) -> str:
    return "&".join(f"{encode_value(name)}={encode_value(value)}" for name, value in pairs)


def encode_json(document: Any) -> bytes:
    """json.dumps, except that Raw values are written as they are (`9…9`, `NaN`)."""
    raws: dict[str, str] = {}

    def placeholder(value: Any) -> Any:
        if isinstance(value, Raw):
            raws[f"__raw{len(raws)}__"] = value
            return f"__raw{len(raws) - 1}__"
        if isinstance(value, dict):
            return {key: placeholder(item) for key, item in value.items()}
        if isinstance(value, list):
            return [placeholder(item) for item in value]
        return value

    text = json.dumps(placeholder(document))
    for key, raw in raws.items():
        text = text.replace(f'"{key}"', raw)
    return text.encode("utf-8", "surrogatepass")


def encode_multipart_body(pairs: list[tuple[str, Any]], files: list[str]) -> bytes:
    data: dict[str, Any] = {}
    for name, value in pairs:
        text = str(value).encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        data.setdefault(name, []).append(text)
    for name in files:
        data[name] = ContentFile(b"\x00\xff junk \xfe", name="\u202ejunk\x00.png")
    return encode_multipart(BOUNDARY, data)


# --- What each route takes ------------------------------------------------------------------


@dataclass
class Form:
    fields: dict[str, list[str]]  # name -> values the page offers (the first is its own)
    files: list[str]
    multipart: bool


@dataclass
class Takes:
    """What one route takes, gathered from the schema, the pages and the view's source."""

    query: set[str] = field(default_factory=set)
    forms: list[Form] = field(default_factory=list)
    json: dict[str, dict[str, Any]] = field(default_factory=dict)  # METHOD -> property -> schema
    multipart: set[str] = field(default_factory=set)  # methods the schema lets send files
    methods: set[str] = field(default_factory=set)  # writing methods the schema or a form shows
    reads: set[str] = field(default_factory=set)  # names the view's module reads


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, str, Form]] = []  # (action, method, form)
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        for name in ("href", "action", "formaction", "hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete"):
            if a.get(name):
                self.links.append(a[name])
        if tag == "form":
            method = (a.get("method") or ("post" if a.get("hx-post") else "get")).lower()
            self._form = Form(fields={}, files=[], multipart="multipart" in a.get("enctype", ""))
            self.forms.append((a.get("hx-post") or a.get("action", ""), method, self._form))
        elif self._form is not None and tag in ("input", "button", "select", "textarea") and a.get("name"):
            name = a["name"]
            kind = a.get("type", "submit" if tag == "button" else "text")
            if kind == "file":
                self._form.files.append(name)
            elif tag == "select":
                self._select = name
                self._form.fields.setdefault(name, [])
            else:
                self._form.fields.setdefault(name, []).append(a.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "option" and self._form is not None and self._select:
            self._form.fields[self._select].append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def _route_key(path: str) -> str | None:
    try:
        return resolve(urlsplit(path).path).route
    except Resolver404:
        return None


def _names_read_by(view: Any) -> set[str]:
    """The request names the view's module (and its class's) reads: `request.GET.get("before")`."""
    names: set[str] = set()
    for target in {inspect.unwrap(view), getattr(view, "cls", None), getattr(view, "view_class", None)} - {None}:
        module = inspect.getmodule(target)
        if module is not None:
            try:
                names.update(_READS.findall(inspect.getsource(module)))
            except (OSError, TypeError):
                pass
    return names


_DISCOVERED: dict[str, Takes] = {}


def discover(world: World, clients: Clients) -> dict[str, Takes]:
    """What every route takes (computed once per process: it does not depend on the ids)."""
    if _DISCOVERED:
        return _DISCOVERED
    routes = ROUTES
    takes = {route.key: Takes() for route in routes}
    for route in routes:
        takes[route.key].reads = _names_read_by(route.view)
    schema = json.loads(clients.by_role["admin"].get("/api/schema/?format=json").content)
    components = schema.get("components", {}).get("schemas", {})

    def deref(node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[-1]]
        if isinstance(node, dict) and "allOf" in node:
            merged: dict[str, Any] = {}
            for part in node["allOf"]:
                merged.update(deref(part))
            return merged
        return node

    for schema_path, operations in schema["paths"].items():
        key = _route_key(re.sub(r"\{[^}]+\}", "1", schema_path))
        if key is None:
            continue
        for method, operation in operations.items():
            if method == "parameters":
                continue
            method = method.upper()
            takes[key].query |= {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            if method == "GET":
                continue
            takes[key].methods.add(method)
            content = operation.get("requestBody", {}).get("content", {})
            if "multipart/form-data" in content:
                takes[key].multipart.add(method)
            body = deref(content.get("application/json", {}).get("schema", {}))
            properties = {name: deref(prop) for name, prop in body.get("properties", {}).items()}
            takes[key].json[method] = properties
    admin = clients.by_role["admin"]
    for route in routes:
        if route.text.startswith(("api/", "media/", "webhooks/")) or any(c == "path" for c, _n in route.params):
            continue
        url = route.fill({name: valid_values(route, conv, name, world)[0] for conv, name in route.params})
        with transaction.atomic():
            response = admin.get(url)
            transaction.set_rollback(True)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = _PageParser()
        parser.feed(response.content.decode(errors="replace"))
        for link in parser.links:
            split = urlsplit(urljoin(url, link))
            if split.netloc not in ("", "testserver"):
                continue
            key = _route_key(split.path)
            if key is not None and split.query:
                takes[key].query |= {pair.split("=", 1)[0] for pair in split.query.split("&") if pair}
        for action, method, form in parser.forms:
            key = _route_key(urljoin(url, action) if action else url)
            if key is None:
                continue
            if method == "get":
                takes[key].query |= set(form.fields)
            else:
                takes[key].forms.append(form)
                takes[key].methods.add("POST")
    _DISCOVERED.update(takes)
    return _DISCOVERED


# --- A plan per route -------------------------------------------------------------------------

WRITING = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Plan:
    route: Route
    world: World
    is_api: bool
    roles: list[str]
    valid: dict[str, list[str]]  # path parameter -> values that reach real rows
    query: list[str]
    form_fields: list[str]
    forms: list[Form]
    json: dict[str, dict[str, Any]]  # writing method -> property -> schema
    multipart: set[str]
    methods: list[str]  # writing methods

    def path(self, **junk: str) -> str:
        return self.route.fill({name: junk.get(name, self.valid[name][0]) for _conv, name in self.route.params})

    def json_fields(self, method: str) -> list[str]:
        return sorted(self.json.get(method) or {}) or self.form_fields


def plan_for(route: Route, world: World, clients: Clients) -> Plan:
    takes = discover(world, clients)[route.key]
    is_api = route.text.startswith("api/v1/")
    return Plan(
        route=route,
        world=world,
        is_api=is_api,
        roles=[*ROLES, "visitor"] if _visitor_route(route) else list(ROLES),
        valid={name: valid_values(route, conv, name, world) for conv, name in route.params},
        query=sorted(set(KNOWN_QUERY) | takes.query | takes.reads),
        form_fields=sorted({name for form in takes.forms for name in form.fields} | set(KNOWN_FORM) | takes.reads),
        forms=takes.forms,
        json=takes.json,
        multipart=takes.multipart,
        # POST everywhere; the other writing methods where the schema shows them (each is also
        # probed bare everywhere).
        methods=["POST", *sorted(takes.methods - {"POST"})],
    )


FIELD_KINDS = {
    "assignee": "membership", "member": "membership", "channel": "channel", "department": "department",
    "notification": "notification", "ticket": "ticket",
}  # fmt: skip


def _kind_of_field(name: str) -> str | None:
    for part, kind in FIELD_KINDS.items():
        if part in name:
            return kind
    return "notification" if name == "ids" else None


def plausible(name: str, prop: dict[str, Any], world: World) -> Any:
    """A value of the type the schema asks for (the junk goes into the other fields)."""
    for alternative in prop.get("oneOf") or prop.get("anyOf") or []:
        if alternative.get("enum") or alternative.get("type"):
            return plausible(name, alternative, world)
    if prop.get("enum"):
        return next((v for v in prop["enum"] if v not in ("", None)), prop["enum"][0])
    kind = _kind_of_field(name)
    match prop.get("type"):
        case "integer":
            return world.ids[kind][0] if kind else 1
        case "array":
            return [plausible(name, prop.get("items") or {}, world)]
        case "boolean":
            return True
        case "object":
            return {}
        case "number":
            return 1
    return "junk@example.com" if prop.get("format") == "email" else "Junk"


def _form_body(pairs: list[tuple[str, Any]], files: list[str], multipart: bool) -> tuple[bytes, str]:
    if multipart or files:
        return encode_multipart_body(pairs, files), MULTIPART_CONTENT
    return encode_pairs(pairs).encode(), "application/x-www-form-urlencoded"


def _body(plan: Plan, method: str, values: dict[str, Any], *, as_json: bool) -> tuple[bytes, str]:
    if as_json:
        return encode_json(values), "application/json"
    files = sorted({name for form in plan.forms for name in form.files}) if not plan.is_api else []
    return _form_body(list(values.items()), files, any(form.multipart for form in plan.forms))


# What the fixed sweep sends: each value costs one request per method, so the sweep takes the
# most telling values; hypothesis draws from all of them and more.
SWEEP_TEXT: list[str] = ["²", "𝟗", HUGE, str(2**63), "-1", "a\x00b", LONG, "\ud800😀", Raw("%FF%FE%00"), " "]
SWEEP_JSON: list[Any] = [None, True, 2**63, -1, [], {"id": 1}, Raw(HUGE)]
SWEEP_BODIES: list[bytes] = [b"", b"null", b"[]", b"{", b"\xff\xfe\x00", b"[" * 10_000]
# An id converter lets only 1 to 18 ASCII digits through: a few values show it; the other
# converters (str, path, int) let much more through.
SWEEP_ID_PATH: list[str] = ["²", HUGE, "0", "9" * 18]


def _value_sweep(plan: Plan, role: str, texts: list[str]) -> Iterator[Attempt]:
    """Each junk value in every query name at once, then in every field at once and as the
    whole body, for each writing method."""
    path = plan.path()
    for value in texts:
        yield Attempt(role, "GET", path, encode_pairs([(name, value) for name in plan.query]))
    for method in plan.methods:
        as_json = plan.is_api or bool(plan.json.get(method))
        fields = plan.json_fields(method) if as_json else plan.form_fields
        for value in [*texts, *(SWEEP_JSON if as_json else [])]:
            yield Attempt(role, method, path, "", *_body(plan, method, dict.fromkeys(fields, value), as_json=as_json))
        if not as_json and not plan.route.text.startswith("o/"):
            # The webhook and the sandbox's Graph API read JSON bodies outside /api/v1/.
            for value in SWEEP_JSON:
                yield Attempt(role, method, path, "", *_body(plan, method, dict.fromkeys(fields, value), as_json=True))
        for raw in SWEEP_BODIES:
            yield Attempt(role, method, path, "", raw, "application/json")
        if plan.is_api:
            yield Attempt(role, method, path, "", *_form_body([(f, "²") for f in fields], [], method in plan.multipart))


def sweep(plan: Plan, *, agent_let_in: bool) -> Iterator[Attempt]:
    path = plan.path()
    for method in ("HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"):
        yield Attempt("admin", method, path)
    yield from _value_sweep(plan, "admin", SWEEP_TEXT)
    if agent_let_in:  # elsewhere the same refusal comes before any field is read
        yield from _value_sweep(plan, "agent", SWEEP_TEXT[:6])
    # A visitor everywhere: sent to the login page or refused, never a 500.
    yield Attempt("visitor", "GET", path, encode_pairs([(name, "²") for name in plan.query]))
    junk_form = dict.fromkeys(plan.form_fields, "a\x00²")
    yield Attempt("visitor", "POST", path, "", *_body(plan, "POST", junk_form, as_json=False))
    yield Attempt("visitor", "POST", path, "", b'{"object": "page"}', "application/json", signed=False)
    for conv, name in plan.route.params:
        for value in SWEEP_ID_PATH if conv in ("id", "slug") else JUNK_PATH:
            for method in ("GET", "POST"):
                yield Attempt("admin", method, plan.path(**{name: junk_path_value(conv, value)}))


# --- Hypothesis: plausible values with junk in some fields -------------------------------------

_any_character = st.characters(codec=None, exclude_categories=())
junk_text: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(JUNK_TEXT),
    st.text(_any_character, max_size=8),
    st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=4),  # ², ٣, 𝟗, ½…
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["%", "%0", "%FF", "%00", "%ED%B0%80", "%C0%AF", "%2e%2e%2f"]).map(Raw),
)
junk_json: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(JUNK_JSON),
    junk_text.filter(lambda v: not isinstance(v, Raw)),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.sampled_from(JUNK_JSON[:12]), max_size=3),
    st.dictionaries(st.text(_any_character, max_size=4), st.sampled_from(JUNK_JSON[:12]), max_size=2),
)


@st.composite
def attempts(draw: st.DrawFn, plan: Plan) -> Attempt:
    role = draw(st.sampled_from(plan.roles))
    values = {}
    for conv, name in plan.route.params:
        if draw(st.integers(0, 9)) == 0:
            values[name] = junk_path_value(conv, draw(junk_text))
        else:
            values[name] = draw(st.sampled_from(plan.valid[name]))
    path = plan.route.fill(values)
    names = draw(st.lists(st.sampled_from(plan.query), max_size=3, unique=True))
    query = encode_pairs([(name, draw(junk_text)) for name in names])
    method = draw(st.sampled_from(["GET", *plan.methods]))
    if method == "GET":
        return Attempt(role, method, path, query)
    if draw(st.integers(0, 9)) == 0:
        return Attempt(role, method, path, query, draw(st.sampled_from(JUNK_BODIES)), "application/json")
    if plan.is_api or plan.json.get(method):
        properties = plan.json.get(method) or {}
        document: dict[str, Any] = {
            name: plausible(name, prop, plan.world) for name, prop in properties.items() if draw(st.booleans())
        }
        for name in draw(st.lists(st.sampled_from(plan.json_fields(method)), min_size=1, max_size=2, unique=True)):
            document[name] = draw(junk_json)
        return Attempt(role, method, path, query, encode_json(document), "application/json")
    form = draw(st.sampled_from(plan.forms)) if plan.forms else Form(fields={}, files=[], multipart=False)
    pairs = {name: draw(st.sampled_from(offered)) for name, offered in form.fields.items() if offered}
    for name in draw(st.lists(st.sampled_from(plan.form_fields), min_size=1, max_size=3, unique=True)):
        pairs[name] = draw(junk_text)
    return Attempt(role, method, path, query, *_form_body(list(pairs.items()), form.files, form.multipart))


EXAMPLES_PER_ROUTE = 8


def _distinct(failures: list[str]) -> str:
    """One failure per distinct last line (the exception), so that one bug reads once."""
    seen: dict[str, str] = {}
    for failure in failures:
        seen.setdefault(failure.strip().rsplit("\n", 1)[-1][:200], failure)
    return "\n\n".join(seen.values())


ROUTES = [Route(text) for text in iter_routes()]


def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


def _error_outside_the_format(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"detail": "odd"}, status=400)


# Used by the check's own test below (ROOT_URLCONF=this module).
urlpatterns = [path("boom/", _boom), path("api/v1/odd/", _error_outside_the_format)]


@override_settings(ROOT_URLCONF=__name__)
def test_the_check_sees_a_server_error_and_an_api_error_outside_the_format(clients: Clients) -> None:
    problem = send(clients, Attempt("admin", "GET", "/boom/", "q=%C2%B2"))[1]
    assert problem is not None and "GET /boom/?q=%C2%B2 answered 500" in problem and "RuntimeError: boom" in problem
    problem = send(clients, Attempt("agent", "GET", "/api/v1/odd/"))[1]
    assert problem is not None and "outside the error format" in problem


def test_the_walk_finds_every_kind_of_route() -> None:
    texts = {route.text for route in ROUTES}
    assert {"webhooks/messenger/", "accounts/logout/", "sandbox/"} <= texts
    assert any(text.startswith("o/<slug:org_slug>/inbox/") for text in texts)
    assert any(text.startswith("api/v1/") for text in texts)


def test_the_walk_discovers_what_the_pages_and_the_schema_take(world: World, clients: Clients) -> None:
    """The discovery itself must not rot: the fields of a few well-known forms and parameters."""
    takes = discover(world, clients)
    assign = takes["o/<slug:org_slug>/inbox/<id:conversation_id>/assign/"]
    assert "assignee" in {name for form in assign.forms for name in form.fields}
    member = takes["o/<slug:org_slug>/settings/members/<id:membership_id>/"]
    assert {"role", "departments"} <= {name for form in member.forms for name in form.fields}
    assert "before" in takes["o/<slug:org_slug>/settings/webhook-events/"].reads
    assert "active" in takes["o/<slug:org_slug>/inbox/list/"].query | takes["o/<slug:org_slug>/inbox/list/"].reads
    assert {"page_size", "cursor"} <= takes["api/v1/departments/"].query
    assert "assignee_id" in takes["api/v1/conversations/<id:pk>/assign/"].json["POST"]
    assert {"PATCH", "DELETE"} <= takes["api/v1/departments/<id:pk>/"].methods


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.text or "/")
def test_junk_anywhere_in_a_route_never_answers_a_server_error(route: Route, world: World, clients: Clients) -> None:
    plan = plan_for(route, world, clients)
    failures = []
    agent_let_in = False
    for method in ("GET", "POST"):
        status, problem = send(clients, Attempt("agent", method, plan.path()))
        agent_let_in |= status not in (401, 403, 404, 405)
        failures += [problem] if problem else []
    failures += [
        problem for attempt in sweep(plan, agent_let_in=agent_let_in) if (problem := send(clients, attempt)[1])
    ]
    if failures:
        pytest.fail(
            f"{len(failures)} requests went wrong; the first of each kind:\n\n" + _distinct(failures), pytrace=False
        )

    @hypothesis_settings(
        max_examples=EXAMPLES_PER_ROUTE,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(attempt=attempts(plan))
    def junk_with_plausible_values(attempt: Attempt) -> None:
        _status, problem = send(clients, attempt)
        assert problem is None, problem

    junk_with_plausible_values()
