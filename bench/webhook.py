"""Webhook benchmark: the product's receiver against a minimal baseline, side by side.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk .venv/bin/python bench/webhook.py

It creates (and afterwards drops) the database `<name>_bench` on the same server,
migrates it, seeds one organization with two linked pages and a pool of known customers,
starts gunicorn (fixed configuration, printed; --workers/--threads to vary it) with
`bench.settings`, and drives it with a built-in load generator (processes × threads,
http.client keep-alive connections; nothing to install):

- (a) /bench/baseline/: verify the HMAC, insert one row per event (bench/baseline);
- (b) /webhooks/messenger/: the product, everything included: as docker-compose.yml runs it,
  each POST is kept and answered, and a Celery worker of the `webhook` queue (started here,
  running all along, on the same two cores) applies the POSTs waiting, joined into batches
  (settings.WEBHOOK_APPLY_LATER; `--apply-now` measures applying each POST before its answer).

For 1-event and 20-entry POSTs it measures the maximum rate (closed loop) in alternating
baseline/product rounds, so that a neighbour's load hits both alike, and keeps the medians;
then latency at half that rate (open loop, measured from each request's scheduled time).
Afterwards it replays a sample of what it sent, concurrently and twice, and checks that
every message answered 200 is stored exactly once, with one `stored` entry in the event
log. Before that check it waits for the worker to apply every POST kept, and prints how long
after the last request that took and the worker's CPU. The last line is the summary.
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
import signal
import socket
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

from bench import proc  # noqa: E402

# What the webhook must reach, measured in the same run as the baseline.
TARGET_RATIO_1 = 0.75  # 1-event POSTs: product req/s ÷ baseline req/s
TARGET_RATIO_20 = 0.5  # 20-entry POSTs
TARGET_EVENTS_PER_S = 5000  # 20-entry POSTs, the product
TARGET_P99_MS = 50  # at half the product's maximum rate

GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4
WORKER_CONCURRENCY = 2  # docker-compose.yml's worker-webhook (one applies, one waits its turn)


def gunicorn_config(workers: int, threads: int) -> list[str]:
    """gthread workers: keep-alive connections, and a thread waits on PostgreSQL while another runs."""
    return [
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
        "--backlog",
        "512",
        "--log-level",
        "warning",
    ]


LOAD_PROCESSES = 2
LOAD_THREADS = 6  # per process: 12 keep-alive connections
PAGE_IDS = ("900000000000001", "900000000000002")
CUSTOMERS_PER_PAGE = 500
APP_SECRET = "bench-app-secret"
BASELINE_PATH = "/bench/baseline/"
PRODUCT_PATH = "/webhooks/messenger/"


# --------------------------------------------------------------------------- load generator


@dataclass
class Shot:
    """What one load process saw."""

    ok: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (page id, psid, mid) answered 200


def _body(tag: str, seq: int, entries: int, rng: random.Random) -> tuple[bytes, list[tuple[str, str, str]]]:
    now_ms = int(time.time() * 1000)
    sent = []
    entry = []
    for n in range(entries):
        page_id = PAGE_IDS[rng.randrange(len(PAGE_IDS))]
        psid = f"5{rng.randrange(CUSTOMERS_PER_PAGE):09d}"
        mid = f"m_bench.{tag}.{seq}.{n}"
        sent.append((page_id, psid, mid))
        entry.append(
            {
                "id": page_id,
                "time": now_ms,
                "messaging": [
                    {
                        "sender": {"id": psid},
                        "recipient": {"id": page_id},
                        "timestamp": now_ms - rng.randrange(1000),
                        "message": {"mid": mid, "text": f"Benchmark message {seq}.{n}: where is my parcel?"},
                    }
                ],
            }
        )
    return json.dumps({"object": "page", "entry": entry}).encode(), sent


def _replay_body(items: list[tuple[str, str, str]]) -> bytes:
    now_ms = int(time.time() * 1000)
    return json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": page_id,
                    "time": now_ms,
                    "messaging": [
                        {
                            "sender": {"id": psid},
                            "recipient": {"id": page_id},
                            "timestamp": now_ms,
                            "message": {"mid": mid, "text": "replayed"},
                        }
                    ],
                }
                for page_id, psid, mid in items
            ],
        }
    ).encode()


def _post(conn: http.client.HTTPConnection, path: str, body: bytes) -> int:
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    conn.request(
        "POST",
        path,
        body=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )
    response = conn.getresponse()
    response.read()
    return response.status


def _load_process(port: int, path: str, entries: int, duration: float, rate: float | None, tag: str, out: Any) -> None:
    """Threads, each with one keep-alive connection; closed loop, or paced at `rate` req/s in all."""
    shot = Shot()
    lock = threading.Lock()
    start = time.perf_counter() + 0.2
    deadline = start + duration

    def run(thread_no: int) -> None:
        rng = random.Random(f"{tag}-{thread_no}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        interval = (LOAD_PROCESSES * LOAD_THREADS) / rate if rate else 0.0
        scheduled = start + rng.random() * interval
        seq = 0
        local = Shot()
        while True:
            if rate:
                if scheduled >= deadline:
                    break
                pause = scheduled - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                began = scheduled
                scheduled += interval
            else:
                began = time.perf_counter()
                if began >= deadline:
                    break
                if began < start:
                    time.sleep(start - began)
                    began = time.perf_counter()
            body, sent = _body(f"{tag}.{thread_no}", seq, entries, rng)
            seq += 1
            try:
                status = _post(conn, path, body)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                local.errors += 1
                continue
            local.latencies_ms.append((time.perf_counter() - began) * 1000)
            if status == 200:
                local.ok += 1
                local.sent.extend(sent)
            else:
                local.errors += 1
        conn.close()
        with lock:
            shot.ok += local.ok
            shot.errors += local.errors
            shot.latencies_ms.extend(local.latencies_ms)
            shot.sent.extend(local.sent)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((shot.ok, shot.errors, shot.latencies_ms, shot.sent))


@dataclass
class Result:
    requests_per_s: float
    events_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    sent: list[tuple[str, str, str]]


def _median(results: list[Result]) -> Result:
    """The round with the median rate; every round's sent messages are kept for the final check."""
    chosen = sorted(results, key=lambda r: r.requests_per_s)[len(results) // 2]
    sent = [item for r in results for item in r.sent]
    errors = sum(r.errors for r in results)
    return Result(chosen.requests_per_s, chosen.events_per_s, chosen.p50_ms, chosen.p99_ms, errors, sent)


def measure(port: int, path: str, entries: int, duration: float, rate: float | None, tag: str) -> Result:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    per_process_rate = rate / LOAD_PROCESSES if rate else None
    processes = [
        context.Process(
            target=_load_process, args=(port, path, entries, duration, per_process_rate, f"{tag}.{n}", queue)
        )
        for n in range(LOAD_PROCESSES)
    ]
    for process in processes:
        process.start()
    shots = [queue.get() for _ in processes]
    for process in processes:
        process.join()
    ok = sum(s[0] for s in shots)
    errors = sum(s[1] for s in shots)
    latencies = sorted(lat for s in shots for lat in s[2])
    sent = [item for s in shots for item in s[3]]
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    return Result(ok / duration, ok * entries / duration, p50, p99, errors, sent)


# --------------------------------------------------------------------------- setup


def bench_database_prepare(label: str) -> tuple[str, str, dict[str, str]]:
    """Create `<name of DATABASE_URL's database>_bench` afresh; set this process's environment
    for it (bench.settings, the app secret of the load generator). Returns the database's
    name, the URL of the server's maintenance database (to drop it), and the environment."""
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        sys.exit(f"{label}: set DATABASE_URL to a PostgreSQL server (a `<name>_bench` database is created)")
    bench_url, bench_name, admin_url = _bench_database_url(database_url)
    _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{bench_name}"')
    _admin_execute(admin_url, f'CREATE DATABASE "{bench_name}"')
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": bench_url,
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "FB_APP_SECRET": APP_SECRET,
            "GRAPH_SANDBOX": "0",
            "DATA_DIR": str(ROOT / "data" / "bench"),
            "PYTHONPATH": str(ROOT),
        }
    )
    # Follow-ups only go out for new customers (none here); with no Redis, an in-memory broker.
    env.setdefault("CELERY_BROKER_URL", env.get("REDIS_URL") or "memory://")
    os.environ.update(env)
    return bench_name, admin_url, env


