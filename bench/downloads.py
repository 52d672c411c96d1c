"""Agents' replies while customers' attachments download slowly: a reply's time from queued to
the Send API call, with 200 slow downloads pending.

    .venv/bin/python bench/run.py downloads              # an empty, migrated database
    DATABASE_URL=postgres://… .venv/bin/python bench/downloads.py --replies 50

It uses DATABASE_URL as it is (bench/run.py has just created and migrated it) and creates its
own organization, channel, linked page, agent and customers' conversations through the
product's services and models. Outside services are its own: a redis-server on a free port
(REDIS_URL when redis-server is not installed) as broker, a Graph API stub over HTTP that
records when each Send API call arrives, and a slow stand-in for Facebook's CDN on 127.0.0.1
that drips each file over a minute. The downloader fetches from that loopback "CDN" only
because bench/settings.py names it in ATTACHMENT_FETCH_TEST_PREFIXES (a setting for tests and
benchmarks, never read from the environment by the product, ignored in production); the Graph
sandbox is off, so every other address goes through the product's rules.

The Celery workers are docker-compose.yml's, started with the commands written there (one per
queue). Then:

1. 200 customers' messages with one file each are queued for download, as the webhook does
   after commit (messenger.webhook.followups.attachments_enqueue);
2. once the CDN sees the downloads worker busy, --replies agents' replies are stored and
   queued through messenger.services.sending.replies.message_send, --interval seconds apart;
3. each reply's delay is the time from just before message_send to its Send API call.

It prints p50/p99/max of that delay and how many downloads were still pending when the last
reply went out. The last line starts with `downloads:`; the exit status is 1 only when the
target is missed (p99 < 2 s, every reply sent).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.soak import StubHandler, percentile, start_redis, stop, stub_serve, wait_for_log  # noqa: E402

DOWNLOADS = 200
TARGET_P99_MS = 2000.0
FILE_BYTES = 6000
DRIP_BYTES = 100  # a file takes FILE_BYTES / DRIP_BYTES × DRIP_SECONDS = 60 s
DRIP_SECONDS = 1.0
REPLY_GIVE_UP_SECONDS = 30.0


# --------------------------------------------------------------------------- outside services


@dataclass
class SlowCdn:
    """Files served a drip at a time; counts the downloads started, in progress and done."""

    started: int = 0
    active: int = 0
    finished: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: threading.Event = field(default_factory=threading.Event)

    def serve(self) -> str:
        cdn = self

        class Handler(StubHandler):
            def do_GET(self) -> None:
                with cdn.lock:
                    cdn.started += 1
                    cdn.active += 1
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(FILE_BYTES))
                    self.end_headers()
                    for _ in range(FILE_BYTES // DRIP_BYTES):
                        if cdn.closing.wait(DRIP_SECONDS):
                            return
                        self.wfile.write(b"\xff" * DRIP_BYTES)
                        self.wfile.flush()
                    with cdn.lock:
                        cdn.finished += 1
                except OSError:
                    pass
                finally:
                    with cdn.lock:
                        cdn.active -= 1

        self.server, url = stub_serve(Handler)
        return f"{url}/cdn/"

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


@dataclass
class SendApiStub:
    """The Send API: records when each message (by its metadata, our idempotency key) arrived."""

    arrived: dict[str, float] = field(default_factory=dict)
    other: int = 0

    def serve(self) -> str:
        stub = self

        class Handler(StubHandler):
            def do_POST(self) -> None:
                now = time.time()
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path.split("?", 1)[0].endswith("/messages") and body.get("metadata"):
                    stub.arrived[body["metadata"]] = now
                    self._answer(200, {"recipient_id": body["recipient"].get("id"), "message_id": f"m_{now}"})
                else:
                    stub.other += 1
                    self._answer(400, {"error": {"message": "not in the benchmark", "code": 100}})

            def do_GET(self) -> None:
                stub.other += 1
                self._answer(400, {"error": {"message": "not in the benchmark", "code": 100}})

        self.server, url = stub_serve(Handler)
        return url

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def compose_workers() -> dict[str, list[str]]:
    """docker-compose.yml's Celery workers, by service name, with the virtualenv's celery."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    workers = {}
    for name, service in services.items():
        command = service.get("command")
        if isinstance(command, list) and command[:4] == ["celery", "-A", "helpdesk", "worker"]:
            workers[name] = [str(ROOT / ".venv" / "bin" / "celery"), *command[1:]]
    return workers


