"""What the fault tests break on purpose: a Redis server of their own that they stop and start
again, and a Graph API over real HTTP that records every request and answers as scripted."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from messenger.webhook import followups
from tests.graph_stub import GraphStub, Request, graph, new_mid
from tests.servers import RedisServer, free_port


def use_broker(url: str, transport: str | None = None) -> None:
    """Point the Celery app at another broker, dropping its pooled connections (what Celery
    itself does after a fork). The embedded broker's transport class (settings'
    CELERY_BROKER_TRANSPORT) would win over the URL's scheme: it goes with the URL."""
    from helpdesk.celery import app

    if app._pool is not None:
        app._pool.force_close_all()
    app.conf.broker_url = url
    app.conf.broker_transport = transport
    app._after_fork()


@pytest.fixture
def redis_server(settings: Any) -> Iterator[RedisServer]:
    """A Redis of the test's own, as the broker and the cache; stopped and started at will."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: a Redis outage cannot be simulated")
    from helpdesk.celery import app

    server = RedisServer(port=free_port())
    server.start()
    previous, previous_transport = app.conf.broker_url, app.conf.broker_transport
    settings.CELERY_BROKER_URL = server.url
    settings.CACHES = {
        "default": {
            "BACKEND": "helpdesk.cache.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    use_broker(server.url)
    followups.broker_pause_reset()
    try:
        yield server
    finally:
        server.stop()
        use_broker(previous, previous_transport)
        followups.broker_pause_reset()


# --- The Graph API: tests.graph_stub (shared with the sending tests) ------------------------------

__all__ = ["GraphStub", "RedisServer", "Request", "free_port", "graph", "new_mid"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
