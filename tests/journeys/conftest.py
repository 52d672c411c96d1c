"""The journeys' setting: chromium, the Graph sandbox served by ``live_server`` as Facebook,
and a stand-in for the Celery worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pytest
from celery.app.task import Task

from tests.channels.facebook import facebook  # noqa: F401 (fixture)
from tests.chromium import browser_page, chromium  # noqa: F401 (fixtures)

# Facebook's side: the sandbox sends the webhooks it owes (echoes, deliveries) on its own,
# from the customer simulator's polling, as Facebook would whatever the product's workers do.
SANDBOX_TASKS = "messenger.sandbox."


@dataclass
class Worker:
    """What the product publishes to Celery is kept here, in order; ``run_queued`` runs it in
    the test's thread, the way a worker would (the product's Graph client over real HTTP to
    the sandbox), including whatever those tasks publish in turn."""

    queued: list[tuple[Task, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, task: Task, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        if task.name.startswith(SANDBOX_TASKS):
            return
        with self.lock:
            self.queued.append((task, tuple(args or ()), dict(kwargs or {})))

    def names(self) -> list[str]:
        with self.lock:
            return [task.name for task, _args, _kwargs in self.queued]

    def run_queued(self) -> list[str]:
        """Run every queued task, and those they queue, until none is left; their names."""
        ran: list[str] = []
        while True:
            with self.lock:
                if not self.queued:
                    return ran
                task, args, kwargs = self.queued.pop(0)
            task.apply(args=args, kwargs=kwargs)
            ran.append(task.name)


@pytest.fixture
def worker() -> Iterator[Worker]:
    queue = Worker()

    def apply_async(task: Task, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        queue.publish(task, args, kwargs, **options)

    with mock.patch.object(Task, "apply_async", autospec=True, side_effect=apply_async):
        yield queue
