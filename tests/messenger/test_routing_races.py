"""Concurrent routers and drainers on PostgreSQL (row locks, SKIP LOCKED): a conversation is
never assigned twice, an agent never goes over capacity."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection, connections
from django.utils import timezone

from helpdesk.models import Membership
from messenger.models import Conversation, ConversationEvent, ConversationState
from messenger.routing.drain import agent_backlog_drain
from messenger.routing.route import conversations_route
from tests.conftest import Tenant
from tests.messenger.routing_world import agent, routing_channel, waiting

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


def _run_together(jobs: list[Callable[[], object]]) -> None:
    start = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        try:
            start.wait(timeout=30)
            job()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def _assert_no_double_assignment_and_nobody_over_capacity(capacities: dict[int, int]) -> Counter[int]:
    lines = Counter(ConversationEvent.objects.filter(kind="assigned").values_list("conversation_id", flat=True))
    assert all(count == 1 for count in lines.values()), lines
    load = Counter(
        Conversation.objects.filter(state=ConversationState.OPEN, assignee__isnull=False).values_list(
            "assignee_id", flat=True
        )
    )
    for user_id, count in load.items():
        assert count <= capacities[user_id], (user_id, count)
    assert sum(load.values()) == len(lines)
    return load


def test_routers_racing_over_the_same_conversations_never_double_assign_nor_overfill(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    agents = [agent(tenant_a, channel, name, capacity=4) for name in ("Aiko", "Ben", "Cara")]
    conversation_ids = [waiting(channel).pk for _ in range(20)]

    def router(seed: int) -> Callable[[], object]:
        ids = list(conversation_ids)
        random.Random(seed).shuffle(ids)
        # One conversation per call, as many webhooks' tasks would.
        return lambda: [conversations_route(conversation_ids=[pk]) for pk in ids]

    _run_together([router(seed) for seed in range(6)])

    load = _assert_no_double_assignment_and_nobody_over_capacity({a.user_id: 4 for a in agents})
    assert sum(load.values()) == 12  # every seat taken
    rest = Conversation.objects.filter(pk__in=conversation_ids, assignee__isnull=True)
    assert rest.count() == 8 and not rest.filter(queued_at__isnull=True).exists()


def test_drainers_and_routers_together_share_the_queue_without_overfilling_anyone(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    agents = [agent(tenant_a, channel, f"Agent{n}", capacity=3) for n in range(5)]
    queued = [waiting(channel, queued_at=timezone.now()).pk for _ in range(12)]
    fresh = [waiting(channel).pk for _ in range(12)]
    members = list(Membership.objects.filter(pk__in=[a.pk for a in agents]).select_related("organization", "user"))

    def drainer(member: Membership) -> Callable[[], object]:
        return lambda: [agent_backlog_drain(membership=member) for _ in range(3)]

    def router(ids: list[int]) -> Callable[[], object]:
        return lambda: conversations_route(conversation_ids=ids)

    _run_together(
        [drainer(member) for member in members] + [router(fresh), router(list(reversed(fresh))), router(queued)]
    )

    load = _assert_no_double_assignment_and_nobody_over_capacity({a.user_id: 3 for a in agents})
    assert sum(load.values()) == 15  # 5 agents × 3 seats, 24 conversations


def test_racing_round_robin_routers_still_spread_conversations_evenly(tenant_a: Tenant) -> None:
    channel = routing_channel(tenant_a)
    agents = [agent(tenant_a, channel, name, capacity=100) for name in ("Aiko", "Ben", "Cara")]
    conversation_ids = [waiting(channel).pk for _ in range(24)]

    def router(part: list[int]) -> Callable[[], object]:
        return lambda: [conversations_route(conversation_ids=[pk]) for pk in part]

    _run_together([router(conversation_ids[n::4]) for n in range(4)])

    load = _assert_no_double_assignment_and_nobody_over_capacity({a.user_id: 100 for a in agents})
    assert sum(load.values()) == 24
    assert max(load.values()) - min(load.values()) <= 1, load
