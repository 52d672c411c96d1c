"""Live updates benchmark: members' event streams on one web process while the webhook is busy.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/live.py                      # 1,000 clients, 200 messages/s for 60 s
    … bench/live.py --clients 100 --seconds 10              # a small run

It creates (and afterwards drops) the database `<name>_bench`, seeds --orgs organizations
(4 departments, 8 channels with a page each, their customers' conversations) and --clients
members among them (one in ten an admin; the agents work in one or two departments and are
associated with three channels, not all of them in their departments), each with a session
made in the database. The product runs as in production, one worker of gunicorn's uvicorn
workers serving helpdesk.asgi (printed), on Redis database BENCH_REDIS_DB (default 15) of
REDIS_URL's server, flushed before and after, with a live key prefix of this run's own.
Client processes (asyncio, raw HTTP/1.1) open each member's `GET /o/<slug>/live/` and note
every event's arrival time. Then:

- memory: the web process's RSS before and after the streams are opened, per connection;
- idle: its CPU over --idle-seconds with every stream open and no traffic (target < 5 %
  of one core);
- load: customer messages through the signed webhook at --rate per second for --seconds,
  round the organizations' pages, each to a conversation of its own (open loop, paced);
  for every member who may see that conversation (`channels.visibility`, read from the
  database) the time from the POST's 200 to the event's arrival (p99 target < 300 ms);
  events for a conversation its member may not see are leaks (target 0); expected events
  that never came are missed (target 0);
- polling, for comparison: the streams closed, every client asks for the inbox's list
  fragment with the version it holds every --poll-interval seconds for --poll-seconds
  (204 while nothing changes): requests/s served (of those asked) and the web CPU.

The last line starts with `live:`; the exit status is 1 when a target is missed. The
webhook's own figures against its baseline stay in bench/webhook.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import http.client
import math
import multiprocessing
import os
import random
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import proc  # noqa: E402
from bench.routing import _redis_flush, _redis_url  # noqa: E402
from bench.soak import percentile, webhook_body  # noqa: E402
from bench.webhook import (  # noqa: E402
    PRODUCT_PATH,
    _admin_execute,
    _free_port,
    _post,
    _start_gunicorn,
    _start_worker,
    _worker_cpu,
    bench_database_prepare,
)

TARGET_P99_MS = 300.0
TARGET_IDLE_CPU_PERCENT = 5.0
# Share of the asked webhook rate the web process must serve while it pushes.
TARGET_SERVED_SHARE = 0.95

DEPARTMENTS = 4
CHANNELS = 8  # per organization, one page each
ADMIN_EVERY = 10  # one member in ten is an admin
LOAD_THREADS = 16
OPEN_CONCURRENCY = 50  # streams being opened at once, per client process
GRACE_SECONDS = 3.0  # after the load, for the last events to arrive
SERVER_CONFIG = [
    "--workers",
    "1",
    "--worker-class",
    "uvicorn_worker.UvicornWorker",
    "--graceful-timeout",
    "5",
    "--backlog",
    "2048",
    "--log-level",
    "warning",
]
VERSION_RE = re.compile(rb'id="conversation-list-version" name="v" value="([^"]*)"')


# --------------------------------------------------------------------------- the clients (own processes)


@dataclass
class ClientMember:
    """What a client process knows of its member: enough to sign in and open the stream."""

    index: int
    slug: str
    session_key: str


class _Clients:
    """The streams and pollers of one client process, all on one event loop."""

    def __init__(self, port: int, cookie_name: str, members: list[ClientMember]) -> None:
        self.port = port
        self.cookie_name = cookie_name
        self.members = {member.index: member for member in members}
        # (member index, kind, conversation id or None, arrival time); control events as kind "!<event>".
        self.arrivals: list[tuple[int, str, int | None, float]] = []
        self.streams: dict[int, tuple[asyncio.Task[None], asyncio.StreamWriter | None]] = {}
        self.writers: dict[int, asyncio.StreamWriter] = {}
        self.greeted: dict[int, asyncio.Future[int]] = {}

    def _head(self, member: ClientMember, path: str, accept: str) -> bytes:
        return (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAccept: {accept}\r\n"
            f"Cookie: {self.cookie_name}={member.session_key}\r\nConnection: keep-alive\r\n\r\n"
        ).encode()

    # ---- the event streams

    async def open(self, indexes: list[int]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        limit = asyncio.Semaphore(OPEN_CONCURRENCY)
        started = time.time()

        async def one(index: int) -> int:
            async with limit:
                greeted: asyncio.Future[int] = loop.create_future()
                self.greeted[index] = greeted
                task = asyncio.create_task(self._stream(self.members[index], greeted))
                self.streams[index] = (task, None)
                return await greeted

        statuses = Counter(await asyncio.gather(*(one(index) for index in indexes)))
        return {"statuses": dict(statuses), "seconds": time.time() - started}

    async def _stream(self, member: ClientMember, greeted: asyncio.Future[int]) -> None:
        status = 0
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
            self.writers[member.index] = writer
            writer.write(self._head(member, f"/o/{member.slug}/live/", "text/event-stream"))
            status, headers = await _read_head(reader)
            if status != 200:
                greeted.set_result(status)
                return
            chunked = headers.get("transfer-encoding", "").lower() == "chunked"
            buffer = b""
            while True:
                if chunked:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    if size == 0:
                        break
                    data = (await reader.readexactly(size + 2))[:-2]
                else:
                    data = await reader.read(65536)
                    if not data:
                        break
                now = time.time()
                buffer += data
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    self._event(member.index, block, now, greeted)
            self.arrivals.append((member.index, "!ended", None, time.time()))
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            self.arrivals.append((member.index, f"!error {type(error).__name__}", None, time.time()))
        finally:
            if not greeted.done():
                greeted.set_result(status or -1)

    def _event(self, index: int, block: bytes, now: float, greeted: asyncio.Future[int]) -> None:
        name, data = "message", b""
        for line in block.split(b"\n"):
            if line.startswith(b"event: "):
                name = line[7:].decode()
            elif line.startswith(b"data: "):
                data = line[6:]
        if name == "hello":
            if not greeted.done():
                greeted.set_result(200)
            return
        if not data and name == "message":
            return  # the retry line, a ping
        if name != "live":
            self.arrivals.append((index, f"!{name}", None, now))
            return
        import orjson

        event = orjson.loads(data)
        conversation = event.get("conversation")
        self.arrivals.append(
            (index, str(event.get("kind")), conversation if isinstance(conversation, int) else None, now)
        )

    async def close(self) -> int:
        for writer in self.writers.values():
            writer.close()
        tasks = [task for task, _writer in self.streams.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        closed = len(tasks)
        self.streams.clear()
        self.writers.clear()
        return closed

    def collect(self) -> list[tuple[int, str, int | None, float]]:
        arrivals, self.arrivals = self.arrivals, []
        return arrivals

    # ---- polling, for comparison

    async def poll(self, indexes: list[int], seconds: float, interval: float) -> dict[str, Any]:
        started = time.time()
        deadline = started + seconds
        done: list[float] = []
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        counts = Counter({"connections": 0, "errors": 0})

        async def poller(member: ClientMember) -> None:
            rng = random.Random(member.index)
            next_at = started + rng.random() * interval
            version = None
            reader: asyncio.StreamReader | None = None
            writer: asyncio.StreamWriter | None = None
            while next_at < deadline:
                await asyncio.sleep(max(0.0, next_at - time.time()))
                next_at += interval
                path = f"/o/{member.slug}/inbox/list/" + (f"?v={version}" if version else "")
                began = time.time()
                for attempt in range(2):
                    try:
                        if reader is None or writer is None or reader.at_eof():
                            if writer is not None:
                                writer.close()
                            reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 22)
                            counts["connections"] += 1
                        writer.write(self._head(member, path, "text/html"))
                        status, headers = await _read_head(reader)
                        body = await _read_body(reader, status, headers)
                        if headers.get("connection", "").lower() == "close":
                            writer.close()
                            reader = writer = None
                        break
                    except (OSError, asyncio.IncompleteReadError, ValueError):
                        if writer is not None:
                            writer.close()
                        reader = writer = None
                        if attempt:
                            status, body = 0, b""
                            counts["errors"] += 1
                now = time.time()
                statuses[status] += 1
                if status in (200, 204):
                    done.append(now)
                    latencies.append((now - began) * 1000)
                if status == 200 and (found := VERSION_RE.search(body)):
                    version = found.group(1).decode()
                # Behind the schedule (a slow answer): the next one at once, as a timer would.
                next_at = max(next_at, now)
            if writer is not None:
                writer.close()

        await asyncio.gather(*(poller(self.members[index]) for index in indexes))
        return {"done": done, "latencies": latencies, "statuses": dict(statuses), **counts}


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def _read_body(reader: asyncio.StreamReader, status: int, headers: dict[str, str]) -> bytes:
    if status in (204, 304):
        return b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append((await reader.readexactly(size + 2))[:-2])
    return await reader.readexactly(int(headers.get("content-length", "0")))


def client_process(port: int, cookie_name: str, members: list[ClientMember], commands: Connection) -> None:
    """Serve the orchestrator's commands (open, collect, close, poll, exit) until it says exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the orchestrator stops us (its finally)
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    async def serve() -> None:
        clients = _Clients(port, cookie_name, members)
        loop = asyncio.get_running_loop()
        while True:
            command, argument = await loop.run_in_executor(None, commands.recv)
            if command == "open":
                answer: Any = await clients.open(*argument)
            elif command == "collect":
                answer = clients.collect()
            elif command == "close":
                answer = await clients.close()
            elif command == "poll":
                answer = await clients.poll(*argument)
            else:
                await clients.close()
                commands.send(None)
                return
            commands.send(answer)

    asyncio.run(serve())


