"""Bench of outgoing webhooks: events written at a steady rate (default 1,000 a second for
60 s) for three endpoints on local receivers, two healthy and one dead (it accepts the
connection and never answers: every try costs the full timeout) or refusing connections.
Celery workers of the `outgoing` queue deliver, as in production.

Targets: the delivery p99 to the healthy endpoints under 2 s (from the event's time to its
arrival); the dead one does not slow them; nothing lost (every event reaches both healthy
endpoints); nothing delivered twice under another id (a retry keeps the id, and a duplicate
has the same body); per conversation, the healthy endpoints receive events in their order.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hd_outgoing .venv/bin/python bench/outgoing.py

It works in a throwaway database (`<name>_bench`, created empty and dropped afterwards).

The receivers run in processes of their own (a customer's server is elsewhere). One worker
delivers, as docker-compose.yml runs it (a prefork pool of 8 processes; BENCH_OUTGOING_POOL
and BENCH_OUTGOING_WORKER_CONCURRENCY change that), or BENCH_OUTGOING_WORKERS of them (as
`docker compose up --scale worker-outgoing=N` would run them). The figures leave out a
5-second warm-up at the same rate, delivered before they start (the worker's processes
connect and import; a production worker has been up for long).

Smaller runs on a busy machine: BENCH_OUTGOING_EVENTS=2000 BENCH_OUTGOING_RATE=200.
BENCH_OUTGOING_DEAD=refused makes the third endpoint refuse connections instead. Prints one
line starting with `outgoing:`; exits 1 when a target is missed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVENTS = int(os.environ.get("BENCH_OUTGOING_EVENTS", "60000"))
RATE = float(os.environ.get("BENCH_OUTGOING_RATE", "1000"))
DEAD_MODE = os.environ.get("BENCH_OUTGOING_DEAD", "slow")
WORKER_POOL = os.environ.get("BENCH_OUTGOING_POOL", "prefork")  # as docker-compose.yml runs it
WORKER_THREADS = int(os.environ.get("BENCH_OUTGOING_WORKER_CONCURRENCY", "8"))
WORKER_PROCESSES = int(os.environ.get("BENCH_OUTGOING_WORKERS", "1"))
CONVERSATIONS = 500
TICK_SECONDS = 0.05  # the events of a tick are written in one transaction (a webhook POST's worth)
P99_BUDGET_SECONDS = 2.0
DRAIN_TIMEOUT_SECONDS = 60.0
WARMUP_SECONDS = 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """A healthy endpoint: answers 200 at once and records (event id, arrival time, body).

    It runs in a process of its own (`bench/outgoing_receiver.py`), as a customer's server runs
    elsewhere: served from the bench's process, under its lock, its Python would compete with
    the writer of events and with nothing a real receiver shares with the product."""

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.port = _free_port()
        self.record = directory / f"arrivals-{name}.jsonl"
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "outgoing_receiver.py"), str(self.port), str(self.record)], cwd=ROOT
        )
        deadline = time.monotonic() + 10.0
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1.0).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{self.name}"

    def arrivals(self) -> list[tuple[str, float, bytes]]:
        """Stops the receiver and reads what it received."""
        self.process.terminate()
        self.process.wait(timeout=30)
        with self.record.open(encoding="utf-8") as lines:
            return [(event_id, arrived, body.encode()) for event_id, arrived, body in map(json.loads, lines)]


class DeadReceiver:
    """Listens and never accepts (`slow`: each try waits for the whole timeout), or nothing
    listens at all (`refused`)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.sock: socket.socket | None = None
        if DEAD_MODE == "slow":
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", self.port))
            self.sock.listen(1024)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook/dead"


