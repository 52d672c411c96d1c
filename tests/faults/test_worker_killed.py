"""A worker dies in the middle of a send: Facebook got the request, the worker never recorded
the answer. The message must go out once, never twice, and never be lost: the task is
delivered again (acks_late), finds the message claimed and does not send; the recovery sweep
marks it failed with unknown_outcome (never resent by itself); its echo, if Facebook took it,
marks it sent.

The send runs in a real worker process (`python -c`, django.setup(), the Celery task) that
the Graph stub SIGKILLs as the request arrives. The process must see the test's rows, so
this needs PostgreSQL and committed data.

tests/messenger/test_sending.py::test_a_message_stuck_in_sending_is_failed_as_unknown_outcome_and_never_resent
covers the sweep on a row put in `sending` by hand.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from messenger.models import Message, MessageStatus
from messenger.services.sending import failures, recovery, replies
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.conftest import Tenant
from tests.faults.conftest import GraphStub, Request
from tests.faults.test_graph_failures import echo
from tests.messenger.fixtures import PAGE_ID, PSID, post_webhook

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker process must share the test database"),
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]
WORKER = """
import django
django.setup()
from messenger.tasks import sending as sending_tasks
sending_tasks.send_message.apply(args=[{message_id}])
print("the worker survived the send")
"""


def worker_environment(graph: GraphStub) -> dict[str, str]:
    db = connection.settings_dict
    url = (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_TASK_ALWAYS")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "settings",
            "DATABASE_URL": url,
            "FB_GRAPH_URL": graph.base_url,
            "FB_GRAPH_TIMEOUT": "30",
            "FB_APP_ID": settings.FB_APP_ID,
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def test_a_worker_killed_during_the_send_never_sends_twice_and_the_message_is_not_lost(
    tenant_a: Tenant, graph: GraphStub
) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    page = factories.make_page(channel, page_id=PAGE_ID)
    conversation = factories.make_conversation(page, factories.make_contact(page, psid=PSID))
    factories.make_message(conversation, text="anyone there?", sent_at=timezone.now() - timedelta(minutes=5))
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        message = replies.message_send(
            organization=tenant_a.organization, acting_user=tenant_a.agent.user, conversation=conversation, text="Yes!"
        )

    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER.format(message_id=message.pk)],
        cwd=ROOT,
        env=worker_environment(graph),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    def kill_the_worker(request: Request) -> bool:
        os.kill(worker.pid, signal.SIGKILL)  # Facebook has the request; nobody will read the answer
        return False

    graph.on_send = kill_the_worker
    try:
        out, err = worker.communicate(timeout=120)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL, (out, err[-2000:])
    assert len(graph.sends()) == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENDING

    # The broker hands the unacknowledged task to another worker: it does not send again.
    assert sending_tasks.send_message.acks_late and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    sending_tasks.send_message.apply(args=[message.pk])
    assert len(graph.sends()) == 1

    # The recovery sweep: unknown outcome, told to the agent, never sent again by itself.
    later = timezone.now() + recovery.SENDING_TIMEOUT + timedelta(seconds=1)
    assert recovery.message_sweep(now=later) == (1, [])
    assert recovery.message_sweep(now=later + timedelta(minutes=30)) == (0, [])
    sending_tasks.send_message.apply(args=[message.pk])
    message.refresh_from_db()
    assert (message.status, message.error_code) == (MessageStatus.FAILED, failures.UNKNOWN_OUTCOME)
    assert len(graph.sends()) == 1

    # Facebook did take it: its echo, however late, marks it sent.
    assert post_webhook(Client(), echo(message, "m_sent_by_the_dead_worker")).status_code == 200
    message.refresh_from_db()
    assert (message.status, message.mid, message.error_code) == (MessageStatus.SENT, "m_sent_by_the_dead_worker", "")
    assert Message.objects.filter(conversation=conversation, direction="out").count() == 1
    assert len(graph.sends()) == 1