class ClientPool:
    """The client processes (spawned: none of the orchestrator's threads or connections copied)."""

    def __init__(self, processes: int, port: int, cookie_name: str, members: list[ClientMember]) -> None:
        context = multiprocessing.get_context("spawn")
        self.shares = [members[n::processes] for n in range(processes)]
        self.pipes: list[Connection] = []
        self.processes = []
        for share in self.shares:
            ours, theirs = context.Pipe()
            process = context.Process(target=client_process, args=(port, cookie_name, share, theirs), daemon=True)
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    def ask(self, command: str, *extra: Any, members: bool = False, only: set[int] | None = None) -> list[Any]:
        """Send the command to every process and wait for every answer. With `members`, each
        process is given its own members' indexes (those in `only`), then `extra`."""
        for pipe, share in zip(self.pipes, self.shares, strict=True):
            indexes = [m.index for m in share if only is None or m.index in only]
            argument = (indexes, *extra) if members else None
            pipe.send((command, argument))
        return [pipe.recv() for pipe in self.pipes]

    def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError, BrokenPipeError):
                pipe.send(("exit", None))
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


# --------------------------------------------------------------------------- the data


@dataclass
class Member:
    index: int
    organization_id: int
    slug: str
    session_key: str
    role: str
    channel_ids: frozenset[int] | None  # None: every channel of its organization (an admin)

    def may_see(self, organization_id: int, channel_id: int) -> bool:
        if organization_id != self.organization_id:
            return False
        return self.channel_ids is None or channel_id in self.channel_ids


