"""Soak run: signed webhooks at a steady rate for minutes, with agents polling the inbox API
and the Celery worker (with beat) doing the follow-ups and the periodic sweeps.

    .venv/bin/python bench/run.py soak                   # an empty, migrated database
    DATABASE_URL=postgres://… .venv/bin/python bench/soak.py --seconds 30 --rate 50

It uses DATABASE_URL as it is (bench/run.py has just created and migrated it; the script
migrates again, which is a no-op then), and creates its own organization, channel, linked
page (a sandbox-like token), agents and API tokens through the product's services. Outside
services are its own: a redis-server on a free port (REDIS_URL when redis-server is not
installed) as broker and cache, and a Graph API stub over HTTP for the profile lookups of
new customers, so that no real Graph call is made.

It starts gunicorn on a free port (fixed configuration, printed) and a Celery worker with
embedded beat, then for --seconds:

- load processes send one-message webhooks, paced (open loop) at --rate messages/s, from
  --customers customers: the first message of each starts a conversation (a contact, a
  profile lookup and a notice in the worker), later ones land in known conversations;
- --agents simulated agents each poll the conversation list and the first conversation's
  messages every --poll-interval seconds;
- a prober sends marker messages of its own and polls /api/v1/conversations/{id}/messages/
  until the marker is listed: the delay from webhook sent to visible in the inbox API.

Then it waits for the worker to drain and prints: webhook p50/p99 latency (from each
request's scheduled time), the visibility delay (p50/p99), errors (webhook and API answers
other than 200, probes never visible, ERROR lines in the worker's and gunicorn's logs),
messages lost or duplicated (the mids answered 200 against the database), follow-ups left
undone, and the resident memory (VmRSS) of each web worker and of the Celery worker at the
start (after a warm-up) and at the end. The last line starts with `soak:` and names the
targets missed: the rate kept (served ≥ 95 % of asked), visible p99 < 1 s, no error, nothing
lost or duplicated, memory growth ≤ 20 %, each web worker < 200 MB. The exit status is 1 when
a message was lost or duplicated, a follow-up was left undone or an error was seen; the
rate, latency and memory targets are reported, not enforced (machines differ).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import proc  # noqa: E402

GUNICORN_CONFIG = [
    "--workers",
    "3",
    "--worker-class",
    "gthread",
    "--threads",
    "4",
    "--keep-alive",
    "30",
    "--backlog",
    "1024",
    "--timeout",
    "30",
    "--log-level",
    "warning",
]
WORKER_CONFIG = ["worker", "--beat", "--pool", "solo", "--loglevel", "info", "--without-gossip", "--without-mingle"]
LOAD_PROCESSES = 2
LOAD_THREADS = 8  # per process, one keep-alive connection each
WARM_UP_SECONDS = 5.0
PROBE_PAUSE_SECONDS = 0.5
PROBE_POLL_SECONDS = 0.05
PROBE_GIVE_UP_SECONDS = 10.0
DRAIN_SECONDS = 300.0
APP_SECRET = "soak-app-secret"
MID_PREFIX = "m_soak."

TARGET_RATE_KEPT = 0.95  # served / asked: below it, the latencies measure our own queue
TARGET_VISIBLE_P99_MS = 1000.0
TARGET_RSS_GROWTH = 0.20
TARGET_WEB_WORKER_MB = 200.0


# --------------------------------------------------------------------------- HTTP helpers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def webhook_body(page_id: str, psid: str, mid: str, text: str) -> bytes:
    now_ms = int(time.time() * 1000)
    item = {
        "sender": {"id": psid},
        "recipient": {"id": page_id},
        "timestamp": now_ms,
        "message": {"mid": mid, "text": text},
    }
    return json.dumps({"object": "page", "entry": [{"id": page_id, "time": now_ms, "messaging": [item]}]}).encode()


def post_webhook(conn: http.client.HTTPConnection, body: bytes) -> int:
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
    conn.request("POST", "/webhooks/messenger/", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def api_get(conn: http.client.HTTPConnection, path: str, key: str) -> tuple[int, Any]:
    conn.request("GET", path, headers={"Authorization": f"Token {key}", "Accept": "application/json"})
    response = conn.getresponse()
    raw = response.read()
    return response.status, json.loads(raw) if response.status == 200 else None


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# --------------------------------------------------------------------------- load processes


class Sent(NamedTuple):
    mid: str
    status: int  # 0: no answer (connection error)
    latency_ms: float  # from the moment it was scheduled: queueing on our side counts
    done_at: float


def load_process(
    port: int, page_id: str, customers: list[str], rate: float, duration: float, tag: str, start_at: float, out: Any
) -> None:
    """LOAD_THREADS paced senders, each on its own keep-alive connection."""
    results: list[Sent] = []
    lock = threading.Lock()
    deadline = start_at + duration
    interval = LOAD_THREADS / rate

    def run(thread_no: int) -> None:
        rng = random.Random(f"{tag}-{thread_no}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        scheduled = start_at + rng.random() * interval
        seq = 0
        local: list[Sent] = []
        while scheduled < deadline:
            pause = scheduled - time.time()
            if pause > 0:
                time.sleep(pause)
            mid = f"{MID_PREFIX}{tag}.{thread_no}.{seq}"
            body = webhook_body(page_id, rng.choice(customers), mid, f"Soak message {seq}: is my parcel on its way?")
            try:
                status = post_webhook(conn, body)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            done = time.time()
            local.append(Sent(mid, status, (done - scheduled) * 1000, done))
            scheduled += interval
            seq += 1
        conn.close()
        with lock:
            results.extend(local)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(results)


def send_load(
    port: int, page_id: str, customers: list[str], rate: float, duration: float, tag: str
) -> tuple[float, Callable[[], list[Sent]]]:
    """Start the load processes (spawned: no thread of this process is copied); returns when
    they start sending, and a function that waits for them and gives every result."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start_at = time.time() + 1.5  # the spawned processes need a moment to start
    processes = [
        context.Process(
            target=load_process,
            args=(port, page_id, customers, rate / LOAD_PROCESSES, duration, f"{tag}{n}", start_at, queue),
        )
        for n in range(LOAD_PROCESSES)
    ]
    for process in processes:
        process.start()

    def wait() -> list[Sent]:
        results = [item for _ in processes for item in queue.get()]
        for process in processes:
            process.join()
        return results

    time.sleep(max(0.0, start_at - time.time()))
    return start_at, wait