# --------------------------------------------------------------------------- the database


@dataclass
class World:
    organization: Any
    agent: Any
    conversations: list[Any]
    download_message_ids: list[int]


def seed(tag: str, cdn: str, customers: int) -> World:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from channels.models import AgentChannel, Channel
    from helpdesk.models import Membership, Role
    from helpdesk.services import department_create, organization_create
    from messenger.crypto import encrypt_token
    from messenger.models import (
        Contact,
        Conversation,
        Direction,
        FacebookPage,
        Message,
        MessageKind,
        MessageSource,
        MessageStatus,
    )

    password = secrets.token_urlsafe(16)
    organization, admin = organization_create(
        name=f"Downloads {tag}", slug=f"downloads-{tag}", admin_username=f"dl-admin-{tag}", admin_password=password
    )
    department = department_create(organization=organization, acting_user=admin.user, name="Support")
    channel = Channel.objects.create(organization=organization, department=department, name="Messenger")
    page = FacebookPage.objects.create(
        organization=organization,
        channel=channel,
        page_id=f"92{int(tag):013d}"[:15],
        name="Downloads page",
        access_token_encrypted=encrypt_token(f"EAAsandbox{secrets.token_hex(16)}"),
    )
    # People join by invitation; the benchmark's agent is made as an accepted one would be.
    agent_user = get_user_model().objects.create_user(username=f"dl-agent-{tag}", password=password)
    agent = Membership.objects.create(organization=organization, user=agent_user, role=Role.AGENT)
    agent.departments.add(department)
    AgentChannel.objects.create(organization=organization, membership=agent, channel=channel)
    now = timezone.now()
    conversations, message_ids = [], []
    for n in range(customers):
        contact = Contact.objects.create(
            organization=organization, page=page, psid=f"7{n:09d}", display_name=f"Customer {n}", profile_fetched_at=now
        )
        conversation = Conversation.objects.create(
            organization=organization,
            channel=channel,
            department=department,
            page=page,
            contact=contact,
            last_inbound_at=now,
        )
        conversations.append(conversation)
    for n in range(DOWNLOADS):
        conversation = conversations[n % customers]
        message = Message.objects.create(
            organization=organization,
            conversation=conversation,
            page=page,
            mid=f"m_download_{tag}_{n}",
            direction=Direction.INBOUND,
            source=MessageSource.CUSTOMER,
            status=MessageStatus.RECEIVED,
            kind=MessageKind.ATTACHMENT,
            text="",
            attachments=[{"type": "image", "url": f"{cdn}{n}.jpg"}],
            sent_at=now,
        )
        message_ids.append(message.pk)
    return World(
        organization=organization, agent=agent.user, conversations=conversations, download_message_ids=message_ids
    )


