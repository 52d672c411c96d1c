"""Celery queues: replies go to `sending`, customers' attachment downloads to `downloads`, the
rest to `celery`; every process that runs workers (`runall`, docker-compose.yml) consumes each
queue, and the one that sends replies consumes nothing else, so that slow downloads never
hold a reply up (bench/downloads.py measures it)."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command

from helpdesk.celery import app

ROOT = Path(__file__).resolve().parents[2]


def queue_of(task_name: str) -> str:
    return str(app.amqp.router.route({}, task_name)["queue"].name)


@pytest.mark.parametrize(
    "task_name,queue",
    [
        ("messenger.sending.send_message", "sending"),
        ("messenger.sending.send_sender_action", "sending"),
        ("messenger.attachments.download", "downloads"),
        ("messenger.routing.route_conversations", "routing"),
        ("messenger.routing.drain_agent", "routing"),
        ("messenger.routing.out_of_hours_reply", "routing"),
        ("messenger.routing.sweep", "celery"),
        ("messenger.webhook.followups", "celery"),
        ("messenger.webhook.events_process_pending", "celery"),
        ("messenger.webhook.received_posts_apply", "webhook"),
        ("messenger.sending.sweep", "celery"),
        ("tickets.conversion.sweep_idle_conversations", "celery"),
        ("availability.status.sweep", "celery"),
    ],
)
def test_each_task_goes_to_its_queue(task_name: str, queue: str) -> None:
    app.loader.import_default_modules()  # the tasks modules, as a worker imports them
    assert task_name in app.tasks
    assert queue_of(task_name) == queue


def test_every_scheduled_or_routed_task_name_is_a_task_a_worker_registers() -> None:
    app.loader.import_default_modules()
    named = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} | set(settings.CELERY_TASK_ROUTES)

    assert sorted(named - set(app.tasks)) == []


def test_every_task_of_the_product_is_named_app_area_action() -> None:
    app.loader.import_default_modules()
    ours = [
        name
        for name in app.tasks
        if name.split(".")[0] in {"helpdesk", "availability", "channels", "messenger", "tickets"}
    ]

    assert len(ours) >= 12
    assert [
        name
        for name in ours
        if not re.fullmatch(r"(helpdesk|availability|channels|messenger|tickets)(\.[a-z_]+){2}", name)
    ] == []


def test_a_worker_started_without_queues_consumes_all_six() -> None:
    assert {queue.name for queue in settings.CELERY_TASK_QUEUES} == {
        "celery",
        "sending",
        "downloads",
        "routing",
        "outgoing",
        "webhook",
    }


def _queues(argv: list[str]) -> set[str]:
    for index, arg in enumerate(argv):
        if arg.startswith("--queues="):
            return set(arg.split("=", 1)[1].split(","))
        if arg in ("-Q", "--queues"):
            return set(argv[index + 1].split(","))
    return {"celery", "sending", "downloads", "routing"}


def _concurrency(argv: list[str]) -> int | None:
    for arg in argv:
        if arg.startswith("--concurrency="):
            return int(arg.split("=", 1)[1])
    return None


def assert_sending_never_waits_behind_downloads(workers: dict[str, list[str]]) -> None:
    consumed = {name: _queues(argv) for name, argv in workers.items()}
    assert set().union(*consumed.values()) >= {"celery", "sending", "downloads", "routing"}, consumed
    for name, queues in consumed.items():
        if "sending" in queues:
            assert queues == {"sending"}, f"{name} sends replies and also takes {queues - {'sending'}}"
        if "downloads" in queues:
            concurrency = _concurrency(workers[name])
            assert concurrency is not None and concurrency <= 8, f"{name}: downloads need a bounded concurrency"


def test_runall_starts_a_worker_for_each_queue_and_one_only_for_sending(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    started: dict[str, list[str]] = {}

    def popen(argv: list[str], *args: Any, **kwargs: Any) -> Any:
        started[" ".join(argv)] = argv
        process = mock.MagicMock()
        process.poll.return_value = None
        return process

    # Whatever starts and watches the processes, they are started through subprocess.Popen
    # and watched with time.sleep in between: Ctrl-C comes at the first pause.
    with (
        mock.patch.object(subprocess, "Popen", side_effect=popen),
        mock.patch.object(signal, "signal", autospec=True),
        mock.patch.object(time, "sleep", autospec=True, side_effect=KeyboardInterrupt),
    ):
        call_command("runall")
    workers = {name: argv for name, argv in started.items() if "worker" in argv and "celery" in argv}
    assert len(workers) >= 2
    assert_sending_never_waits_behind_downloads(workers)


def test_docker_compose_runs_a_worker_for_each_queue_and_one_only_for_sending() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    workers = {
        name: service["command"]
        for name, service in services.items()
        if isinstance(service.get("command"), list) and service["command"][:4] == ["celery", "-A", "helpdesk", "worker"]
    }
    assert len(workers) >= 2
    assert_sending_never_waits_behind_downloads(workers)
    for name in workers:
        assert "healthcheck" in services[name], f"{name} has no health check"
        assert services[name]["environment"]["HELPDESK_ENV"] == "production"