# --------------------------------------------------------------------------- agents and prober


@dataclass
class ApiStats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, started: float, status: int) -> None:
        with self.lock:
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
            if status != 200:
                self.errors += 1


def agent_loop(port: int, key: str, interval: float, stop: threading.Event, stats: ApiStats) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    stop.wait(random.random() * interval)
    while not stop.is_set():
        began = time.perf_counter()
        try:
            started = time.perf_counter()
            status, page = api_get(conn, "/api/v1/conversations/", key)
            stats.record(started, status)
            if status == 200 and page["results"]:
                started = time.perf_counter()
                status, _ = api_get(conn, f"/api/v1/conversations/{page['results'][0]['id']}/messages/", key)
                stats.record(started, status)
        except (OSError, http.client.HTTPException, ValueError):
            with stats.lock:
                stats.errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        stop.wait(max(0.0, interval - (time.perf_counter() - began)))
    conn.close()


@dataclass
class Probes:
    delays_ms: list[float] = field(default_factory=list)
    sent: list[tuple[str, int]] = field(default_factory=list)  # (mid, webhook status)
    never_visible: int = 0


def probe_loop(
    port: int, key: str, page_id: str, threads: list[tuple[str, int]], stop: threading.Event, probes: Probes
) -> None:
    """Marker messages in known conversations, each polled for until the inbox API lists it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    seq = 0
    while not stop.is_set():
        psid, conversation_id = threads[seq % len(threads)]
        mid = f"{MID_PREFIX}probe.{seq}"
        seq += 1
        began = time.perf_counter()
        try:
            status = post_webhook(conn, webhook_body(page_id, psid, mid, f"Probe {seq}"))
            probes.sent.append((mid, status))
            if status != 200:
                continue
            while time.perf_counter() - began < PROBE_GIVE_UP_SECONDS:
                answer, page = api_get(conn, f"/api/v1/conversations/{conversation_id}/messages/", key)
                if answer == 200 and any(row["mid"] == mid for row in page["results"]):
                    probes.delays_ms.append((time.perf_counter() - began) * 1000)
                    break
                time.sleep(PROBE_POLL_SECONDS)
            else:
                probes.never_visible += 1
        except (OSError, http.client.HTTPException, ValueError):
            probes.never_visible += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        stop.wait(PROBE_PAUSE_SECONDS)
    conn.close()


# --------------------------------------------------------------------------- outside services


class StubHandler(BaseHTTPRequestHandler):
    """A quiet keep-alive handler of the benchmarks' stand-in servers, answering JSON."""

    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def stub_serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """Serve a stub on a free loopback port in a daemon thread: the server and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class GraphStub:
    """Profile lookups of new customers (GET /<version>/<psid>) answered at once; anything
    else answers a Graph error, so that an unexpected call shows in the counts."""

    def __init__(self) -> None:
        self.profiles = 0
        self.other = 0
        stub = self

        class Handler(StubHandler):
            def do_GET(self) -> None:
                psid = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
                stub.profiles += 1
                self._answer(200, {"id": psid, "first_name": "Soak", "last_name": psid[-4:]})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stub.other += 1
                self._answer(400, {"error": {"message": "not in the soak", "code": 100}})

        self.server, self.url = stub_serve(Handler)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes] | None, str]:
    if shutil.which("redis-server") is None:
        url = os.environ.get("REDIS_URL", "")
        if not url:
            sys.exit("soak: neither redis-server nor REDIS_URL is available")
        return None, url
    port = _free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    sys.exit("soak: redis-server did not start")


def wait_for_http(port: int, what: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            sys.exit(f"soak: {what} exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"soak: {what} did not answer")


def wait_for_log(path: Path, marker: str, what: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            sys.exit(f"soak: {what} exited with {process.returncode}:\n{path.read_text()[-2000:]}")
        if path.exists() and marker in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    sys.exit(f"soak: {what} did not start")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# --------------------------------------------------------------------------- memory


def cpu_seconds(gunicorn: subprocess.Popen[bytes], worker: subprocess.Popen[bytes]) -> dict[str, float]:
    """CPU time (user + system) so far of the web workers together and of the Celery worker."""
    return {
        "web workers": sum(proc.cpu_seconds(pid) for pid in proc.children(gunicorn.pid)),
        "celery worker": proc.cpu_seconds(worker.pid) + sum(proc.cpu_seconds(pid) for pid in proc.children(worker.pid)),
    }


def memory(gunicorn: subprocess.Popen[bytes], worker: subprocess.Popen[bytes]) -> dict[str, float]:
    """VmRSS (MB) of each gunicorn worker and of the Celery worker (with its children, if any)."""
    sample = {f"web {pid}": proc.rss_mb(pid) for pid in proc.children(gunicorn.pid)}
    sample["worker"] = proc.rss_mb(worker.pid) + sum(proc.rss_mb(pid) for pid in proc.children(worker.pid))
    return sample


# --------------------------------------------------------------------------- the database


@dataclass
class World:
    organization_id: int
    page_pk: int
    page_id: str
    agent_keys: list[str]
    customers: list[str]
    probe_threads: list[tuple[str, int]]


def seed(tag: str, customers: int, agents: int) -> World:
    """An organization with one Messenger channel and linked page, agents with API tokens,
    and the prober's customers (known conversations)."""
    from django.contrib.auth import get_user_model

    from channels.models import AgentChannel, Channel
    from helpdesk.models import Membership, Role
    from helpdesk.services import api_token_create, department_create, organization_create
    from messenger.crypto import encrypt_token
    from messenger.models import Contact, Conversation, FacebookPage

    password = secrets.token_urlsafe(16)
    organization, admin = organization_create(
        name=f"Soak {tag}", slug=f"soak-{tag}", admin_username=f"soak-admin-{tag}", admin_password=password
    )
    department = department_create(organization=organization, acting_user=admin.user, name="Support")
    channel = Channel.objects.create(organization=organization, department=department, name="Messenger")
    page_id = f"91{int(tag):013d}"[:15]
    page = FacebookPage.objects.create(
        organization=organization,
        channel=channel,
        page_id=page_id,
        name="Soak page",
        access_token_encrypted=encrypt_token(f"EAAsandbox{secrets.token_hex(16)}"),
    )
    keys = []
    for n in range(agents):
        # People join by invitation; the benchmark makes its agents directly.
        user = get_user_model().objects.create_user(username=f"soak-agent-{n}-{tag}", password=password)
        agent = Membership.objects.create(organization=organization, user=user, role=Role.AGENT)
        agent.departments.add(department)
        AgentChannel.objects.create(organization=organization, membership=agent, channel=channel)
        keys.append(api_token_create(membership=agent, name="soak")[1])
    probe_threads = []
    for n in range(4):
        contact = Contact.objects.create(
            organization=organization,
            page=page,
            psid=f"4{n:09d}",
            display_name=f"Prober {n}",
            profile_fetched_at=page.created_at,
        )
        conversation = Conversation.objects.create(
            organization=organization, channel=channel, department=department, page=page, contact=contact
        )
        probe_threads.append((contact.psid, conversation.pk))
    return World(
        organization_id=organization.pk,
        page_pk=page.pk,
        page_id=page_id,
        agent_keys=keys,
        customers=[f"5{n:09d}" for n in range(customers)],
        probe_threads=probe_threads,
    )


