"""Routing benchmark: automatic assignment under load, and a backlog drained.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/routing.py

It creates (and afterwards drops) the database `<name>_bench`, migrates and seeds it, and
starts the product as it runs in production: gunicorn for the webhook and a Celery worker
for the `routing` queue (over Redis: REDIS_URL's server, database BENCH_REDIS_DB, default 15,
flushed before and after).

(a) Load: new customers write to 3 pages (3 channels assigning by round robin, 10 agents
    each, 2 of them offline, capacity 5) at 200 new conversations per second for 60 s,
    through the webhook. Each joins its channel's queue as it is stored and is handed out by
    the channel's drain; the first 120 fill the online agents, the rest wait in the queues.
    A monitor sees each one given to an agent, measured from the moment its POST was sent
    (the poll adds up to POLL_SECONDS), and samples every SAMPLE_SECONDS. Checked: assigned
    p99 < 1 s; nothing neither assigned nor queued; no conversation assigned twice; no agent
    ever over capacity; per channel, max − min of its online agents' loads ≤ 1 at every
    sample. Shown too: the longest a queue was seen waiting while an online agent of its
    channel had room (the drain's own lag, to sampling precision).
(b) Backlog: 10,000 queued conversations on a fourth channel; its 100 agents (capacity 100)
    come online (the availability service, as the status menu calls it); the queue must be
    empty within 10 s, nobody over capacity, nothing assigned twice.

The last line is the summary (`routing: …`); the exit status is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webhook import (  # noqa: E402
    _admin_execute,
    _free_port,
    _post,
    _start_gunicorn,
    bench_database_prepare,
    gunicorn_config,
    start_celery_worker,
)

TARGET_P99_S = 1.0
TARGET_SPREAD = 1
TARGET_DRAIN_S = 10.0

RATE = 200  # new conversations per second
CHANNELS = 3
AGENTS_PER_CHANNEL = 10
OFFLINE_PER_CHANNEL = 2
CAPACITY = 5
BACKLOG = 10_000
BACKLOG_AGENTS = 100
BACKLOG_CAPACITY = 100
LOAD_THREADS = 16
POLL_SECONDS = 0.02
SAMPLE_SECONDS = 0.2
LOOK_BACK_IDS = 2000
WORKER_CONCURRENCY = 2


@dataclass
class World:
    organization_id: int
    page_ids: list[str]
    channel_ids: list[int]
    online_user_ids: dict[int, list[int]]  # channel → its online agents' user ids
    backlog_channel_id: int
    backlog_membership_ids: list[int]


@dataclass
class LoadReport:
    sent: dict[str, float] = field(default_factory=dict)  # psid → when its POST was sent
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    post_latencies: list[float] = field(default_factory=list)
    unresolved: int = 0
    queued: int = 0  # in the queue at the end (nobody had room)
    max_load_seen: int = 0
    max_spread_seen: int = 0
    longest_wait_beside_room: float = 0.0


# --------------------------------------------------------------------------- setup


def _seed() -> World:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from availability.models import Availability, AvailabilitySettings, Status
    from channels.models import AgentChannel, AssignmentMode, Channel
    from helpdesk.models import Department, Membership, Role
    from helpdesk.services import organization_create
    from messenger.crypto import encrypt_token
    from messenger.models import FacebookPage

    organization, _admin = organization_create(
        name="Bench", slug="bench", admin_username="bench-admin", admin_password="bench-admin-password-0123"
    )
    AvailabilitySettings.objects.update_or_create(organization=organization, defaults={"default_capacity": CAPACITY})
    user_model = get_user_model()
    now = timezone.now()
    page_ids, channel_ids, online = [], [], {}

    def agents(channel: Channel, department: Department, count: int, *, prefix: str) -> list[Membership]:
        users = user_model.objects.bulk_create(
            user_model(username=f"{prefix}-{channel.pk}-{n}", first_name=f"Agent {n}") for n in range(count)
        )
        memberships = Membership.objects.bulk_create(
            Membership(organization=organization, user=user, role=Role.AGENT) for user in users
        )
        for membership in memberships:
            membership.departments.add(department)
        AgentChannel.objects.bulk_create(
            AgentChannel(organization=organization, membership=m, channel=channel) for m in memberships
        )
        return memberships

    token = encrypt_token("bench-page-token")
    for n in range(CHANNELS + 1):
        department = Department.objects.create(organization=organization, name=f"Support {n}")
        channel = Channel.objects.create(
            organization=organization,
            department=department,
            name=f"Messenger {n}",
            assignment_mode=AssignmentMode.ROUND_ROBIN,
        )
        page_id = f"90000000000010{n}"
        FacebookPage.objects.create(
            organization=organization, channel=channel, page_id=page_id, name=f"Page {n}", access_token_encrypted=token
        )
        if n == CHANNELS:
            backlog_channel = channel
            backlog_department = department
            continue
        page_ids.append(page_id)
        channel_ids.append(channel.pk)
        memberships = agents(channel, department, AGENTS_PER_CHANNEL, prefix="agent")
        Availability.objects.bulk_create(
            Availability(
                organization=organization,
                membership=m,
                status=Status.OFFLINE if i < OFFLINE_PER_CHANNEL else Status.ONLINE,
                status_since=now,
            )
            for i, m in enumerate(memberships)
        )
        online[channel.pk] = [m.user_id for m in memberships[OFFLINE_PER_CHANNEL:]]
    backlog_agents = agents(backlog_channel, backlog_department, BACKLOG_AGENTS, prefix="backlog")
    Availability.objects.bulk_create(
        Availability(
            organization=organization, membership=m, status=Status.OFFLINE, status_since=now, capacity=BACKLOG_CAPACITY
        )
        for m in backlog_agents
    )
    return World(organization.pk, page_ids, channel_ids, online, backlog_channel.pk, [m.pk for m in backlog_agents])


def _backlog_generate(world: World) -> None:
    """BACKLOG customers of the fourth page, each with an open conversation in the queue."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id, department_id FROM channels_channel WHERE id = %s", [world.backlog_channel_id])
        channel_id, department_id = cursor.fetchone()
        cursor.execute("SELECT id FROM messenger_facebookpage WHERE channel_id = %s", [channel_id])
        (page_pk,) = cursor.fetchone()
        cursor.execute(
            """
            INSERT INTO messenger_contact (organization_id, page_id, psid, is_guest, display_name, first_name,
                                           last_name, avatar_url, locale, profile_fetched_at, is_blocked,
                                           blocked_at, created_at)
            SELECT %(org)s, %(page)s, 'backlog-' || g, false, 'Customer ' || g, '', '', '', '', now(), false, NULL,
                   now()
            FROM generate_series(1, %(n)s) AS g
            """,
            {"org": world.organization_id, "page": page_pk, "n": BACKLOG},
        )
        cursor.execute(
            """
            INSERT INTO messenger_conversation (organization_id, channel_id, department_id, page_id, contact_id,
                                                state, assignee_id, last_inbound_at, last_message_at,
                                                last_message_preview, unread_count, waiting_since, queued_at,
                                                created_at, updated_at)
            SELECT %(org)s, %(channel)s, %(department)s, %(page)s, ct.id, 'open', NULL,
                   now() - (ct.id %% 3600) * interval '1 second', now() - (ct.id %% 3600) * interval '1 second',
                   'Where is my parcel?', 1, now() - (ct.id %% 3600) * interval '1 second',
                   now() - (ct.id %% 3600) * interval '1 second', now(), now()
            FROM messenger_contact ct WHERE ct.page_id = %(page)s
            """,
            {"org": world.organization_id, "channel": channel_id, "department": department_id, "page": page_pk},
        )
        cursor.execute("ANALYZE")


