"""Run the web server, a Celery worker and Celery beat together, restarting any that crashes
(helpdesk.supervisor); Ctrl-C stops all three."""

from __future__ import annotations

import signal
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from helpdesk.supervisor import EssentialProcessGaveUp, Supervisor


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and Celery beat (development)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        commands = {
            # An ASGI server, as in production: the pages' live streams are async views.
            "web": [
                python,
                "-m",
                "uvicorn",
                "helpdesk.asgi:application",
                f"--host={options['host']}",
                f"--port={options['port']}",
                "--no-access-log",
                "--timeout-graceful-shutdown=2",
            ],
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
                    ("routing", "routing", 2),
                    ("outgoing", "outgoing", 4),
                    # The webhook's POSTs kept, when WEBHOOK_APPLY_LATER is on (one applier at a time).
                    ("webhook", "webhook", 1),
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
        supervisor = Supervisor(
            commands,
            essential=["web"],
            report=lambda line: self.stderr.write(self.style.WARNING(line)),
        )
        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(self.style.SUCCESS(f"\nHelpdesk running at {url}  (Ctrl-C stops everything)"))
        self.stdout.write(
            "Log in as admin / demo-admin-password or agent / demo-agent-password (see `seed_demo --json`).\n"
        )

        def stop_and_exit(*_: Any) -> None:
            supervisor.stop()
            sys.exit(0)

        signal.signal(signal.SIGTERM, stop_and_exit)
        try:
            supervisor.run()
        except EssentialProcessGaveUp as gave_up:
            raise CommandError(f"{gave_up} keeps crashing; everything was stopped.") from None
        except KeyboardInterrupt:
            pass
        finally:
            supervisor.stop()