@dataclass
class World:
    members: list[Member]
    conversations: dict[int, tuple[int, int]]  # conversation id → (organization id, channel id)
    targets: list[tuple[str, str, int]]  # (page id, psid, conversation id), round the pages
    pages: int
    cookie_name: str

    def audience(self) -> dict[tuple[int, int], list[int]]:
        """(organization id, channel id) → the indexes of the members who may see its conversations."""
        channels = {value for value in self.conversations.values()}
        return {key: [m.index for m in self.members if m.may_see(*key)] for key in channels}


def _seed(*, organizations: int, clients: int, messages: int) -> World:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import connection
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from channels.models import AgentChannel, Channel
    from channels.visibility import visible_channel_ids
    from helpdesk.models import Department, Membership, Role
    from helpdesk.services import organization_create
    from messenger.crypto import encrypt_token
    from messenger.models import Contact, Conversation, FacebookPage

    user_model = get_user_model()
    token = encrypt_token("live-bench-page-token")
    # One more round of the pages than the load needs: the warm-up's messages.
    per_page = math.ceil(messages / (organizations * CHANNELS)) + 1
    rounds: list[list[tuple[str, str, int]]] = [[] for _ in range(per_page)]
    conversations: dict[int, tuple[int, int]] = {}
    members: list[Member] = []
    sessions = []
    expire = timezone.now() + datetime.timedelta(days=1)
    backend = settings.AUTHENTICATION_BACKENDS[-1]
    store = SessionStore()
    rng = random.Random(17)
    for o in range(organizations):
        slug = f"live-{o}"
        organization, first_admin = organization_create(
            name=f"Live bench {o}", slug=slug, admin_username=f"live-admin-{o}", admin_password="live-bench-Pa55word!"
        )
        departments = [
            Department.objects.create(organization=organization, name=f"Support {d}") for d in range(DEPARTMENTS)
        ]
        channels = [
            Channel.objects.create(organization=organization, department=departments[c % DEPARTMENTS], name=f"Page {c}")
            for c in range(CHANNELS)
        ]
        for c, channel in enumerate(channels):
            page = FacebookPage.objects.create(
                organization=organization,
                channel=channel,
                page_id=f"9{o:03d}{c:03d}00000000",
                name=f"Live bench page {o}.{c}",
                access_token_encrypted=token,
            )
            contacts = Contact.objects.bulk_create(
                Contact(
                    organization=organization,
                    page=page,
                    psid=f"5{n:09d}",
                    display_name=f"Customer {n}",
                    profile_fetched_at=page.created_at,
                )
                for n in range(per_page)
            )
            created = Conversation.objects.bulk_create(
                Conversation(
                    organization=organization,
                    channel=channel,
                    department=channel.department,
                    page=page,
                    contact=contact,
                )
                for contact in contacts
            )
            for n, (contact, conversation) in enumerate(zip(contacts, created, strict=True)):
                conversations[conversation.pk] = (organization.pk, channel.pk)
                rounds[n].append((page.page_id, contact.psid, conversation.pk))
        count = clients // organizations + (1 if o < clients % organizations else 0)
        users = user_model.objects.bulk_create(
            user_model(username=f"live-{o}-{m}", password=make_password(None)) for m in range(1, count)
        )
        others = Membership.objects.bulk_create(
            Membership(organization=organization, user=user, role=Role.ADMIN if m % ADMIN_EVERY == 0 else Role.AGENT)
            for m, user in zip(range(1, count), users, strict=True)
        )
        memberships = [first_admin, *others]
        works_in = Membership.departments.through
        links, associations = [], []
        for membership in memberships:
            if membership.role != Role.AGENT:
                continue
            own = rng.sample(departments, rng.choice((1, 1, 2)))
            links += [works_in(membership_id=membership.pk, department_id=d.pk) for d in own]
            # Most of their departments' channels, and one outside them (an association that shows nothing).
            inside = [channel for channel in channels if channel.department in own]
            outside = [channel for channel in channels if channel.department not in own]
            associations += [
                AgentChannel(organization=organization, membership=membership, channel=channel)
                for channel in [*rng.sample(inside, max(1, len(inside) - 1)), rng.choice(outside)]
            ]
        works_in.objects.bulk_create(links)
        AgentChannel.objects.bulk_create(associations)
        for membership in memberships:
            user = membership.user
            visible = visible_channel_ids(organization=organization, membership=membership)
            key = get_random_string(32)
            data = {
                "_auth_user_id": str(user.pk),
                "_auth_user_backend": backend,
                "_auth_user_hash": user.get_session_auth_hash(),
                "organization_slug": slug,
            }
            sessions.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
            members.append(
                Member(
                    index=len(members),
                    organization_id=organization.pk,
                    slug=slug,
                    session_key=key,
                    role=membership.role,
                    channel_ids=None if visible is None else frozenset(row["channel_id"] for row in visible),
                )
            )
    Session.objects.bulk_create(sessions)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return World(
        members=members,
        conversations=conversations,
        targets=[target for page_round in rounds for target in page_round],
        pages=organizations * CHANNELS,
        cookie_name=settings.SESSION_COOKIE_NAME,
    )