def _redis_url(base: str, db: int) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{db}"))


def _redis_flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def _start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return start_celery_worker(env, queue="routing", concurrency=WORKER_CONCURRENCY)


# --------------------------------------------------------------------------- (a) the load


def _new_customer_body(page_id: str, psid: str, seq: int) -> bytes:
    now_ms = int(time.time() * 1000)
    item = {
        "sender": {"id": psid},
        "recipient": {"id": page_id},
        "timestamp": now_ms,
        "message": {"mid": f"m_routing.{psid}", "text": f"Hello, this is customer {seq}: where is my parcel?"},
    }
    return json.dumps({"object": "page", "entry": [{"id": page_id, "time": now_ms, "messaging": [item]}]}).encode()


def _load(port: int, world: World, seconds: float, report: LoadReport) -> None:
    """RATE new customers per second, paced from a schedule (open loop), round the pages."""
    lock = threading.Lock()
    start = time.time() + 0.5
    total = int(RATE * seconds)

    def run(thread_no: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for seq in range(thread_no, total, LOAD_THREADS):
            scheduled = start + seq / RATE
            pause = scheduled - time.time()
            if pause > 0:
                time.sleep(pause)
            page_id = world.page_ids[seq % len(world.page_ids)]
            psid = f"7{seq:09d}"
            began = time.time()
            with lock:
                report.sent[psid] = began
            try:
                status = _post(conn, "/webhooks/messenger/", _new_customer_body(page_id, psid, seq))
                with lock:
                    report.post_latencies.append(time.time() - began)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            if status != 200:
                with lock:
                    report.errors += 1
        conn.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _warm_up(port: int, world: World) -> None:
    """One customer per page first (the processes' first requests and tasks are slow), then
    their conversations closed: the agents start empty."""
    from django.db import connection

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for n, page_id in enumerate(world.page_ids):
        _post(conn, "/webhooks/messenger/", _new_customer_body(page_id, f"warm-up-{n}", n))
    conn.close()
    time.sleep(3)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE messenger_conversation SET state = 'closed' WHERE contact_id IN "
            "(SELECT id FROM messenger_contact WHERE psid LIKE 'warm-up-%%')"
        )
    connection.close()


