"""Where a webhook POST spends its CPU, in one process: the baseline and the product side by side.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk .venv/bin/python bench/webhook_profile.py [--profile]

It seeds `<name>_bench` as bench/webhook.py does, then calls the WSGI application directly
(the full middleware stack, no HTTP server and no load generator) N times per case and prints,
per request, the CPU time of this Python process and of its PostgreSQL backend (read from
/proc: the server runs on this machine). With --profile, the product's cProfile (top
functions by own time) follows. With WEBHOOK_APPLY_LATER=1 the product only keeps its POSTs,
and an `applier` line follows each product line: the worker's cost per POST kept, applying
them in batches of --apply-batch POSTs. The figures are for finding where time goes; the benchmark
of record is bench/webhook.py.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import hmac
import io
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import proc  # noqa: E402
from bench.webhook import (  # noqa: E402
    APP_SECRET,
    BASELINE_PATH,
    CUSTOMERS_PER_PAGE,
    PAGE_IDS,
    PRODUCT_PATH,
    _admin_execute,
    _seed,
    bench_database_prepare,
)


def _body(seq: int, entries: int) -> bytes:
    now_ms = int(time.time() * 1000)
    return json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": PAGE_IDS[(seq + n) % len(PAGE_IDS)],
                    "time": now_ms,
                    "messaging": [
                        {
                            "sender": {"id": f"5{(seq * 7 + n) % CUSTOMERS_PER_PAGE:09d}"},
                            "recipient": {"id": PAGE_IDS[(seq + n) % len(PAGE_IDS)]},
                            "timestamp": now_ms - n,
                            "message": {"mid": f"m_profile.{seq}.{n}", "text": f"Profile message {seq}.{n}"},
                        }
                    ],
                }
                for n in range(entries)
            ],
        }
    ).encode()


def _environ(path: str, body: bytes) -> dict[str, Any]:
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_X_HUB_SIGNATURE_256": signature,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def _call(application: Any, path: str, body: bytes) -> None:
    status: list[str] = []
    result = application(_environ(path, body), lambda s, h, exc_info=None: status.append(s))
    b"".join(result)
    if hasattr(result, "close"):
        result.close()
    if not status[0].startswith("200"):
        raise SystemExit(f"webhook profile: {path} answered {status[0]}")


def _explain(body: bytes) -> None:
    """Receive `body` as the product does, its one statement EXPLAINed (then rolled back)."""
    from unittest import mock

    from django.db import transaction
    from django.utils import timezone

    from messenger.webhook import one_statement_sql
    from messenger.webhook.receive import webhook_receive

    def explain(connection: Any, cursor: Any, name: str, statement: str, params: Any) -> None:
        cursor.execute("SAVEPOINT explained")
        real_execute_prepared(connection, cursor, name, statement, params)  # prepared, and warm
        cursor.execute("ROLLBACK TO SAVEPOINT explained")
        placeholders = ", ".join(["%s"] * len(params))
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, WAL, SETTINGS) EXECUTE {name} ({placeholders})", params)
        print("\n".join(row[0] for row in cursor.fetchall()))
        cursor.execute("ROLLBACK TO SAVEPOINT explained")
        real_execute_prepared(connection, cursor, name, statement, params)

    real_execute_prepared = one_statement_sql.execute_prepared
    with transaction.atomic(), mock.patch.object(one_statement_sql, "execute_prepared", side_effect=explain):
        webhook_receive(body=json.loads(body), received_at=timezone.now())
        transaction.set_rollback(True)


def _applier_measure(label: str, args: argparse.Namespace, backend: int) -> None:
    """With WEBHOOK_APPLY_LATER the product only kept its POSTs: apply them as the worker does,
    in batches of --apply-batch POSTs, and print the applier's CPU per POST."""
    from messenger.models import ReceivedPost
    from messenger.webhook import later

    if not ReceivedPost.objects.exists():
        return  # applied before its answer (WEBHOOK_APPLY_LATER off)
    profiler = cProfile.Profile() if args.profile else None
    python_before, pg_before = time.process_time(), proc.cpu_seconds(backend)
    if profiler:
        profiler.enable()
    applied = later.received_posts_apply(batch_posts=args.apply_batch)
    if profiler:
        profiler.disable()
    python_ms = (time.process_time() - python_before) * 1000 / applied
    pg_ms = (proc.cpu_seconds(backend) - pg_before) * 1000 / applied
    name = f"  applier ({args.apply_batch})"
    print(f"{name:18}{applied:9d}{python_ms:11.2f}{pg_ms:15.2f}{python_ms + pg_ms:10.2f}  {label}, per POST kept")
    if profiler:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats(args.sort).print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per case (1-event; 20-entry: a tenth)")
    parser.add_argument("--profile", action="store_true", help="print the product's cProfile")
    parser.add_argument("--sort", default="tottime", help="the profile's order (tottime, cumulative, …)")
    parser.add_argument(
        "--apply-batch",
        type=int,
        default=50,
        help="with WEBHOOK_APPLY_LATER: the applier's batch (POSTs) when it applies the kept POSTs",
    )
    parser.add_argument("--keep-database", action="store_true", help="do not drop the bench database afterwards")
    parser.add_argument(
        "--explain", action="store_true", help="then EXPLAIN the one statement of POSTs of --explain-entries events"
    )
    parser.add_argument(
        "--explain-entries",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 20],
        help="the POSTs' sizes to EXPLAIN, comma-separated (1,20)",
    )
    args = parser.parse_args()
    bench_name, admin_url, _env = bench_database_prepare("webhook profile")
    import django
    from django.core.management import call_command

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    call_command("migrate", "--noinput", verbosity=0)
    _seed()
    application = WSGIHandler()
    try:
        print(f"{'':18}{'requests':>9}{'Python ms':>11}{'PostgreSQL ms':>15}{'total ms':>10}  (CPU per request)")
        seq = 0
        for entries in (1, 20):
            count = args.requests if entries == 1 else max(args.requests // 10, 1)
            for name, path in (("baseline", BASELINE_PATH), ("product", PRODUCT_PATH)):
                bodies = [_body(seq + n, entries) for n in range(count + 50)]
                seq += count + 50
                for body in bodies[:50]:  # warm-up: connections, prepared statements, caches
                    _call(application, path, body)
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    backend = cursor.fetchone()[0]
                profiler = cProfile.Profile() if args.profile and name == "product" else None
                python_before, pg_before = time.process_time(), proc.cpu_seconds(backend)
                if profiler:
                    profiler.enable()
                for body in bodies[50:]:
                    _call(application, path, body)
                if profiler:
                    profiler.disable()
                python_ms = (time.process_time() - python_before) * 1000 / count
                pg_ms = (proc.cpu_seconds(backend) - pg_before) * 1000 / count
                label = f"{name} {entries}-{'event' if entries == 1 else 'entry'}"
                print(f"{label:18}{count:9d}{python_ms:11.2f}{pg_ms:15.2f}{python_ms + pg_ms:10.2f}")
                if profiler:
                    stats = pstats.Stats(profiler, stream=sys.stdout)
                    stats.sort_stats(args.sort).print_stats(40)
                if name == "product":
                    _applier_measure(label, args, backend)
        if args.explain:
            for n, entries in enumerate(args.explain_entries):
                _explain(_body(seq + n, entries))
    finally:
        connection.close()
        if not args.keep_database:
            _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{bench_name}"')


if __name__ == "__main__":
    main()
