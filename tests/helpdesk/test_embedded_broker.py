"""The embedded Celery broker (helpdesk/broker.py, no Redis) under a burst of producers.

`make run` on the embedded defaults once lost its worker to a burst of webhooks: kombu's
filesystem transport writes a message file in place, and the worker read one still being
written (JSONDecodeError). Here several processes and threads publish at once while a
consumer reads: every message arrives exactly once and the consumer never fails. (With
kombu's own filesystem transport, the flood ends in that JSONDecodeError most runs; the torn
file tests below fail on it every time.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from queue import Empty
from typing import Any
from unittest import mock

import pytest
from kombu import Connection

from helpdesk import broker

ROOT = Path(__file__).resolve().parents[2]
TRANSPORT = "helpdesk.broker:Transport"
# Large enough that writing one takes more than one system call (a webhook with an attachment).
FILLER = "x" * 256 * 1024

PRODUCER = """
import sys
from kombu import Connection
folder, name, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
options = {"data_folder_in": folder + "/queue", "data_folder_out": folder + "/queue",
           "control_folder": folder + "/control"}
with Connection("filesystem://", transport="helpdesk.broker:Transport", transport_options=options) as conn:
    queue = conn.SimpleQueue(name)
    for n in range(count):
        queue.put({"id": f"{prefix}-{n}", "filler": "x" * 256 * 1024})
    queue.close()