def _monitor(world: World, report: LoadReport, stop: threading.Event) -> None:
    """Sees each new conversation given to an agent (the time from its POST) and samples, every
    SAMPLE_SECONDS, each channel's online agents: the highest load, the spread of their loads,
    and whether the queue waits while one of them has room."""
    from django.db import connection

    max_seen_id = 0
    pending: dict[int, str] = {}  # conversation id → psid, not assigned yet
    seen_ids: set[int] = set()
    last_event_id = 0
    next_sample = 0.0
    room_since: dict[int, float] = {}  # channel → since when its queue waits beside an agent with room
    with connection.cursor() as cursor:
        while True:
            stopping = stop.is_set()
            now = time.time()
            # Webhooks commit out of id order: look back a little, skip what was seen.
            cursor.execute(
                "SELECT c.id, ct.psid FROM messenger_conversation c JOIN messenger_contact ct ON ct.id = c.contact_id "
                "WHERE c.id > %s AND c.channel_id = ANY(%s) AND ct.psid LIKE '7%%'",
                [max_seen_id - LOOK_BACK_IDS, world.channel_ids],
            )
            for conversation_id, psid in cursor.fetchall():
                if conversation_id not in seen_ids:
                    seen_ids.add(conversation_id)
                    pending[conversation_id] = psid
                    max_seen_id = max(max_seen_id, conversation_id)
            if pending:
                # The system lines of assignments since the last look (they too commit out of order).
                cursor.execute(
                    "SELECT id, conversation_id FROM messenger_conversationevent WHERE id > %s "
                    "AND organization_id = %s AND kind = 'assigned'",
                    [last_event_id - LOOK_BACK_IDS, world.organization_id],
                )
                seen = time.time()
                for event_id, conversation_id in cursor.fetchall():
                    last_event_id = max(last_event_id, event_id)
                    if conversation_id in pending:
                        report.latencies.append(seen - report.sent[pending.pop(conversation_id)])
            if now >= next_sample:
                next_sample = now + SAMPLE_SECONDS
                for channel_id in world.channel_ids:
                    loads = _online_loads(cursor, world, channel_id)
                    report.max_load_seen = max(report.max_load_seen, max(loads))
                    report.max_spread_seen = max(report.max_spread_seen, max(loads) - min(loads))
                    cursor.execute(
                        "SELECT EXISTS (SELECT 1 FROM messenger_conversation WHERE channel_id = %s "
                        "AND queued_at IS NOT NULL AND assignee_id IS NULL)",
                        [channel_id],
                    )
                    sampled = time.time()
                    if cursor.fetchone()[0] and min(loads) < CAPACITY:
                        since = room_since.setdefault(channel_id, sampled)
                        report.longest_wait_beside_room = max(report.longest_wait_beside_room, sampled - since)
                    else:
                        room_since.pop(channel_id, None)
            if stopping:
                break
            time.sleep(POLL_SECONDS)
        if pending:
            cursor.execute(
                "SELECT count(*) FROM messenger_conversation WHERE id = ANY(%s) AND queued_at IS NULL",
                [list(pending)],
            )
            report.unresolved = int(cursor.fetchone()[0])  # neither assigned nor in the queue
            report.queued = len(pending) - report.unresolved


