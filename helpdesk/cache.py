"""Django's Redis cache backend, with one Redis client per server and options in a process.

Django's RedisCacheClient builds a new `redis.Redis` for every cache call, and building one
fills its table of response callbacks (about 170 entries); and under ASGI every request gets
cache objects of its own (django.core.cache.caches is context-local), each with connection
pools of its own, so that a request's first cache call opened a new connection to Redis. A
client is safe to share between threads (each command takes a connection from the pool, which
redis-py renews after a fork): one per process serves every call.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends import redis

_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()


class RedisCacheClient(redis.RedisCacheClient):
    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django's own private helpers and attributes, which its stubs do not declare.
        index = self._get_connection_pool_index(write)  # type: ignore[attr-defined]
        options = self._pool_options  # type: ignore[attr-defined]
        identity = (self._servers[index], tuple(sorted((name, repr(value)) for name, value in options.items())))  # type: ignore[attr-defined]
        client = _clients.get(identity)
        if client is None:
            with _clients_lock:
                client = _clients.get(identity)
                if client is None:
                    pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
                    client = _clients[identity] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class RedisCache(redis.RedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