def followups_left(world: World) -> tuple[int, int]:
    """Contacts whose profile was never fetched, conversations nobody was told about."""
    from django.db.models import CharField, Exists, OuterRef, Value
    from django.db.models.functions import Cast, Concat

    from helpdesk.models import Notification
    from messenger.models import Contact, Conversation

    profiles = Contact.objects.filter(page_id=world.page_pk, profile_fetched_at__isnull=True).count()
    told = Notification.objects.filter(
        organization_id=world.organization_id,
        dedupe_key=Concat(Value("new_conversation:"), Cast(OuterRef("pk"), CharField())),
    )
    untold = (
        Conversation.objects.filter(page_id=world.page_pk)
        .exclude(contact__psid__startswith="4")  # the prober's, created by the seed
        .exclude(Exists(told))
        .count()
    )
    return profiles, untold


def stored_mids(world: World) -> dict[str, int]:
    from django.db.models import Count

    from messenger.models import Message

    rows = (
        Message.objects.filter(page_id=world.page_pk, mid__startswith=MID_PREFIX)
        .values("mid")
        .annotate(copies=Count("pk"))
        .values_list("mid", "copies")
    )
    return dict(rows)


def pending_events(world: World) -> int:
    from messenger.models import WebhookEvent, WebhookOutcome

    return WebhookEvent.objects.filter(organization_id=world.organization_id, outcome=WebhookOutcome.PENDING).count()


