"""Run every benchmark in bench/ against PostgreSQL (and Redis), each from an empty database.

    make bench                      # all of them
    .venv/bin/python bench/run.py webhook inbox

BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/helpdesk_bench) names the
database; it is dropped and created again before each benchmark. Each benchmark prints its
figures and ends with one summary line that starts with its name; those lines are repeated
at the end.
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
# Modules of bench/ that support the benchmarks rather than being one.
NOT_BENCHMARKS = {"run", "__init__", "settings", "urls", "proc"}


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


def main(names: list[str]) -> int:
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/8")}
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    benches = names or sorted(p.stem for p in BENCH_DIR.glob("*.py") if p.stem not in NOT_BENCHMARKS)
    summaries: list[str] = []
    failed = False
    for name in benches:
        print(f"\n=== {name} ===", flush=True)
        recreate_database(url)
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        result = subprocess.run(
            [sys.executable, str(BENCH_DIR / f"{name}.py")], cwd=ROOT, env=env, capture_output=True, text=True
        )
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr[-4000:] if result.returncode else "")
        lines = [line for line in result.stdout.splitlines() if line.startswith(f"{name}:")]
        summaries.append(lines[-1] if lines else f"{name}: FAILED (exit {result.returncode})")
        failed |= result.returncode != 0
    print("\n=== summary ===")
    print("\n".join(summaries))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