def _online_loads(cursor: Any, world: World, channel_id: int) -> list[int]:
    """The open conversations each online agent of the channel holds."""
    cursor.execute(
        "SELECT assignee_id, count(*) FROM messenger_conversation WHERE channel_id = %s AND state = 'open' "
        "AND assignee_id IS NOT NULL GROUP BY assignee_id",
        [channel_id],
    )
    held = dict(cursor.fetchall())
    return [held.get(user_id, 0) for user_id in world.online_user_ids[channel_id]]


def _max_load(cursor: Any, organization_id: int) -> int:
    cursor.execute(
        "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM messenger_conversation "
        "WHERE organization_id = %s AND state = 'open' AND assignee_id IS NOT NULL GROUP BY assignee_id) loads",
        [organization_id],
    )
    return int(cursor.fetchone()[0])


def _assigned_twice(cursor: Any, organization_id: int) -> int:
    """Conversations with more than one assignment (nothing unassigns them in this run)."""
    cursor.execute(
        "SELECT count(*) FROM (SELECT conversation_id FROM messenger_conversationevent "
        "WHERE organization_id = %s AND kind = 'assigned' GROUP BY conversation_id HAVING count(*) > 1) twice",
        [organization_id],
    )
    return int(cursor.fetchone()[0])


# --------------------------------------------------------------------------- (b) the backlog


def _drain(world: World, timeout: float) -> tuple[float, int]:
    """The backlog's agents come online; returns (seconds until the queue is empty, left)."""
    from django.db import connection

    from availability.models import ChangeReason, Status
    from availability.services import availability_set
    from helpdesk.models import Membership

    memberships = list(Membership.objects.filter(pk__in=world.backlog_membership_ids).select_related("organization"))
    started = time.perf_counter()
    for membership in memberships:
        availability_set(membership=membership, status=Status.ONLINE, reason=ChangeReason.CHOSEN)
    left = BACKLOG
    with connection.cursor() as cursor:
        while time.perf_counter() - started < timeout:
            cursor.execute(
                "SELECT count(*) FROM messenger_conversation WHERE channel_id = %s AND assignee_id IS NULL",
                [world.backlog_channel_id],
            )
            left = int(cursor.fetchone()[0])
            if left == 0:
                break
            time.sleep(0.05)
    return time.perf_counter() - started, left