def log_errors(*paths: Path) -> int:
    count = 0
    for path in paths:
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                if " ERROR " in line or "[ERROR]" in line or "Traceback" in line or "WORKER TIMEOUT" in line:
                    count += 1
    return count


# --------------------------------------------------------------------------- the run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the soak (default 120)")
    parser.add_argument("--rate", type=float, default=200.0, help="webhook messages per second (default 200)")
    parser.add_argument("--customers", type=int, default=2000, help="distinct customers writing (default 2000)")
    parser.add_argument("--agents", type=int, default=5, help="agents polling the inbox API (default 5)")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="seconds between an agent's polls")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        sys.exit("soak: DATABASE_URL must point to PostgreSQL (bench/run.py soak sets it)")
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    redis, redis_url = start_redis(workdir)
    graph = GraphStub()
    env = dict(os.environ)
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "FB_APP_SECRET": APP_SECRET,
            "FB_GRAPH_URL": graph.url,
            "FB_GRAPH_TIMEOUT": "5",
            "GRAPH_SANDBOX": "0",
            "DATA_DIR": str(workdir),
            "PYTHONPATH": str(ROOT),
        }
    )
    os.environ.update(env)
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"], env=env, check=True)
    import django

    django.setup()
    from django.db import connections

    tag = str(int(time.time()))
    world = seed(tag, args.customers, args.agents)
    connections.close_all()

    port = _free_port()
    web_log, worker_log = workdir / "gunicorn.log", workdir / "worker.log"
    with web_log.open("wb") as web_out, worker_log.open("wb") as worker_out:
        gunicorn = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "helpdesk.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                *GUNICORN_CONFIG,
            ],
            cwd=ROOT,
            env=env,
            stdout=web_out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "celery"), "-A", "helpdesk", *WORKER_CONFIG],
            cwd=ROOT,
            env=env,
            stdout=worker_out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_http(port, "gunicorn", gunicorn)
        wait_for_log(worker_log, "ready.", "the Celery worker", worker)
        print(
            f"soak setup: gunicorn {' '.join(GUNICORN_CONFIG)} · celery {' '.join(WORKER_CONFIG)} · "
            f"PostgreSQL {database_url.rsplit('/', 1)[-1]} · Redis {redis_url} · Graph stub {graph.url} · "
            f"load {LOAD_PROCESSES} processes × {LOAD_THREADS} keep-alive connections, open loop · "
            f"{args.customers} customers · {args.agents} agents every {args.poll_interval:g} s · "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )

        # Warm-up: every web worker imports and prepares what it needs before memory is sampled.
        _, wait_warm = send_load(port, world.page_id, world.customers, args.rate / 4, WARM_UP_SECONDS, "warm")
        warm = wait_warm()
        start_memory = memory(gunicorn, worker)

        stop_event = threading.Event()
        api = ApiStats()
        probes = Probes()
        helpers = [
            threading.Thread(target=agent_loop, args=(port, key, args.poll_interval, stop_event, api))
            for key in world.agent_keys
        ]
        helpers.append(
            threading.Thread(
                target=probe_loop,
                args=(port, world.agent_keys[0], world.page_id, world.probe_threads, stop_event, probes),
            )
        )
        cpu_before = cpu_seconds(gunicorn, worker)
        generator_before = os.times().children_user + os.times().children_system
        began, wait_load = send_load(port, world.page_id, world.customers, args.rate, args.seconds, "run")
        for helper in helpers:
            helper.start()
        results = wait_load()
        stop_event.set()
        for helper in helpers:
            helper.join()
        end_memory = memory(gunicorn, worker)
        cpu_after = cpu_seconds(gunicorn, worker)
        # The load processes have been joined: their CPU time is now counted as our children's.
        cpu_before["load generator"] = generator_before
        cpu_after["load generator"] = os.times().children_user + os.times().children_system

        # The follow-ups still queued (and anything the catch-up must redo) get time to finish.
        drain_began = time.time()
        left = followups_left(world)
        while left != (0, 0) and time.time() - drain_began < DRAIN_SECONDS:
            time.sleep(1)
            left = followups_left(world)
        drained_in = time.time() - drain_began
        stored = stored_mids(world)
        pending = pending_events(world)
        died = [
            name for name, process in (("gunicorn", gunicorn), ("celery worker", worker)) if process.poll() is not None
        ]
    finally:
        stop(gunicorn)
        stop(worker)
        stop(redis)
        graph.close()

    everything = warm + results
    answered = {r.mid for r in everything if r.status == 200} | {m for m, s in probes.sent if s == 200}
    unanswered = {r.mid for r in everything if r.status != 200} | {m for m, s in probes.sent if s != 200}
    lost = sorted(answered - set(stored))
    duplicated = sum(copies - 1 for copies in stored.values()) + len(set(stored) - answered - unanswered)
    latencies = [r.latency_ms for r in results if r.status == 200]
    webhook_errors = sum(1 for r in results if r.status != 200) + sum(1 for _, s in probes.sent if s != 200)
    served_in = max((r.done_at for r in results), default=began) - began
    served_rate = len(results) / served_in if served_in else 0.0
    logged_errors = log_errors(web_log, worker_log)
    errors = webhook_errors + api.errors + probes.never_visible + logged_errors + pending + len(died)
    achieved = len(results) / args.seconds

    web_start = {k: v for k, v in start_memory.items() if k.startswith("web")}
    web_end = {k: v for k, v in end_memory.items() if k.startswith("web")}
    web_growth = max(((web_end.get(k, 0) - v) / v for k, v in web_start.items() if v), default=0.0)
    worker_growth = (end_memory["worker"] - start_memory["worker"]) / start_memory["worker"]
    web_max = max(web_end.values(), default=0.0)
    visible_p99 = percentile(probes.delays_ms, 0.99)

    print()
    print(
        f"load:      {len(results)} webhooks sent in {args.seconds:g} s ({achieved:.1f}/s, asked {args.rate:g}/s), "
        f"all answered within {served_in:.0f} s ({served_rate:.1f}/s served; latencies count from each "
        "message's scheduled time, so a backlog on our side shows in them)"
    )
    print(
        "cpu:       "
        + " · ".join(f"{name} {cpu_after.get(name, 0) - used:.0f} s" for name, used in sorted(cpu_before.items()))
        + f" (of {served_in * (os.cpu_count() or 1):.0f} CPU-seconds; load average now {os.getloadavg()[0]:.1f})"
    )
    print(
        f"webhook:   p50 {percentile(latencies, 0.5):.1f} ms · p99 {percentile(latencies, 0.99):.1f} ms · "
        f"max {max(latencies, default=float('nan')):.0f} ms · non-200 {webhook_errors}"
    )
    print(
        f"visible:   p50 {percentile(probes.delays_ms, 0.5):.1f} ms · p99 {visible_p99:.1f} ms over "
        f"{len(probes.delays_ms)} probes on a connection of their own (target < {TARGET_VISIBLE_P99_MS:.0f}) "
        f"· never visible {probes.never_visible}"
    )
    print(
        f"agents:    {len(api.latencies_ms)} API calls · p50 {percentile(api.latencies_ms, 0.5):.1f} ms · "
        f"p99 {percentile(api.latencies_ms, 0.99):.1f} ms · non-200 {api.errors}"
    )
    print(
        f"integrity: {len(answered)} answered 200 · lost {len(lost)} · duplicated {duplicated} · "
        f"pending events {pending}{' · e.g. ' + ', '.join(lost[:3]) if lost else ''}"
    )
    print(
        f"follow-ups: {graph.profiles} profile lookups · left undone {left[0]} profiles, {left[1]} notices "
        f"(after {drained_in:.0f} s of drain) · unexpected Graph calls {graph.other}"
    )
    print(f"logs:      {logged_errors} error lines (gunicorn and worker logs in {workdir})")
    if died:
        print(f"DIED:      {', '.join(died)} exited before the end of the run")
    for name in sorted(start_memory):
        before, after = start_memory[name], end_memory.get(name, 0.0)
        change = (after - before) / before * 100 if before else float("nan")
        print(f"memory:    {name:12} {before:6.1f} MB → {after:6.1f} MB ({change:+.1f} %)")

    intact = not lost and not duplicated and errors == 0 and left == (0, 0)
    targets = {
        "rate kept": served_rate >= TARGET_RATE_KEPT * args.rate,
        "visible p99": visible_p99 < TARGET_VISIBLE_P99_MS,
        "errors": errors == 0,
        "integrity": not lost and not duplicated,
        "memory growth": web_growth <= TARGET_RSS_GROWTH and worker_growth <= TARGET_RSS_GROWTH,
        "web worker size": web_max < TARGET_WEB_WORKER_MB,
    }
    missed = [name for name, met in targets.items() if not met]
    print(
        f"soak: {args.seconds:.0f} s at {args.rate:g} msg/s asked, {served_rate:.0f}/s served · webhook p50 "
        f"{percentile(latencies, 0.5):.0f} ms p99 {percentile(latencies, 0.99):.0f} ms · visible p99 "
        f"{visible_p99:.0f} ms · errors {errors} · lost {len(lost)} · duplicated {duplicated} · "
        f"RSS web ≤ {web_max:.0f} MB ({web_growth * 100:+.0f} %) worker {end_memory['worker']:.0f} MB "
        f"({worker_growth * 100:+.0f} %) · {'all targets met' if not missed else 'missed: ' + ', '.join(missed)}"
    )
    if intact:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if intact else 1


if __name__ == "__main__":
    sys.exit(main())