def _bench_database_url(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        sys.exit("webhook bench: DATABASE_URL must point to PostgreSQL")
    name = parts.path.lstrip("/") or "postgres"
    bench_name = f"{name}_bench"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    return urlunsplit(parts._replace(path=f"/{bench_name}")), bench_name, admin_url


def _admin_execute(admin_url: str, statement: str) -> None:
    import psycopg2

    parts = urlsplit(admin_url)
    connection = psycopg2.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username, password=parts.password, dbname="postgres"
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(statement)
    connection.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed() -> None:
    """One organization, two pages on one channel, and their known customers' conversations."""
    from django.db import connection

    from bench.baseline import CREATE_TABLE
    from channels.models import Channel
    from helpdesk.services import organization_create
    from messenger.crypto import encrypt_token
    from messenger.models import Contact, Conversation, FacebookPage

    organization, _admin = organization_create(
        name="Bench", slug="bench", admin_username="bench-admin", admin_password="bench-admin-password-0123"
    )
    department = organization.departments.create(name="Support")
    channel = Channel.objects.create(organization=organization, department=department, name="Messenger")
    for page_id in PAGE_IDS:
        page = FacebookPage.objects.create(
            organization=organization,
            channel=channel,
            page_id=page_id,
            name=f"Bench page {page_id[-1]}",
            access_token_encrypted=encrypt_token("bench-page-token"),
        )
        contacts = Contact.objects.bulk_create(
            Contact(
                organization=organization,
                page=page,
                psid=f"5{n:09d}",
                display_name=f"Customer {n}",
                profile_fetched_at=page.created_at,
            )
            for n in range(CUSTOMERS_PER_PAGE)
        )
        Conversation.objects.bulk_create(
            Conversation(organization=organization, channel=channel, department=department, page=page, contact=c)
            for c in contacts
        )
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLE)
        # Statistics, as a live database has them: the webhook's statements are planned once
        # per connection, from what the planner knows then.
        cursor.execute("ANALYZE")


