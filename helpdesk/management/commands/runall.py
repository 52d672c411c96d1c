"""Run the web server, a Celery worker and Celery beat together; Ctrl-C stops all three."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and Celery beat (development)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        commands = {
            "web": [python, "manage.py", "runserver", f"{options['host']}:{options['port']}", "--noreload"],
            # Threads keep memory low and work on every broker, the filesystem one included.
            # One worker per queue (settings.CELERY_TASK_QUEUES): an agent's reply never waits
            # behind slow attachment downloads, and downloads take at most two threads.
            **{
                name: [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "helpdesk",
                    "worker",
                    f"--queues={queue}",
                    f"--hostname={queue}@%h",
                    "--pool=threads",
                    f"--concurrency={concurrency}",
                    "--loglevel=INFO",
                ]
                for name, queue, concurrency in (
                    ("worker", "celery", 4),
                    ("sending", "sending", 2),
                    ("downloads", "downloads", 2),
                )
            },
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "helpdesk",
                "beat",
                "--loglevel=INFO",
                f"--schedule={settings.CELERY_BEAT_SCHEDULE_FILENAME}",
            ],
        }
        processes = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}  # noqa: S603 (fixed argv)
        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(self.style.SUCCESS(f"\nHelpdesk running at {url}  (Ctrl-C stops everything)"))
        self.stdout.write(
            "Log in as admin / demo-admin-password or agent / demo-agent-password (see `seed_demo --json`).\n"
        )

        def stop(*_: Any) -> None:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            deadline = time.monotonic() + 10
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()

        def stop_and_exit(*_: Any) -> None:
            stop()
            sys.exit(0)

        signal.signal(signal.SIGTERM, stop_and_exit)
        try:
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            dead = [name for name, p in processes.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(dead)} stopped; stopping the rest.")
        except KeyboardInterrupt:
            pass
        finally:
            stop()
