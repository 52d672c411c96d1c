"""The test database under two writers at once, as the browser tests use it: the live server
answers each request in a thread of its own, with a connection of its own, while the test's
thread (the stand-in for the Celery worker, ``_time_passes``) writes too.

On the embedded defaults the second writer must wait for the first, as it does on the
deployed embedded database (WAL, IMMEDIATE transactions, a busy timeout). A test database kept
in memory shares one page cache between connections and fails the second writer at once
("database table is locked"), whatever the timeout: the journey "an agent answers a customer
through the reply windows" failed that way by chance.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from messenger.sandbox.bootstrap import sandbox_bootstrap
from messenger.sandbox.models import SandboxPage

HOLD_SECONDS = 0.5


@pytest.mark.django_db(transaction=True)
def test_a_write_waits_for_another_connections_transaction_instead_of_failing() -> None:
    sandbox_bootstrap()
    page = SandboxPage.objects.order_by("pk").first()
    assert page is not None
    holding = threading.Event()
    failures: list[BaseException] = []

    def live_server_request() -> None:
        try:
            with transaction.atomic():
                SandboxPage.objects.filter(pk=page.pk).update(name="Renamed by the live server")
                holding.set()
                threading.Event().wait(HOLD_SECONDS)
        except BaseException as exc:  # the main thread reports it
            failures.append(exc)
            holding.set()
        finally:
            connection.close()

    request = threading.Thread(target=live_server_request)
    request.start()
    try:
        assert holding.wait(10)
        # The test's own thread writes the same table while that transaction is open.
        SandboxPage.objects.filter(pk=page.pk).update(name="Renamed by the worker")
    finally:
        request.join(10)
    assert failures == []
    page.refresh_from_db()
    assert page.name == "Renamed by the worker"