# --------------------------------------------------------------------------- the webhook load


@dataclass
class Load:
    answered: dict[int, float] = field(default_factory=dict)  # conversation id → when its 200 was read
    post_ms: list[float] = field(default_factory=list)  # from the scheduled time
    errors: int = 0
    seconds: float = 0.0


def _load(port: int, targets: list[tuple[str, str, int]], rate: float, load: Load) -> None:
    """One message per target at `rate` per second, paced from a schedule (open loop)."""
    lock = threading.Lock()
    start = time.time() + 0.2

    def run(thread_no: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for seq in range(thread_no, len(targets), LOAD_THREADS):
            page_id, psid, conversation_id = targets[seq]
            scheduled = start + seq / rate
            pause = scheduled - time.time()
            if pause > 0:
                time.sleep(pause)
            body = webhook_body(page_id, psid, f"m_live.{conversation_id}.{seq}", f"Live bench {seq}: any news?")
            try:
                status = _post(conn, PRODUCT_PATH, body)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            done = time.time()
            with lock:
                load.post_ms.append((done - scheduled) * 1000)
                if status == 200:
                    load.answered[conversation_id] = done
                else:
                    load.errors += 1
        conn.close()

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.seconds = time.time() - start


# --------------------------------------------------------------------------- the figures


@dataclass
class Deliveries:
    latencies_ms: list[float] = field(default_factory=list)
    expected: int = 0
    missed: int = 0
    duplicates: int = 0
    leaks: int = 0
    leak_examples: list[str] = field(default_factory=list)
    unknown: int = 0  # events for conversations the bench did not make
    control: Counter[str] = field(default_factory=Counter)  # resync, fallback, close, ended, errors
    other_kinds: Counter[str] = field(default_factory=Counter)


def _deliveries(
    world: World, arrivals: list[tuple[int, str, int | None, float]], answered: dict[int, float]
) -> Deliveries:
    result = Deliveries()
    audience = world.audience()
    received: set[tuple[int, int]] = set()
    for index, kind, conversation_id, at in arrivals:
        if kind.startswith("!"):
            result.control[kind[1:]] += 1
            continue
        if conversation_id is None:
            result.other_kinds[kind] += 1
            continue
        where = world.conversations.get(conversation_id)
        if where is None:
            result.unknown += 1
            continue
        member = world.members[index]
        if not member.may_see(*where):
            result.leaks += 1
            if len(result.leak_examples) < 5:
                result.leak_examples.append(
                    f"member {index} ({member.role}) got {kind} of conversation {conversation_id}"
                )
            continue
        if conversation_id not in answered:
            continue  # the warm-up's, or a POST that failed on our side
        if (index, conversation_id) in received:
            result.duplicates += 1
            continue
        received.add((index, conversation_id))
        result.latencies_ms.append((at - answered[conversation_id]) * 1000)
    for conversation_id in answered:
        result.expected += len(audience[world.conversations[conversation_id]])
    result.missed = result.expected - len(received)
    return result


def _cpu_percent(pid: int, seconds: float) -> float:
    before, started = proc.cpu_seconds(pid), time.time()
    time.sleep(seconds)
    return (proc.cpu_seconds(pid) - before) / (time.time() - started) * 100


def _database_connections(name: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name])
        count = int(cursor.fetchone()[0])
    connection.close()
    return count - 1  # not ours


