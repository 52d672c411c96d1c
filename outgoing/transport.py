"""Posting a batch of deliveries to one endpoint.

The posts go out with aiohttp, on an event loop that belongs to the sender (a Celery thread:
nothing else runs on it), over at most `connections` kept-alive connections. The rules of
`helpdesk.netfetch` hold: the connection goes only to an address that was checked (a resolver
pinned to them: the name is never looked up again, and stays the one of the Host header, SNI
and the certificate), no redirect is followed, no proxy from the environment is used, no cookie
is kept, and the answer's first `excerpt_bytes` are read, never more.

Why not urllib3 in threads, as `netfetch` fetches: a POST cost about 350 µs of CPU there and
80 µs here, and a sender posts thousands a second.

A batch stops starting posts after the first one that got no answer at all (a timeout, a
refused or dropped connection: the endpoint is down or too slow, and the batch should cost one
timeout, not one per delivery), or once it has lasted `batch_seconds`; the posts it did not
start are answered None and stay due.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
import certifi
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from helpdesk import netfetch


@dataclass(frozen=True, slots=True)
class Answer:
    status: int | None
    ms: int
    excerpt: str
    error: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class Post:
    body: bytes
    headers: dict[str, str]


class PinnedResolver(AbstractResolver):
    """The target's checked addresses, whatever name is asked (there is only the target's)."""

    def __init__(self, target: netfetch.Target) -> None:
        self.addresses = target.addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.addresses
        ]

    async def close(self) -> None:
        return None


def _url(target: netfetch.Target) -> URL:
    host = f"[{target.host}]" if ":" in target.host else target.host
    return URL(f"{target.scheme}://{host}:{target.port}{target.request_target}", encoded=True)


class EndpointClient:
    """Kept-alive connections to one checked target, for one sender's run. Not thread-safe:
    the sender's thread is its only user. `close()` when done."""

    def __init__(
        self,
        target: netfetch.Target,
        *,
        connections: int,
        connect_seconds: float,
        total_seconds: float,
        excerpt_bytes: int,
        user_agent: str,
        batch_seconds: float,
    ) -> None:
        self.target = target
        self.connections = connections
        self.excerpt_bytes = excerpt_bytes
        self.user_agent = user_agent
        self.batch_seconds = batch_seconds
        self.timeout = aiohttp.ClientTimeout(total=total_seconds, sock_connect=connect_seconds)
        self.url = _url(target)
        self.loop = asyncio.new_event_loop()
        self.session: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        # Made on the loop that runs it (aiohttp binds a session to the running loop).
        if self.session is None:
            context = ssl.create_default_context(cafile=certifi.where())
            connector = aiohttp.TCPConnector(
                limit=self.connections,
                resolver=PinnedResolver(self.target),
                use_dns_cache=False,
                ssl=context,
            )
            self.session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=False,
                skip_auto_headers=("Accept-Encoding",),
            )
        return self.session

    def post_all(self, posts: Sequence[Post]) -> list[Answer | None]:
        """Each post's answer, in order; None for those not started (see the module's text)."""
        return self.loop.run_until_complete(self._post_all(posts))

    async def _post_all(self, posts: Sequence[Post]) -> list[Answer | None]:
        session = self._session()
        gate = asyncio.Semaphore(self.connections)
        deadline = time.monotonic() + self.batch_seconds
        stopped = begun = False

        async def one(post: Post) -> Answer | None:
            nonlocal stopped, begun
            async with gate:
                # The first post always goes (a batch always moves on).
                if stopped or (begun and time.monotonic() > deadline):
                    return None
                begun = True
                answer = await self._post(session, post)
                if answer.status is None:
                    stopped = True
                return answer

        return list(await asyncio.gather(*(one(post) for post in posts)))

    async def _post(self, session: aiohttp.ClientSession, post: Post) -> Answer:
        started = time.monotonic()
        headers = {"User-Agent": self.user_agent, **post.headers}
        try:
            async with session.post(self.url, data=post.body, headers=headers, allow_redirects=False) as response:
                excerpt = await response.content.read(self.excerpt_bytes)
                while len(excerpt) < self.excerpt_bytes and not response.content.at_eof():
                    more = await response.content.read(self.excerpt_bytes - len(excerpt))
                    if not more:
                        break
                    excerpt += more
                if not response.content.at_eof() and await response.content.read(1):
                    # More than we keep: not worth reading to reuse the connection.
                    response.close()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return Answer(None, int((time.monotonic() - started) * 1000), "", type(error).__name__[:200])
        return Answer(status, int((time.monotonic() - started) * 1000), excerpt.decode("utf-8", "replace"), "")

    def close(self) -> None:
        try:
            if self.session is not None:
                self.loop.run_until_complete(self.session.close())
        finally:
            self.loop.close()