# --------------------------------------------------------------------------- the run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the bench database afterwards")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("routing bench: set REDIS_URL (the worker takes its tasks from Redis)")
    broker = _redis_url(os.environ["REDIS_URL"], int(os.environ.get("BENCH_REDIS_DB", "15")))
    os.environ["CELERY_BROKER_URL"] = broker
    bench_name, admin_url, env = bench_database_prepare("routing bench")
    env["CELERY_BROKER_URL"] = broker
    _redis_flush(broker)
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True
    )
    import django

    django.setup()
    from django.db import connection

    world = _seed()
    _backlog_generate(world)
    connection.close()

    port = _free_port()
    config = gunicorn_config(2, 4)
    server = _start_gunicorn(port, env, config)
    worker = _start_worker(env)
    time.sleep(3)  # the worker connects to the broker
    print(
        f"routing bench: gunicorn {' '.join(config)} · a Celery worker on `routing` ({WORKER_CONCURRENCY} processes) · "
        f"PostgreSQL {bench_name} · {RATE} new conversations/s for {args.seconds:.0f} s over {CHANNELS} channels · "
        f"{CHANNELS * AGENTS_PER_CHANNEL} agents ({CHANNELS * OFFLINE_PER_CHANNEL} offline), capacity {CAPACITY} · "
        f"backlog {BACKLOG} to {BACKLOG_AGENTS} agents × {BACKLOG_CAPACITY}"
    )
    _warm_up(port, world)
    report = LoadReport()
    stop = threading.Event()
    monitor = threading.Thread(target=_monitor, args=(world, report, stop))
    try:
        monitor.start()
        _load(port, world, args.seconds, report)
        deadline = time.time() + 5
        while time.time() < deadline and len(report.latencies) < len(report.sent) - report.errors:
            time.sleep(0.1)
        stop.set()
        monitor.join()
        with connection.cursor() as cursor:
            twice_a = _assigned_twice(cursor, world.organization_id)
            spreads = [
                max(loads) - min(loads) for loads in (_online_loads(cursor, world, c) for c in world.channel_ids)
            ]
            load_end = _max_load(cursor, world.organization_id)
        connection.close()
        drain_seconds, left = _drain(world, timeout=60.0)
        with connection.cursor() as cursor:
            twice_b = _assigned_twice(cursor, world.organization_id)
            cursor.execute(
                "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM messenger_conversation "
                "WHERE channel_id = %s AND state = 'open' AND assignee_id IS NOT NULL GROUP BY assignee_id) loads",
                [world.backlog_channel_id],
            )
            backlog_max = int(cursor.fetchone()[0])
    finally:
        for process in (worker, server):
            os.killpg(process.pid, signal.SIGTERM)
        for process in (worker, server):
            process.wait(timeout=60)
        connection.close()
        _redis_flush(broker)
        if not args.keep_database:
            _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{bench_name}" WITH (FORCE)')

    latencies = sorted(report.latencies)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    over_capacity = max(report.max_load_seen, load_end) > CAPACITY or backlog_max > BACKLOG_CAPACITY
    ok = (
        p99 < TARGET_P99_S
        and report.unresolved == 0
        and report.errors == 0
        and twice_a == 0
        and twice_b == 0
        and not over_capacity
        and max(report.max_spread_seen, *spreads) <= TARGET_SPREAD
        and left == 0
        and drain_seconds < TARGET_DRAIN_S
    )
    print(
        f"load: {len(report.sent)} conversations, {report.errors} POST errors "
        f"(POST p50 {statistics.median(report.post_latencies) * 1000:.0f} ms, "
        f"p99 {sorted(report.post_latencies)[int(len(report.post_latencies) * 0.99)] * 1000:.0f} ms), "
        f"{report.unresolved} lost, "
        f"{report.queued} queued (every agent full) · "
        f"assigned p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms after the POST "
        f"(target < {TARGET_P99_S * 1000:.0f}) · "
        f"assigned twice {twice_a} · highest load seen {report.max_load_seen} (capacity {CAPACITY}) · "
        f"spread seen {report.max_spread_seen}, at the end {spreads} (target ≤ {TARGET_SPREAD}) · "
        f"longest a queue waited beside an agent with room {report.longest_wait_beside_room:.1f} s "
        f"(sampled every {SAMPLE_SECONDS} s; shown, not a target)"
    )
    print(
        f"backlog: {BACKLOG - left} of {BACKLOG} drained in {drain_seconds:.1f} s (target < {TARGET_DRAIN_S:.0f}) · "
        f"assigned twice {twice_b} · highest load {backlog_max} (capacity {BACKLOG_CAPACITY})"
    )
    print(
        f"routing: assigned p99 {p99 * 1000:.0f} ms · double assignments {twice_a + twice_b} · "
        f"over capacity {'yes' if over_capacity else 'no'} · spread {max(report.max_spread_seen, *spreads)} · "
        f"backlog {BACKLOG} drained in {drain_seconds:.1f} s · {'OK' if ok else 'FAILED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
