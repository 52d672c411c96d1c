"""The ASGI application runs the synchronous code of requests on a fixed set of threads (so
a web process holds at most that many database connections), the least busy first; a live
stream is not counted as busy."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from asgiref.sync import sync_to_async

from helpdesk.asgi import BoundedSyncThreads


def _recording_application(threads_seen: list[int], *, hold: float = 0.02) -> Any:
    def synchronous_part() -> None:
        threads_seen.append(threading.get_ident())
        time.sleep(hold)

    async def application(scope: Any, receive: Any, send: Any) -> None:
        await sync_to_async(synchronous_part)()
        await sync_to_async(synchronous_part)()  # a request's second hop stays on its thread

    return application


def _http(path: str = "/o/alpha/inbox/") -> dict[str, Any]:
    return {"type": "http", "path": path}


def test_twenty_requests_at_once_run_on_three_threads() -> None:
    seen: list[int] = []
    bounded = BoundedSyncThreads(_recording_application(seen), threads=3)

    async def twenty() -> None:
        await asyncio.gather(*(bounded(_http(), None, None) for _ in range(20)))

    asyncio.run(twenty())
    assert len(seen) == 40
    assert len(set(seen)) == 3
    assert bounded.busy == [0, 0, 0]


def test_a_request_goes_to_the_least_busy_thread_and_streams_do_not_count() -> None:
    bounded = BoundedSyncThreads(_recording_application([]), threads=2)
    bounded.busy = [5, 1]
    seen: list[int] = []
    bounded.application = _recording_application(seen)
    asyncio.run(bounded(_http(), None, None))
    assert seen[0] == _thread_of(bounded, 1)
    asyncio.run(bounded(_http("/o/alpha/live/"), None, None))
    assert bounded.busy == [5, 1]


def _thread_of(bounded: BoundedSyncThreads, number: int) -> int:
    return bounded.executors[number].submit(threading.get_ident).result()
