"""The webhook sender's posts (outgoing.transport) against a real local receiver: a batch
stops starting posts once one got no answer or its time is up (the first always goes), an
answer is kept only up to its excerpt, and the connection goes to the address that was
checked, never to a new lookup of the name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from helpdesk import netfetch
from outgoing.addresses import endpoint_target
from outgoing.transport import Answer, EndpointClient, Post
from tests.outgoing.conftest import HOST, Receiver
from tests.servers import free_port

POSTS = [Post(b'{"n": %d}' % n, {"Content-Type": "application/json"}) for n in range(3)]


def _client(target: netfetch.Target, **options: Any) -> EndpointClient:
    settings: dict[str, Any] = {
        "connections": 1,
        "connect_seconds": 2.0,
        "total_seconds": 5.0,
        "excerpt_bytes": 100,
        "user_agent": "helpdesk-webhooks/test",
        "batch_seconds": 60.0,
        **options,
    }
    return EndpointClient(target, **settings)


@pytest.fixture
def opened() -> Iterator[list[EndpointClient]]:
    clients: list[EndpointClient] = []
    yield clients
    for client in clients:
        client.close()


def _local(port: int) -> netfetch.Target:
    return netfetch.Target(
        scheme="http", host="127.0.0.1", port=port, addresses=("127.0.0.1",), request_target="/hook", trusted=True
    )


def test_a_batch_stops_starting_posts_after_one_got_no_answer(opened: list[EndpointClient]) -> None:
    client = _client(_local(free_port()))  # nothing listens there
    opened.append(client)
    first, *rest = client.post_all(POSTS)
    assert isinstance(first, Answer) and first.status is None and first.error
    assert rest == [None, None]


def test_a_batch_starts_no_post_after_its_time_but_always_the_first(
    receiver: Receiver, opened: list[EndpointClient]
) -> None:
    client = _client(_local(receiver.port), batch_seconds=0.0)
    opened.append(client)
    first, *rest = client.post_all(POSTS)
    assert first is not None and first.ok
    assert rest == [None, None]
    assert [r.body for r in receiver.requests] == [POSTS[0].body]


def test_an_answer_is_kept_up_to_its_excerpt_and_the_next_post_still_goes(
    receiver: Receiver, opened: list[EndpointClient]
) -> None:
    receiver.answer_body = b"x" * 5000
    client = _client(_local(receiver.port))
    opened.append(client)
    answers = client.post_all(POSTS)
    assert all(answer is not None and answer.ok and answer.excerpt == "x" * 100 for answer in answers)
    assert len(receiver.requests) == 3


def test_the_connection_goes_to_the_checked_address_under_the_name(
    receiver: Receiver, dns: Any, opened: list[EndpointClient]
) -> None:
    client = _client(endpoint_target(receiver.url))
    opened.append(client)
    # The name now leads elsewhere: the client keeps to the address it was given.
    dns.answer = ("10.0.0.5",)
    answers = client.post_all(POSTS[:1])
    assert answers[0] is not None and answers[0].ok
    (request,) = receiver.requests
    assert request.headers["host"] == f"{HOST}:{receiver.port}"
    assert request.headers["user-agent"] == "helpdesk-webhooks/test"
    assert request.path == "/hook"