class ConnectionSampler(threading.Thread):
    """The bench database's connections (the web process's), sampled until stopped: the most seen."""

    def __init__(self, name: str) -> None:
        super().__init__(daemon=True)
        self.name_ = name
        self.most = 0
        self.refused = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        from django.db import Error

        while not self.stopped.wait(0.25):
            try:
                self.most = max(self.most, _database_connections(self.name_))
            except Error:
                self.refused += 1  # the server's limit reached: the sampler's own connection refused

    def stop(self) -> str:
        self.stopped.set()
        self.join()
        return f"{self.most}" + (
            f" (the sampler refused {self.refused} times: too many clients)" if self.refused else ""
        )


def _web_worker(master: int) -> int:
    for _ in range(100):
        workers = proc.children(master)
        if workers:
            return workers[0]
        time.sleep(0.1)
    sys.exit("live bench: gunicorn started no worker")


# --------------------------------------------------------------------------- the run


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000, help="members, each with one event stream")
    parser.add_argument("--orgs", type=int, default=10, help="organizations the members are spread over")
    parser.add_argument("--rate", type=float, default=200.0, help="customer messages per second through the webhook")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the webhook load")
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="CPU of the idle streams measured over")
    parser.add_argument("--poll-seconds", type=float, default=20.0, help="length of the polling comparison")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="each polling client asks every …")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--application", default="helpdesk.asgi:application", help="the ASGI application served (to compare another)"
    )
    parser.add_argument("--keep-database", action="store_true", help="do not drop the bench database afterwards")
    parser.add_argument(
        "--apply-now",
        action="store_true",
        help="the web process applies each webhook POST before its answer (no webhook worker)",
    )
    return parser.parse_args()


