"""A reply queued while Redis (the broker) is down goes out within a minute of its return,
once, with the real processes: a Celery worker and Celery beat as `make run` and the
deployment start them, a redis-server of the test's own that is killed and started again.

The agent's reply cannot be published (the broker is down): it stays queued and the failed
publication is recorded. When Redis is back, beat's next sending sweep (every 20 s) reaches
the worker once it has reconnected, and the sweep publishes the reply at once.

The processes must see the test's rows: PostgreSQL only. About 30 s.
tests/messenger/test_sending.py::test_a_reply_whose_task_could_not_be_published_goes_out_at_the_next_sweep_once
covers the same path in one process.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from django.db import connection
from django.utils import timezone

from messenger.models import FacebookPage, Message, MessageStatus
from tests import factories
from tests.conftest import Tenant, api_client_for
from tests.faults.conftest import GraphStub, RedisServer
from tests.faults.test_worker_killed import ROOT, worker_environment
from tests.messenger.fixtures import PAGE_ID, PSID

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker process must share the test database"),
    pytest.mark.django_db(transaction=True),
]

# What the product promises after the broker's return.
DEADLINE_SECONDS = 60


def start(argv: list[str], env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for(condition: Any, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            detail = log.read_text(errors="replace")[-3000:] if log else ""
            pytest.fail(f"{what} did not happen within {timeout:g} s\n{detail}")
        time.sleep(0.2)


def test_a_reply_queued_while_redis_is_down_is_sent_once_within_a_minute_of_its_return(
    redis_server: RedisServer, graph: GraphStub, tenant_a: Tenant, tmp_path: Path
) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    factories.associate(tenant_a.agent, channel)
    page: FacebookPage = factories.make_page(channel, page_id=PAGE_ID)
    conversation = factories.make_conversation(page, factories.make_contact(page, psid=PSID))
    factories.make_message(conversation, text="anyone there?", sent_at=timezone.now() - timedelta(minutes=5))

    env = worker_environment(graph)
    env.update(
        {
            "REDIS_URL": redis_server.url,
            "CELERY_BROKER_URL": redis_server.url,
            "DATA_DIR": str(tmp_path),
            "FB_GRAPH_TIMEOUT": "5",
        }
    )
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    celery = [sys.executable, "-m", "celery", "-A", "helpdesk"]
    processes: list[subprocess.Popen[bytes]] = []
    with worker_log.open("wb") as worker_out, beat_log.open("wb") as beat_out:
        try:
            processes.append(
                start([*celery, "worker", "--pool=threads", "--concurrency=2", "--loglevel=INFO"], env, worker_out)
            )
            processes.append(
                start([*celery, "beat", "--loglevel=INFO", f"--schedule={tmp_path / 'beat'}"], env, beat_out)
            )
            wait_for(lambda: b"ready." in worker_log.read_bytes(), 60, "the worker's start", worker_log)

            redis_server.stop()
            reply = api_client_for(tenant_a.agent).post(
                f"/api/v1/conversations/{conversation.pk}/messages/", {"text": "Back soon!"}, format="json"
            )
            assert reply.status_code == 202, reply.content
            message = Message.objects.get(pk=reply.json()["id"])
            assert message.status == MessageStatus.QUEUED and message.dispatch_failed_at is not None
            time.sleep(3)  # the worker and beat notice the outage
            assert graph.sends() == []

            redis_server.start()
            back = time.monotonic()

            def sent() -> bool:
                message.refresh_from_db()
                return message.status == MessageStatus.SENT

            wait_for(sent, DEADLINE_SECONDS, "the reply's sending", worker_log)
            took = time.monotonic() - back
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    assert took < DEADLINE_SECONDS, took
    assert [body["message"]["text"] for body in graph.sends()] == ["Back soon!"]
    assert message.mid