def _cpu_seconds(pid: int) -> float:
    """The user and system CPU so far of a process and of its children (a prefork pool's),
    on Linux; 0 for what cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_cpu_seconds(int(child)) for child in children)


def _tries(endpoint_id: int) -> int:
    """The attempts made so far to an endpoint."""
    from django.db.models import Sum

    from outgoing.models import Delivery

    return int(Delivery.objects.filter(endpoint_id=endpoint_id).aggregate(tries=Sum("attempts"))["tries"] or 0)


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    from bench import database

    url, config = database.throwaway("outgoing")
    database.recreate(config)
    os.environ["DATABASE_URL"] = url  # the worker's too
    try:
        return _run()
    finally:
        database.drop(config)


def _run() -> int:
    directory = Path(tempfile.mkdtemp(prefix="bench-outgoing-"))
    healthy = [Receiver("a", directory), Receiver("b", directory)]
    try:
        return _measure(healthy, DeadReceiver())
    finally:
        for receiver in healthy:
            if receiver.process.poll() is None:
                receiver.process.kill()
        shutil.rmtree(directory, ignore_errors=True)


def _measure(healthy: list[Receiver], dead: DeadReceiver) -> int:
    prefixes = [f"http://127.0.0.1:{r.port}/" for r in healthy] + [f"http://127.0.0.1:{dead.port}/"]
    os.environ["BENCH_OUTGOING_RECEIVERS"] = ",".join(prefixes)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

    import django

    django.setup()

    from django.core.management import call_command
    from django.db import transaction
    from django.db.models import Max

    from helpdesk import signals
    from helpdesk.models import Role
    from messenger.models import Conversation
    from outgoing import services
    from outgoing.models import Delivery, DeliveryState, OutgoingEvent
    from tests import factories

    call_command("migrate", "--noinput", verbosity=0)
    organization = factories.make_org("bench-outgoing")
    department = factories.make_department(organization, "Support")
    admin = factories.make_member(organization, role=Role.ADMIN, username="bench-out-admin", departments=[department])
    page = factories.make_page(factories.make_channel(organization, department))
    conversations: list[Conversation] = [factories.make_conversation(page) for _ in range(CONVERSATIONS)]
    endpoints = [
        services.endpoint_create(
            organization=organization, acting_user=admin.user, url=r.url, events=[signals.CONVERSATION_CLOSED]
        )
        for r in [*healthy, dead]
    ]
    healthy_ids = {endpoints[0].pk: healthy[0], endpoints[1].pk: healthy[1]}

    # As `docker compose up --scale worker-outgoing=N` runs them.
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "helpdesk",
                "worker",
                "--queues=outgoing",
                f"--hostname=outgoing-bench-{number}@%h",
                f"--pool={WORKER_POOL}",
                f"--concurrency={WORKER_THREADS}",
                "--loglevel=WARNING",
            ],
            cwd=ROOT,
            env=os.environ.copy(),
        )
        for number in range(WORKER_PROCESSES)
    ]
    stop_sweeping = threading.Event()

    def sweeping() -> None:
        # The beat job's part (retries, a paused endpoint's next probe), every 5 s.
        while not stop_sweeping.wait(5.0):
            try:
                services.outgoing_sweep()
            except Exception as error:  # a bench keeps going; the figures tell
                print(f"sweep failed: {error}", file=sys.stderr)

    sweeper = threading.Thread(target=sweeping, daemon=True)
    try:
        sweeper.start()

        def stream(total: int) -> tuple[float, float]:
            """Events at RATE, each tick's in one transaction; returns (seconds, most behind)."""
            per_tick = max(1, round(RATE * TICK_SECONDS))
            written = 0
            started = time.monotonic()
            behind = 0.0
            while written < total:
                tick_at = started + (written / per_tick) * TICK_SECONDS
                pause = tick_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                else:
                    behind = max(behind, -pause)
                count = min(per_tick, total - written)
                # Round robin over the conversations: each gets an event every CONVERSATIONS events.
                subjects = [(c.pk, c.pk) for c in (conversations[(written + n) % CONVERSATIONS] for n in range(count))]
                with transaction.atomic():
                    signals.domain_events_send(
                        organization_id=organization.pk,
                        type=signals.CONVERSATION_CLOSED,
                        resource=signals.CONVERSATION,
                        subjects=subjects,
                    )
                written += count
            return time.monotonic() - started, behind

        def drain() -> float:
            """Seconds until the healthy endpoints have nothing pending (DRAIN_TIMEOUT_SECONDS at most)."""
            started = time.monotonic()
            while time.monotonic() - started < DRAIN_TIMEOUT_SECONDS:
                if not Delivery.objects.filter(endpoint_id__in=list(healthy_ids), state=DeliveryState.PENDING).exists():
                    break
                time.sleep(0.5)
            return time.monotonic() - started

        # Warm up, outside the figures: the worker's processes start, connect and import
        # (a worker in production has been up for long).
        time.sleep(3.0)
        stream(int(RATE * WARMUP_SECONDS))
        drain()
        measured_after = OutgoingEvent.objects.aggregate(last=Max("pk"))["last"] or 0
        cpu_before = sum(_cpu_seconds(worker.pid) for worker in workers)
        dead_tries_before = _tries(endpoints[2].pk)

        write_seconds, behind = stream(EVENTS)
        drained_after = drain()
        worker_cpu = sum(_cpu_seconds(worker.pid) for worker in workers) - cpu_before
    finally:
        stop_sweeping.set()
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()

    events = {
        str(public_id): (pk, conversation_id, created_at)
        for public_id, pk, conversation_id, created_at in OutgoingEvent.objects.filter(
            pk__gt=measured_after
        ).values_list("public_id", "pk", "conversation_id", "created_at")
    }
    warmup = {
        str(public_id)
        for public_id in OutgoingEvent.objects.filter(pk__lte=measured_after).values_list("public_id", flat=True)
    }
    first_event_at = min((datetime.timestamp(created_at) for _pk, _c, created_at in events.values()), default=0.0)
    latencies: list[float] = []
    # The worst latency of the events of each second of the run (where the tail comes from).
    worst_by_second: dict[int, float] = defaultdict(float)
    lost = duplicates = foreign = out_of_order = mismatched = 0
    per_endpoint: list[str] = []
    for receiver in healthy_ids.values():
        arrivals = receiver.arrivals()
        own: list[float] = []
        seen: dict[str, bytes] = {}
        last_by_conversation: dict[int, int] = defaultdict(int)
        for event_id, arrived, body in arrivals:
            known = events.get(event_id)
            if event_id in warmup:
                continue
            if known is None or json.loads(body)["id"] != event_id:
                foreign += 1
                continue
            pk, conversation_id, created_at = known
            if event_id in seen:
                duplicates += 1
                mismatched += seen[event_id] != body
                continue
            seen[event_id] = body
            latency = arrived - datetime.timestamp(created_at)
            latencies.append(latency)
            own.append(latency)
            second = int(datetime.timestamp(created_at) - first_event_at)
            worst_by_second[second] = max(worst_by_second[second], latency)
            if pk < last_by_conversation[conversation_id]:
                out_of_order += 1
            last_by_conversation[conversation_id] = pk
        lost += len(events) - len(seen)
        per_endpoint.append(
            f"{receiver.name}: p50 {_percentile(own, 0.5) * 1000:.0f} ms, p99 {_percentile(own, 0.99) * 1000:.0f} ms"
        )
    dead_attempts = _tries(endpoints[2].pk) - dead_tries_before
    p50, p99 = _percentile(latencies, 0.50), _percentile(latencies, 0.99)
    slowest = sorted(worst_by_second.items(), key=lambda item: -item[1])[:5]
    print("each healthy endpoint: " + "; ".join(per_endpoint))
    print(
        "slowest seconds of the run (second: worst delivery): "
        + ", ".join(f"{second}: {worst * 1000:.0f} ms" for second, worst in sorted(slowest))
    )
    achieved_rate = EVENTS / write_seconds if write_seconds else 0.0
    print(
        f"events {len(events)} written in {write_seconds:.1f} s ({achieved_rate:.0f}/s, "
        f"at most {behind:.2f} s behind); "
        f"healthy endpoints drained {drained_after:.1f} s after the last event"
    )
    print(
        f"delivery to the healthy endpoints: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
        f"({len(latencies)} deliveries); lost {lost}, duplicates {duplicates} (same id; {mismatched} with another "
        f"body), unknown ids {foreign}, out of order {out_of_order}"
    )
    print(f"dead endpoint ({DEAD_MODE}): {dead_attempts} tries in all, the others were not held up")
    attempts = sum(Delivery.objects.filter(event_id__gt=measured_after).values_list("attempts", flat=True))
    print(
        f"workers ({WORKER_PROCESSES} × {WORKER_POOL} pool of {WORKER_THREADS}): {worker_cpu:.1f} s of CPU, "
        f"{worker_cpu / max(1, attempts) * 1e6:.0f} µs per attempt ({attempts} attempts)"
    )
    met = (
        p99 < P99_BUDGET_SECONDS
        and lost == 0
        and foreign == 0
        and mismatched == 0
        and out_of_order == 0
        and achieved_rate >= RATE * 0.9
    )
    print(
        f"outgoing: {'PASS' if met else 'FAIL'} {len(events)} events at {achieved_rate:.0f}/s to 3 endpoints "
        f"(one {DEAD_MODE}): healthy p99 {p99 * 1000:.0f} ms (budget {P99_BUDGET_SECONDS * 1000:.0f}), "
        f"lost {lost}, duplicates {duplicates} (same id), out of order {out_of_order}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
