"""Run every benchmark in bench/ against PostgreSQL (and Redis), each from an empty database.

    make bench                      # all of them
    .venv/bin/python bench/run.py webhook inbox

BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/helpdesk_bench) names the
database; it is dropped and created again before each benchmark. Each benchmark prints its
figures and ends with one summary line that starts with its name; those lines are repeated
at the end. A benchmark exits non-zero when it misses a target (or crashes: then it has no
summary line and is reported as failed); `make bench` exits non-zero exactly then.

Only the modules listed in BENCHMARKS run; the others in bench/ support them or are tools
of their own (bench/webhook_profile.py finds where a webhook POST spends its CPU).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench"
# The benchmarks of record, in the order they run: each ends with its summary line.
BENCHMARKS = (
    "downloads",
    "inbox",
    "live",
    "outgoing",
    "reports",
    "routing",
    "sla",
    "soak",
    "tickets",
    "tokens",
    "webhook",
    "window_alerts",
)
# The other modules of bench/: this runner, the benchmarks' helpers, and tools run by hand.
NOT_BENCHMARKS = ("__init__", "database", "outgoing_receiver", "proc", "run", "settings", "urls", "webhook_profile")


def recreate_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = [
        "psql",
        "-h",
        parsed.hostname or "127.0.0.1",
        "-p",
        str(parsed.port or 5432),
        "-U",
        parsed.username or "postgres",
        "-d",
        "postgres",
        "-q",
    ]
    subprocess.run([*admin, "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True)
    subprocess.run([*admin, "-c", f'CREATE DATABASE "{name}"'], check=True)


def summary_of(name: str, returncode: int, stdout: str) -> tuple[str, bool]:
    """A benchmark's summary line (its last line that starts with its name) and whether it met
    its targets: it exited 0 and printed that line."""
    lines = [line for line in stdout.splitlines() if line.startswith(f"{name}:")]
    if not lines:
        return f"{name}: FAILED (exit {returncode}, no summary line)", False
    return lines[-1], returncode == 0


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/8")}
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    summaries: list[str] = []
    missed = False
    for name in names or BENCHMARKS:
        print(f"\n=== {name} ===", flush=True)
        recreate_database(url)
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        result = subprocess.run(
            [sys.executable, str(BENCH_DIR / f"{name}.py")], cwd=ROOT, env=env, capture_output=True, text=True
        )
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr[-4000:] if result.returncode else "")
        summary, met = summary_of(name, result.returncode, result.stdout)
        summaries.append(summary)
        missed |= not met
    print("\n=== summary ===")
    print("\n".join(summaries))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