def _start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """docker-compose.yml's worker-webhook: the applier of the POSTs kept."""
    return start_celery_worker(env, queue="webhook", concurrency=WORKER_CONCURRENCY, pool="prefork")


def start_celery_worker(
    env: dict[str, str], *, queue: str, concurrency: int, pool: str | None = None
) -> subprocess.Popen[bytes]:
    """A Celery worker of one queue, in a session of its own (stopped with os.killpg)."""
    command = [
        str(ROOT / ".venv" / "bin" / "celery"),
        "-A",
        "helpdesk",
        "worker",
        f"--queues={queue}",
        *([f"--pool={pool}"] if pool else []),
        f"--concurrency={concurrency}",
        "--loglevel=WARNING",
        "--without-gossip",
        "--without-mingle",
        f"--hostname={queue}-bench@%h",
    ]
    return subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)


def _worker_cpu(worker: subprocess.Popen[bytes] | None) -> float:
    if worker is None:
        return 0.0
    return proc.cpu_seconds(worker.pid) + sum(proc.cpu_seconds(pid) for pid in proc.children(worker.pid))


def _wait_applied(timeout: float = 300.0) -> tuple[int, float]:
    """How many POSTs were still kept when the load stopped, and how long they took to apply."""
    from django.db import connection

    started = time.monotonic()
    first = None
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM messenger_receivedpost")
            waiting = cursor.fetchone()[0]
        if first is None:
            first = waiting
        if not waiting or time.monotonic() - started > timeout:
            break
        time.sleep(0.05)
    connection.close()
    return first, time.monotonic() - started