"""


def options(folder: Path) -> dict[str, Any]:
    (folder / "queue").mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
        "processed_folder": str(folder / "processed"),
        # The consumer polls the folder without pause, as a busy worker does.
        "polling_interval": 0.001,
    }


@pytest.fixture
def queue_name() -> str:
    # kombu keeps the bindings it declared in a process-wide state: a queue name per test
    # makes each test declare its own (and write its own folder's exchange table).
    return f"flood-{uuid.uuid4().hex}"


def connection(folder: Path) -> Connection:
    return Connection("filesystem://", transport=TRANSPORT, transport_options=options(folder))


def test_the_embedded_broker_settings_use_the_atomic_transport(settings: Any) -> None:
    from django.conf import settings as django_settings

    if not django_settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("the tests run against another broker")
    assert django_settings.CELERY_BROKER_TRANSPORT == TRANSPORT
    assert django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["control_folder"].startswith(str(django_settings.DATA_DIR))


def test_a_burst_of_concurrent_producers_is_received_exactly_once_without_a_crash(
    tmp_path: Path, queue_name: str
) -> None:
    processes, per_process, threads, per_thread = 3, 60, 4, 40
    expected = {f"p{p}-{n}" for p in range(processes) for n in range(per_process)}
    expected |= {f"t{t}-{n}" for t in range(threads) for n in range(per_thread)}
    received: list[str] = []
    consumer_errors: list[BaseException] = []
    producing = threading.Event()
    producing.set()

    def consume() -> None:
        try:
            with connection(tmp_path) as conn:
                queue = conn.SimpleQueue(queue_name)
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and (producing.is_set() or len(received) < len(expected)):
                    try:
                        message = queue.get(timeout=0.2)
                    except Empty:
                        continue
                    received.append(message.payload["id"])
                    assert len(message.payload["filler"]) == len(FILLER)
                    message.ack()
                    if len(received) >= len(expected) and not producing.is_set():
                        break
                queue.close()
        except BaseException as error:  # the test reports whatever stopped the consumer
            consumer_errors.append(error)

    def produce(prefix: str, count: int) -> None:
        with connection(tmp_path) as conn:
            queue = conn.SimpleQueue(queue_name)
            for n in range(count):
                queue.put({"id": f"{prefix}-{n}", "filler": FILLER})
            queue.close()

    consumer = threading.Thread(target=consume)
    consumer.start()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", PRODUCER, str(tmp_path), queue_name, f"p{p}", str(per_process)], env=env
        )
        for p in range(processes)
    ]
    producers = [threading.Thread(target=produce, args=(f"t{t}", per_thread)) for t in range(threads)]
    for thread in producers:
        thread.start()
    for thread in producers:
        thread.join()
    assert [child.wait(timeout=120) for child in children] == [0] * processes
    producing.clear()
    consumer.join(timeout=330)

    assert not consumer.is_alive()
    assert consumer_errors == []
    assert len(received) == len(set(received)), "a message was received twice"
    assert set(received) == expected
    # Nothing is left behind: no half-written, claimed or unread file.
    assert os.listdir(tmp_path / "queue") == []


def test_a_message_file_still_being_written_is_skipped_and_read_once_complete(tmp_path: Path, queue_name: str) -> None:
    """What an older producer (or another writer) leaves under the final name for a moment."""
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue(queue_name)
        # The bytes of a complete message file, taken out of the queue.
        queue.put({"id": "later"})
        [written] = os.listdir(tmp_path / "queue")
        body = (tmp_path / "queue" / written).read_bytes()
        os.unlink(tmp_path / "queue" / written)
        queue.put({"id": "first"})
        # A second message, half written under its final name, that sorts before the first.
        torn = tmp_path / "queue" / f"{0:020d}_00000000-0000-0000-0000-000000000000.{queue_name}.msg"
        torn.write_bytes(body[: len(body) // 2])

        message = queue.get(timeout=1)
        assert message.payload == {"id": "first"}
        message.ack()
        with pytest.raises(Empty):
            queue.get(timeout=0.3)
        assert torn.exists()

        torn.write_bytes(body)  # the producer finished
        message = queue.get(timeout=1)
        assert message.payload == {"id": "later"}
        message.ack()
        queue.close()
    assert os.listdir(tmp_path / "queue") == []


def test_a_message_file_that_never_becomes_readable_is_moved_aside(tmp_path: Path, queue_name: str) -> None:
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue(queue_name)
        torn = tmp_path / "queue" / f"{0:020d}_00000000-0000-0000-0000-000000000000.{queue_name}.msg"
        torn.write_bytes(b'{"body": "trunc')
        old = time.time() - broker.UNREADABLE_GRACE_SECONDS - 5
        os.utime(torn, (old, old))
        queue.put({"id": "next"})

        message = queue.get(timeout=1)
        assert message.payload == {"id": "next"}
        message.ack()
        queue.close()
    assert os.listdir(tmp_path / "queue") == [torn.name + broker.UNREADABLE_SUFFIX]


def test_queues_declared_by_many_threads_at_once_keep_a_readable_exchange_table(
    tmp_path: Path, queue_name: str
) -> None:
    """Every process that declares a queue writes the exchange's table of bindings."""

    def declare(name: str) -> None:
        with connection(tmp_path) as conn:
            conn.SimpleQueue(name).close()

    threads = [threading.Thread(target=declare, args=(f"{queue_name}-{n}",)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tables = {path.name: json.loads(path.read_text()) for path in (tmp_path / "control").glob("*.exchange")}
    assert sorted(binding[2] for table in tables.values() for binding in table) == sorted(
        f"{queue_name}-{n}" for n in range(12)
    )


def test_a_thread_publishing_while_another_still_writes_the_binding_waits_for_it(
    tmp_path: Path, queue_name: str
) -> None:
    """kombu marks a binding declared (process-wide) before it writes the exchange table: a
    second thread of the process used to publish into the table still without it, and its
    first message went to no queue (the flood above lost one now and then)."""
    writing = threading.Event()
    original = broker.Channel._queue_bind

    def slow_bind(self: Any, *args: Any) -> None:
        writing.set()
        time.sleep(0.5)  # the first thread is writing the table
        original(self, *args)

    def declare() -> None:
        with connection(tmp_path) as conn:
            conn.SimpleQueue(queue_name).close()

    with mock.patch.object(broker.Channel, "_queue_bind", slow_bind):
        first = threading.Thread(target=declare)
        first.start()
        assert writing.wait(timeout=10)
        with connection(tmp_path) as conn:
            queue = conn.SimpleQueue(queue_name)
            queue.put({"id": "second-thread"})
            queue.close()
        first.join(timeout=10)
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue(queue_name)
        message = queue.get(timeout=5)
        assert message.payload == {"id": "second-thread"}
        message.ack()
        queue.close()