def _interrupted(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    args = _parse()
    if not os.environ.get("REDIS_URL"):
        sys.exit("live bench: set REDIS_URL (the live events go through Redis)")
    signal.signal(signal.SIGTERM, _interrupted)
    # Every stream is a socket on both sides: room for them in this process and its children.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.clients + 1024)), hard))
    redis_url = _redis_url(os.environ["REDIS_URL"], int(os.environ.get("BENCH_REDIS_DB", "15")))
    live = {
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "LIVE_REDIS_URL": redis_url,
        # Pub/sub channels are the server's, not one database's: a prefix of this run's own.
        "LIVE_KEY_PREFIX": f"live-bench-{os.getpid()}",
    }
    # As docker-compose.yml runs it: POSTs kept and applied by a worker of the `webhook` queue.
    live["WEBHOOK_APPLY_LATER"] = "0" if args.apply_now else "1"
    bench_name, admin_url, env = bench_database_prepare("live bench")
    env.update(live)
    os.environ.update(live)
    server: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    clients: ClientPool | None = None
    try:
        _redis_flush(redis_url)
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True
        )
        import django

        django.setup()
        from django.conf import settings
        from django.db import connection

        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the orgs' first admins
        messages = int(args.rate * args.seconds)
        seeded = time.time()
        world = _seed(organizations=args.orgs, clients=args.clients, messages=messages)
        connection.close()
        seeded = time.time() - seeded
        port = _free_port()
        server = _start_gunicorn(port, env, SERVER_CONFIG, application=args.application)
        worker = None if args.apply_now else _start_worker(env)
        web = _web_worker(server.pid)
        members = [ClientMember(m.index, m.slug, m.session_key) for m in world.members]
        clients = ClientPool(args.client_processes, port, world.cookie_name, members)
        admins = sum(m.role == "admin" for m in world.members)
        agents = [m for m in world.members if m.channel_ids is not None]
        agents_see = sum(len(m.channel_ids or ()) for m in agents) / max(1, len(agents))
        print(
            f"live bench: gunicorn {args.application} {' '.join(SERVER_CONFIG)} (web process {web}) · "
            f"PostgreSQL {bench_name} · "
            f"Redis {redis_url} · {len(world.members)} members ({admins} admins) in {args.orgs} organizations × "
            f"{CHANNELS} channels (an agent sees {agents_see:.1f}) · {args.client_processes} client processes · "
            + ("each webhook POST applied before its answer · " if worker is None else "webhook worker (-Q webhook) · ")
            + f"seeded in {seeded:.1f} s",
            flush=True,
        )

        # Warm-up: the process's first streams, list and webhook POSTs (imports, connections, caches).
        warm = set(range(0, len(members), max(1, len(members) // 20)))
        clients.ask("open", members=True, only=warm)
        warm_up = Load()
        _load(port, world.targets[messages : messages + world.pages], args.rate, warm_up)
        time.sleep(1)
        clients.ask("close")
        clients.ask("collect")
        time.sleep(1)

        rss_before = proc.rss_mb(web)
        opened = clients.ask("open", members=True)
        statuses: Counter[int] = Counter()
        for answer in opened:
            statuses.update(answer["statuses"])
        connected = statuses.get(200, 0)
        open_seconds = max(answer["seconds"] for answer in opened)
        time.sleep(2)
        rss_after = proc.rss_mb(web)
        per_connection_kb = (rss_after - rss_before) * 1024 / max(1, connected)
        print(
            f"streams: {connected} of {len(members)} open in {open_seconds:.1f} s (answers {dict(statuses)}) · "
            f"web RSS {rss_before:.0f} → {rss_after:.0f} MB ({per_connection_kb:.0f} KB per connection)",
            flush=True,
        )
        idle_cpu = _cpu_percent(web, args.idle_seconds)
        db_connections = _database_connections(bench_name)
        print(
            f"idle: web CPU {idle_cpu:.2f} % of one core over {args.idle_seconds:.0f} s, {connected} streams open · "
            f"{db_connections} database connections of the web process",
            flush=True,
        )
        arrivals = [item for answer in clients.ask("collect") for item in answer]

        load = Load()
        sampler = ConnectionSampler(bench_name)
        sampler.start()
        cpu_before, load_started = proc.cpu_seconds(web), time.time()
        worker_cpu_before = _worker_cpu(worker)
        _load(port, world.targets[:messages], args.rate, load)
        load_cpu = (proc.cpu_seconds(web) - cpu_before) / (time.time() - load_started) * 100
        worker_cpu = (_worker_cpu(worker) - worker_cpu_before) / (time.time() - load_started) * 100
        load_connections = sampler.stop()
        time.sleep(GRACE_SECONDS)
        arrivals += [item for answer in clients.ask("collect") for item in answer]
        rss_load = proc.rss_mb(web)
        deliveries = _deliveries(world, arrivals, load.answered)
        latencies = sorted(deliveries.latencies_ms)
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        served = len(load.answered) / load.seconds if load.seconds else 0.0
        print(
            f"load: {messages} messages at {args.rate:.0f}/s asked, {len(load.answered)} answered 200 "
            f"({served:.0f}/s), {load.errors} errors, POST p50 {percentile(load.post_ms, 0.5):.0f} ms "
            f"p99 {percentile(load.post_ms, 0.99):.0f} ms · web CPU {load_cpu:.0f} % · "
            + (f"webhook worker CPU {worker_cpu:.0f} % · " if worker is not None else "")
            + f"RSS {rss_load:.0f} MB · "
            f"database connections up to {load_connections}",
            flush=True,
        )
        print(
            f"events: {len(latencies)} of {deliveries.expected} expected deliveries, {deliveries.missed} missed, "
            f"{deliveries.duplicates} twice · 200 → event p50 {p50:.0f} ms p99 {p99:.0f} ms "
            f"max {latencies[-1] if latencies else float('nan'):.0f} ms · leaks {deliveries.leaks} · "
            f"streams' other events {dict(deliveries.control) or '{}'} · without a conversation "
            f"{dict(deliveries.other_kinds) or '{}'} · unknown conversations {deliveries.unknown}",
            flush=True,
        )
        for example in deliveries.leak_examples:
            print(f"  leak: {example}")

        clients.ask("close")
        time.sleep(1)
        sampler = ConnectionSampler(bench_name)
        sampler.start()
        poll_cpu_before = proc.cpu_seconds(web)
        poll_started = time.time()
        polled = clients.ask("poll", args.poll_seconds, args.poll_interval, members=True)
        poll_elapsed = time.time() - poll_started
        poll_cpu = (proc.cpu_seconds(web) - poll_cpu_before) / poll_elapsed * 100
        poll_db_connections = sampler.stop()
    finally:
        if clients is not None:
            clients.stop()
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        _redis_flush(redis_url)
        if not args.keep_database:
            _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{bench_name}" WITH (FORCE)')

    poll_statuses: Counter[int] = Counter()
    poll_latencies: list[float] = []
    poll_done = 0
    poll_errors = poll_http_connections = 0
    for answer in polled:
        poll_statuses.update(answer["statuses"])
        poll_latencies += answer["latencies"]
        poll_done += len(answer["done"])
        poll_errors += answer["errors"]
        poll_http_connections += answer["connections"]
    asked = len(members) / args.poll_interval
    poll_rate = poll_done / poll_elapsed
    print(
        f"polling: {len(members)} clients every {args.poll_interval:.0f} s ({asked:.0f} req/s asked): "
        f"{poll_rate:.0f} req/s served, answers {dict(poll_statuses)}, {poll_errors} errors, "
        f"{poll_http_connections} HTTP connections · p50 {percentile(poll_latencies, 0.5):.0f} ms "
        f"p99 {percentile(poll_latencies, 0.99):.0f} ms · web CPU {poll_cpu:.0f} % · "
        f"database connections up to {poll_db_connections}"
    )
    met = (
        connected == len(members)
        and p99 < TARGET_P99_MS
        and deliveries.leaks == 0
        and deliveries.missed == 0
        and idle_cpu < TARGET_IDLE_CPU_PERCENT
        and load.errors == 0
        # The webhook must take the rate asked, not only deliver what it managed to take.
        and served >= TARGET_SERVED_SHARE * args.rate
    )
    print(
        f"live: {'PASS' if met else 'FAIL'} {connected}/{len(members)} streams ({args.orgs} orgs) · "
        f"webhook {args.rate:.0f}/s × {args.seconds:.0f} s: {served:.0f}/s served "
        f"(target ≥ {TARGET_SERVED_SHARE * args.rate:.0f}), {load.errors} errors · "
        f"200 → event p99 {p99:.0f} ms (p50 {p50:.0f}; target < {TARGET_P99_MS:.0f}) over {len(latencies)} "
        f"deliveries, missed {deliveries.missed} · leaks {deliveries.leaks} · "
        f"idle CPU {idle_cpu:.2f} % of a core (target < {TARGET_IDLE_CPU_PERCENT:.0f}) · "
        f"{per_connection_kb:.0f} KB per connection · push under load: web CPU {load_cpu:.0f} % · "
        f"polling every {args.poll_interval:.0f} s: {poll_rate:.0f} of {asked:.0f} req/s, web CPU {poll_cpu:.0f} %, "
        f"{poll_statuses.get(500, 0)} answered 500 · database connections idle {db_connections}, "
        f"under load {load_connections.split()[0]}, polling {poll_db_connections.split()[0]}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