# --------------------------------------------------------------------------- the run


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=60, help="agents' replies sent (default 60)")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between two replies (default 0.25)")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        sys.exit("downloads: DATABASE_URL must point to PostgreSQL (bench/run.py downloads sets it)")
    workdir = Path(tempfile.mkdtemp(prefix="downloads-"))
    redis, redis_url = start_redis(workdir)
    cdn = SlowCdn()
    cdn_url = cdn.serve()
    graph = SendApiStub()
    graph_url = graph.serve()
    env = dict(os.environ)
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "FB_GRAPH_URL": graph_url,
            "FB_GRAPH_TIMEOUT": "5",
            "GRAPH_SANDBOX": "0",
            "BENCH_ATTACHMENT_CDN": cdn_url,
            "DATA_DIR": str(workdir),
            "PYTHONPATH": str(ROOT),
        }
    )
    os.environ.update(env)
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"], env=env, check=True)
    import django

    django.setup()
    from django.db import connections

    from messenger.models import Message, MessageStatus
    from messenger.services.sending.replies import message_send
    from messenger.webhook.followups import attachments_enqueue

    world = seed(str(int(time.time())), cdn_url, customers=max(args.replies, 10))
    connections.close_all()

    workers: dict[str, subprocess.Popen[bytes]] = {}
    logs: dict[str, Path] = {}
    commands = compose_workers()
    try:
        for name, command in commands.items():
            logs[name] = workdir / f"{name}.log"
            with logs[name].open("wb") as out:
                workers[name] = subprocess.Popen(
                    command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
        for name, process in workers.items():
            wait_for_log(logs[name], "ready.", f"the Celery worker {name}", process)
        print(
            "downloads setup: workers as in docker-compose.yml: "
            + " · ".join(f"{name}: {' '.join(command[1:])}" for name, command in commands.items())
            + f" · Redis {redis_url} · slow CDN {cdn_url} ({FILE_BYTES} bytes in "
            f"{FILE_BYTES // DRIP_BYTES * DRIP_SECONDS:.0f} s each) · {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )

        queued = attachments_enqueue(message_ids=world.download_message_ids)
        began = time.time()
        while cdn.active == 0 and time.time() - began < 30:
            time.sleep(0.05)
        time.sleep(1.0)  # the downloads worker has taken all it can
        busy = cdn.active

        sent_at: dict[str, float] = {}
        for n in range(args.replies):
            conversation = world.conversations[n % len(world.conversations)]
            started = time.time()
            message = message_send(
                organization=world.organization,
                acting_user=world.agent,
                conversation=conversation,
                text=f"Reply {n}: we are looking into it.",
            )
            sent_at[str(message.idempotency_key)] = started
            time.sleep(max(0.0, args.interval - (time.time() - started)))
        last_queued = time.time()
        pending_downloads = DOWNLOADS - cdn.finished
        while len(graph.arrived) < len(sent_at) and time.time() - last_queued < REPLY_GIVE_UP_SECONDS:
            time.sleep(0.05)
        unsent = Message.objects.filter(
            organization=world.organization, status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]
        ).count()
        died = [name for name, process in workers.items() if process.poll() is not None]
    finally:
        for process in workers.values():
            stop(process)
        cdn.close()
        graph.close()
        stop(redis)

    delays = [(graph.arrived[key] - at) * 1000 for key, at in sent_at.items() if key in graph.arrived]
    missing = len(sent_at) - len(delays)
    p50, p99 = percentile(delays, 0.5), percentile(delays, 0.99)
    print()
    print(
        f"cdn:       {queued} downloads queued, {cdn.started} started at the CDN ({busy} at once), "
        f"{cdn.finished} finished, {pending_downloads} still pending when the last reply was queued"
    )
    print(
        f"replies:   {len(sent_at)} queued {args.interval:g} s apart · reached the Send API {len(delays)} · "
        f"p50 {p50:.0f} ms · p99 {p99:.0f} ms · max {max(delays, default=float('nan')):.0f} ms · "
        f"never sent {missing} (left queued or sending {unsent}) · unexpected Graph calls {graph.other}"
    )
    if died:
        print(f"DIED:      {', '.join(died)} exited before the end of the run")
    met = not missing and not died and p99 < TARGET_P99_MS and pending_downloads >= DOWNLOADS // 2
    print(
        f"downloads: reply queued → Send API p99 {p99:.0f} ms (p50 {p50:.0f} ms) over {len(delays)}/{len(sent_at)} "
        f"replies while {pending_downloads} of {DOWNLOADS} slow downloads were pending · target p99 < "
        f"{TARGET_P99_MS:.0f} ms {'met' if met else 'MISSED'}"
    )
    if met:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"logs in {workdir}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