def _start_gunicorn(
    port: int, env: dict[str, str], config: list[str], application: str = "helpdesk.wsgi:application"
) -> subprocess.Popen[bytes]:
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        application,
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(ROOT),
        *config,
    ]
    server = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    for _ in range(100):
        time.sleep(0.1)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            continue
    server.terminate()
    sys.exit("webhook bench: gunicorn did not start")


# --------------------------------------------------------------------------- the run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating baseline/product rounds per size")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the bench database afterwards")
    parser.add_argument("--workers", type=int, default=GUNICORN_WORKERS, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=GUNICORN_THREADS, help="threads per gunicorn worker")
    parser.add_argument(
        "--apply-now", action="store_true", help="apply each POST before its answer (WEBHOOK_APPLY_LATER off)"
    )
    args = parser.parse_args()

    bench_name, admin_url, env = bench_database_prepare("webhook bench")
    env["WEBHOOK_APPLY_LATER"] = "0" if args.apply_now else "1"
    os.environ["WEBHOOK_APPLY_LATER"] = env["WEBHOOK_APPLY_LATER"]
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True
    )
    import django

    django.setup()
    from django.db import connection

    _seed()
    connection.close()

    port = _free_port()
    config = gunicorn_config(args.workers, args.threads)
    server = _start_gunicorn(port, env, config)
    worker = None if args.apply_now else _start_worker(env)
    print(
        f"webhook bench: gunicorn {' '.join(config)} · "
        + ("each POST applied before its answer · " if args.apply_now else "")
        + (f"POSTs kept, applied by a celery worker (-Q webhook, {WORKER_CONCURRENCY} processes) · " if worker else "")
        + f"PostgreSQL {bench_name} · "
        f"load {LOAD_PROCESSES} processes × {LOAD_THREADS} keep-alive connections · "
        f"{args.rounds} alternating rounds of {args.seconds:.0f} s (medians) · "
        f"{len(PAGE_IDS)} pages × {CUSTOMERS_PER_PAGE} known customers"
    )
    results: dict[tuple[str, int], Result] = {}
    paced: dict[tuple[str, int], Result] = {}
    ratios: dict[int, float] = {}
    applied = (0, 0.0)
    worker_cpu = 0.0
    try:
        warmup = measure(port, PRODUCT_PATH, 1, 2.0, None, "warmup-product")
        measure(port, BASELINE_PATH, 1, 2.0, None, "warmup-baseline")
        for entries in (1, 20):
            # Alternating short rounds: a neighbour's load hits both sides alike; medians are kept.
            rounds: dict[str, list[Result]] = {"baseline": [], "product": []}
            for n in range(args.rounds):
                for name, path in (("baseline", BASELINE_PATH), ("product", PRODUCT_PATH)):
                    rounds[name].append(measure(port, path, entries, args.seconds, None, f"{name}-{entries}-max-{n}"))
            ratios[entries] = statistics.median(
                p.requests_per_s / b.requests_per_s for b, p in zip(rounds["baseline"], rounds["product"], strict=True)
            )
            for name, path in (("baseline", BASELINE_PATH), ("product", PRODUCT_PATH)):
                results[(name, entries)] = _median(rounds[name])
                half = results[(name, entries)].requests_per_s / 2
                paced[(name, entries)] = measure(port, path, entries, args.seconds, half, f"{name}-{entries}-half")
        replay_ok = _replay(port, results, paced)
        if worker is not None:
            applied = _wait_applied()
            worker_cpu = _worker_cpu(worker)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)

    print()
    print(f"{'':22}{'req/s':>9}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}   at half rate: p50 / p99 ms")
    for entries in (1, 20):
        for name in ("baseline", "product"):
            full, half = results[(name, entries)], paced[(name, entries)]
            label = f"{name} {entries}-event" if entries == 1 else f"{name} {entries}-entry"
            print(
                f"{label:22}{full.requests_per_s:9.0f}{full.events_per_s:10.0f}{full.p50_ms:9.1f}{full.p99_ms:9.1f}"
                f"{full.errors + half.errors:8d}   {half.p50_ms:.1f} / {half.p99_ms:.1f}"
            )
    ratio_1, ratio_20 = ratios[1], ratios[20]
    p99_half = max(paced[("product", 1)].p99_ms, paced[("product", 20)].p99_ms)
    exactly_once = _verify(
        [warmup] + [results[("product", n)] for n in (1, 20)] + [paced[("product", n)] for n in (1, 20)]
    )
    print()
    print(
        f"ratio product/baseline (median of the rounds): 1-event {ratio_1:.2f} (target ≥ {TARGET_RATIO_1}) · "
        f"20-entry {ratio_20:.2f} (target ≥ {TARGET_RATIO_20})"
    )
    print(
        f"product batched: {results[('product', 20)].events_per_s:.0f} events/s (target > {TARGET_EVENTS_PER_S}) · "
        f"p99 at half rate {p99_half:.1f} ms (target < {TARGET_P99_MS})"
    )
    if worker is not None:
        print(
            f"applier: {applied[0]} POST(s) still kept when the load stopped, all applied {applied[1]:.1f} s later · "
            f"worker CPU {worker_cpu:.1f} s in all"
        )
    print(f"exactly once: {exactly_once} · replayed duplicates accepted: {replay_ok}")
    if not args.keep_database:
        _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{bench_name}"')
    met = (
        ratio_1 >= TARGET_RATIO_1
        and ratio_20 >= TARGET_RATIO_20
        and results[("product", 20)].events_per_s > TARGET_EVENTS_PER_S
        and p99_half < TARGET_P99_MS
        and exactly_once
        and replay_ok
    )
    print(
        f"webhook: {'PASS' if met else 'FAIL'} ratio {ratio_1:.2f} · "
        f"1-event {results[('product', 1)].requests_per_s:.0f} req/s · "
        f"batched {results[('product', 20)].events_per_s:.0f} events/s (ratio {ratio_20:.2f}) · "
        f"p99 {p99_half:.0f} ms at half rate · exactly once {'yes' if exactly_once and replay_ok else 'NO'}"
        + (" · applied now" if args.apply_now else f" · applied {applied[1]:.1f} s after the load")
    )
    return 0 if met else 1


