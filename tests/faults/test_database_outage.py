"""PostgreSQL is unreachable, or goes away in the middle of a delivery: the webhook answers
503 (Facebook delivers again), nothing is half-stored, and the redelivery stores each
message exactly once.

tests/messenger/test_webhook.py::test_when_the_database_is_down_the_answer_is_503_and_nothing_is_stored
covers a database refusing connections with `ensure_connection` patched; here the
connection really points at a closed port, or its server process is really terminated
while the batch is being written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import psycopg2
import pytest
from django.db import OperationalError, connection
from django.test import Client

from messenger import tasks
from messenger.models import Contact, Conversation, FacebookPage, Message, WebhookEvent
from messenger.webhook import apply, followups, messages, one_statement_sql
from tests import factories
from tests.conftest import Tenant
from tests.faults.conftest import free_port
from tests.messenger.fixtures import BASE_MS, PAGE_ID, PSID, page_body, post_webhook, text_item

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="simulates a PostgreSQL server going away"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def page(tenant_a: Tenant) -> FacebookPage:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    return factories.make_page(channel, page_id=PAGE_ID)


@pytest.fixture
def queued() -> Iterator[mock.MagicMock]:
    followups.broker_pause_reset()
    with mock.patch.object(tasks.webhook_followups, "delay", autospec=True) as delay:
        yield delay
    followups.broker_pause_reset()


@contextmanager
def database_unreachable() -> Iterator[None]:
    """The default connection points at a port nothing listens on."""
    saved = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(free_port())
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved


def terminate_own_backend() -> None:
    """What a PostgreSQL restart does to the request's connection: its server process ends."""
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    other = psycopg2.connect(**params)
    other.autocommit = True
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    other.close()


def deliver(body: dict[str, Any]) -> int:
    return int(post_webhook(Client(), body).status_code)


def state() -> tuple[int, int, int, int]:
    return Contact.objects.count(), Conversation.objects.count(), Message.objects.count(), WebhookEvent.objects.count()


def test_an_unreachable_database_answers_503_and_the_redelivery_stores_each_message_once(
    page: FacebookPage, queued: mock.MagicMock
) -> None:
    known = factories.make_conversation(page, factories.make_contact(page, psid=PSID))
    body = page_body(
        (PAGE_ID, [text_item(psid=PSID, mid="m_known_customer")]),
        (PAGE_ID, [text_item(psid="6200000000000001", mid="m_new_customer", timestamp=BASE_MS + 1)]),
    )
    with database_unreachable():
        response = post_webhook(Client(), body)
        assert response.status_code == 503
        assert response["Retry-After"]
    assert state() == (1, 1, 0, 0)
    queued.assert_not_called()

    assert deliver(body) == 200
    assert deliver(body) == 200  # Facebook's own retries may still be under way
    assert state() == (2, 2, 2, 4)
    known.refresh_from_db()
    assert known.unread_count == 1
    assert queued.call_count == 1


def test_a_connection_lost_in_the_middle_of_a_batch_leaves_nothing_half_written(
    page: FacebookPage, queued: mock.MagicMock
) -> None:
    real_insert_rows = messages.insert_rows

    def insert_rows_then_lose_the_server(model: Any, rows: Any, **kwargs: Any) -> Any:
        if model is Message:  # contacts and conversations are written by now
            assert Contact.objects.filter(psid="6200000000000002").exists()
            terminate_own_backend()
        return real_insert_rows(model, rows, **kwargs)

    body = page_body(
        (PAGE_ID, [text_item(psid="6200000000000002", mid="m_first")]),
        (PAGE_ID, [text_item(psid="6200000000000003", mid="m_second", timestamp=BASE_MS + 1)]),
    )
    with mock.patch.object(messages, "insert_rows", autospec=True, side_effect=insert_rows_then_lose_the_server):
        assert deliver(body) == 503
    assert state() == (0, 0, 0, 0)
    queued.assert_not_called()

    assert deliver(body) == 200
    assert state() == (2, 2, 2, 2)
    assert sorted(Conversation.objects.values_list("unread_count", flat=True)) == [1, 1]
    assert queued.call_count == 1


def test_a_connection_lost_after_the_one_statement_committed_is_redelivered_as_a_duplicate(
    page: FacebookPage, queued: mock.MagicMock
) -> None:
    conversation = factories.make_conversation(page, factories.make_contact(page, psid=PSID))
    real_store = one_statement_sql.statement_run

    def commit_then_lose_the_answer(**kwargs: Any) -> Any:
        real_store(**kwargs)  # autocommit: the rows are in
        raise OperationalError("server closed the connection unexpectedly")

    body = page_body((PAGE_ID, [text_item(psid=PSID, mid="m_committed")]))
    with mock.patch.object(one_statement_sql, "statement_run", autospec=True, side_effect=commit_then_lose_the_answer):
        assert deliver(body) == 503
    assert deliver(body) == 200
    assert Message.objects.filter(mid="m_committed").count() == 1
    conversation.refresh_from_db()
    assert conversation.unread_count == 1
    assert Counter(WebhookEvent.objects.values_list("outcome", flat=True)) == {"stored": 1, "duplicate": 1}


def test_a_database_lost_while_keeping_failed_events_pending_answers_503_and_keeps_nothing(
    page: FacebookPage, queued: mock.MagicMock
) -> None:
    def fail_then_lose_the_server(*args: Any, **kwargs: Any) -> None:
        terminate_own_backend()
        raise RuntimeError("a bug while applying the batch")

    body = page_body((PAGE_ID, [text_item(psid="6200000000000004", mid="m_pending")]))
    with mock.patch.object(apply, "messages_store", autospec=True, side_effect=fail_then_lose_the_server):
        assert deliver(body) == 503
    assert state() == (0, 0, 0, 0)
    assert deliver(body) == 200
    assert state() == (1, 1, 1, 1)
