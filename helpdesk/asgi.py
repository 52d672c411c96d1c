"""The ASGI application: uvicorn in `make run`, gunicorn's uvicorn workers in production.

Django runs a request's synchronous code (the middleware, every view but the live stream)
in a thread, by default a new one per request, each with a database connection of its own
that it keeps for CONN_MAX_AGE: as many PostgreSQL connections as requests ever ran at once,
without a bound. Here each request's synchronous code runs on one of `ASGI_SYNC_THREADS`
fixed threads (the least busy when it arrives), as in a threaded WSGI worker: at most that
many connections per process, each reused. The live streams spend their life in async code:
they are spread over the threads without counting as busy.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Application = Callable[[Scope, Receive, Send], Awaitable[None]]

# The path of a live stream (live.urls): long-lived, and idle for the thread.
LIVE_STREAM_SUFFIX = "/live/"


class BoundedSyncThreads:
    def __init__(self, application: Application, threads: int) -> None:
        self.application = application
        self.executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django-sync-{number}") for number in range(threads)
        ]
        self.busy = [0] * threads
        self._streams = itertools.cycle(range(threads))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.application(scope, receive, send)
            return
        counted = not str(scope.get("path", "")).endswith(LIVE_STREAM_SUFFIX)
        number = min(range(len(self.busy)), key=self.busy.__getitem__) if counted else next(self._streams)
        if counted:
            self.busy[number] += 1
        try:
            async with ThreadSensitiveContext(executor=self.executors[number]):
                await self.application(scope, receive, send)
        finally:
            if counted:
                self.busy[number] -= 1


def build() -> BoundedSyncThreads:
    django_application: Any = get_asgi_application()
    return BoundedSyncThreads(django_application, settings.ASGI_SYNC_THREADS)


application = build()