def _replay(port: int, results: dict[tuple[str, int], Result], paced: dict[tuple[str, int], Result]) -> bool:
    """Facebook retries: send a sample of what was stored again, twice, from several threads at once."""
    sent = [item for key in (("product", 1), ("product", 20)) for item in results[key].sent + paced[key].sent]
    sample = random.Random(7).sample(sent, min(400, len(sent)))
    bodies = [_replay_body(sample[i : i + 20]) for i in range(0, len(sample), 20)] * 2
    statuses: list[int] = []
    lock = threading.Lock()

    def run(chunk: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for body in chunk:
            status = _post(conn, PRODUCT_PATH, body)
            with lock:
                statuses.append(status)
        conn.close()

    threads = [threading.Thread(target=run, args=(bodies[n::8],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return all(status == 200 for status in statuses)


def _verify(product_results: list[Result]) -> bool:
    """Every message answered 200 is stored, once; each has exactly one `stored` log entry."""
    from django.db import connection

    sent = {(page_id, mid) for result in product_results for page_id, _psid, mid in result.sent}
    errors = sum(result.errors for result in product_results)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.page_id, m.mid FROM messenger_message m JOIN messenger_facebookpage p ON p.id = m.page_id "
            "WHERE m.mid LIKE 'm_bench.%%'"
        )
        stored = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM messenger_webhookevent WHERE mid LIKE 'm_bench.%%' AND outcome = 'stored'")
        stored_events = cursor.fetchone()[0]
    connection.close()
    stored_set = set(stored)
    once = len(stored) == len(stored_set) == stored_events
    # A request that timed out on our side may still have been stored: then stored ⊇ answered.
    complete = sent == stored_set if not errors else sent <= stored_set
    print(
        f"check: {len(sent)} messages answered 200, {len(stored)} stored ({len(stored_set)} distinct), "
        f"{stored_events} logged as stored"
    )
    return once and complete


if __name__ == "__main__":
    sys.exit(main())
