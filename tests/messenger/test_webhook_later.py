"""Applying later (settings.WEBHOOK_APPLY_LATER, messenger.webhook.later): the receiver keeps a
verified POST and answers at once; a worker applies the POSTs waiting, joined into batches.

`test_joined_posts_store_what_posts_applied_one_by_one_store` plays the random POSTs of
test_webhook_paths_agree twice on the same fresh world: applied each before its answer, and
kept then applied together (in batches of a random size). Every row the webhook writes must be
the same, except the columns that say when a row was written (created_at, updated_at, an
event's processed_at): the worker writes them later.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import OperationalError, models, transaction
from django.test import Client
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from messenger import tasks
from messenger.conversation_changes import CREATED
from messenger.models import Message, ReceivedPost, WebhookEvent, WebhookOutcome
from messenger.webhook import later, outcomes, receive
from tests.conftest import Tenant
from tests.messenger import test_webhook_paths_agree as agree
from tests.messenger.fixtures import PSID, fast_password_hashing, page_body, post_webhook, queued_followups, text_item

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_followups")]
__all__ = ["fast_password_hashing", "queued_followups"]


@pytest.fixture
def apply_later(settings: Any) -> Iterator[mock.MagicMock]:
    """POSTs kept to apply later; the applier's wake-ups recorded instead of queued."""
    settings.WEBHOOK_APPLY_LATER = True
    later._kick_clear()
    with mock.patch.object(tasks.webhook.received_posts_apply, "delay", autospec=True) as wake:
        yield wake
    later._kick_clear()


@pytest.fixture
def live_page(tenant_a: Tenant) -> Any:
    from tests import factories

    department = factories.make_department(tenant_a.organization, "Later support")
    channel = factories.make_channel(tenant_a.organization, department, name="Shop")
    return factories.make_page(channel, page_id=agree.PAGE_A, name="Shop page")


def _body(mid: str, **item: Any) -> dict[str, Any]:
    """A POST of one customer message to the live page."""
    return page_body((agree.PAGE_A, [text_item(page_id=agree.PAGE_A, mid=mid, **item)]))


def test_a_post_kept_is_answered_at_once_and_applied_by_the_worker(
    client: Client, live_page: Any, apply_later: mock.MagicMock
) -> None:
    first = _body("m_later_1", text="Hello")
    second = _body("m_later_2", text="Anyone?")
    assert post_webhook(client, first).status_code == 200
    assert post_webhook(client, second).status_code == 200

    # Kept as they arrived, nothing applied yet; one wake-up for both.
    assert [bytes(body) for body in ReceivedPost.objects.order_by("pk").values_list("body", flat=True)] == [
        json.dumps(first).encode(),
        json.dumps(second).encode(),
    ]
    assert not Message.objects.filter(mid__in=["m_later_1", "m_later_2"]).exists()
    assert not WebhookEvent.objects.exists()
    assert apply_later.call_count == 1

    arrived = list(ReceivedPost.objects.order_by("pk").values_list("received_at", flat=True))
    assert later.received_posts_apply() == 2

    assert not ReceivedPost.objects.exists()
    stored = Message.objects.filter(mid__in=["m_later_1", "m_later_2"]).order_by("mid")
    assert [(m.text, m.received_at, m.conversation.contact.psid) for m in stored] == [
        ("Hello", arrived[0], PSID),
        ("Anyone?", arrived[1], PSID),
    ]
    # One conversation, and the event log says when each event arrived.
    assert stored[0].conversation_id == stored[1].conversation_id
    assert list(WebhookEvent.objects.order_by("pk").values_list("mid", "outcome", "received_at")) == [
        ("m_later_1", WebhookOutcome.STORED, arrived[0]),
        ("m_later_2", WebhookOutcome.STORED, arrived[1]),
    ]

    # The applier cleared the wake-up mark: the next POST wakes it again.
    third = _body("m_later_3")
    assert post_webhook(client, third).status_code == 200
    assert apply_later.call_count == 2


def test_a_run_that_lingers_applies_the_posts_that_come_meanwhile_and_they_queue_no_run(
    client: Client, live_page: Any, apply_later: mock.MagicMock
) -> None:
    first = _body("m_linger_1")
    assert post_webhook(client, first).status_code == 200
    assert apply_later.call_count == 1
    arriving = [_body(f"m_linger_{n}") for n in (2, 3)]
    clock = [0.0]

    def sleep(seconds: float) -> None:
        # While the run waits for more, a POST arrives (the first waits); then time passes.
        if arriving:
            assert post_webhook(client, arriving.pop(0)).status_code == 200
        clock[0] += seconds

    with (
        mock.patch.object(later.time, "sleep", side_effect=sleep),
        mock.patch.object(later.time, "monotonic", side_effect=lambda: clock[0]),
    ):
        assert later.received_posts_apply(linger=later.LINGER_SECONDS) == 3
    assert Message.objects.filter(mid__startswith="m_linger_").count() == 3
    # The run held the mark: the POSTs that came while it ran queued nothing.
    assert apply_later.call_count == 1
    # It cleared the mark as it ended: the next POST queues a run.
    assert post_webhook(client, _body("m_linger_4")).status_code == 200
    assert apply_later.call_count == 2


def test_a_run_waits_after_a_batch_that_was_not_full_so_the_posts_that_come_meanwhile_apply_together(
    client: Client, live_page: Any, apply_later: mock.MagicMock
) -> None:
    """Under steady traffic, claiming again at once after each batch would take the few POSTs
    that came while it applied: small batches, each paying the claim, the lock and the commit."""
    for n in range(5):
        assert post_webhook(client, _body(f"m_batch_{n}")).status_code == 200
    arriving = [[_body(f"m_batch_{n}_{k}") for k in range(3)] for n in (5, 6)]
    clock = [0.0]
    claimed: list[int] = []
    steps: list[str] = []
    real_claim = later._claim

    def claim(limit: int) -> list[ReceivedPost]:
        posts = real_claim(limit)
        claimed.append(len(posts))
        steps.append(f"claim {len(posts)}")
        return posts

    def sleep(seconds: float) -> None:
        steps.append("wait")
        if arriving:
            for body in arriving.pop(0):
                assert post_webhook(client, body).status_code == 200
        clock[0] += seconds

    with (
        mock.patch.object(later, "_claim", side_effect=claim),
        mock.patch.object(later.time, "sleep", side_effect=sleep),
        mock.patch.object(later.time, "monotonic", side_effect=lambda: clock[0]),
    ):
        assert later.received_posts_apply(batch_posts=2, linger=later.LINGER_SECONDS) == 11
    # Full batches follow one another at once; after one that was not full, the run waits and
    # takes together the three POSTs that came meanwhile (two batches: it takes two at most).
    assert steps[:8] == ["claim 2", "claim 2", "claim 1", "wait", "claim 2", "claim 1", "wait", "claim 2"]
    assert sum(claimed) == 11
    assert Message.objects.filter(mid__startswith="m_batch_").count() == 11


def test_a_process_that_just_saw_the_mark_set_does_not_ask_again(
    client: Client, live_page: Any, apply_later: mock.MagicMock
) -> None:
    clock = [100.0]
    bodies = [_body(f"m_trust_{n}") for n in range(4)]
    with (
        mock.patch.object(later.time, "monotonic", side_effect=lambda: clock[0]),
        mock.patch.object(later, "cache", wraps=cache) as asked,
    ):
        assert post_webhook(client, bodies[0]).status_code == 200  # sets the mark, queues the run
        clock[0] += later.MARK_TRUSTED_SECONDS / 2
        assert post_webhook(client, bodies[1]).status_code == 200  # trusts it: no question
        assert asked.add.call_count == 1
        clock[0] += later.MARK_TRUSTED_SECONDS
        assert post_webhook(client, bodies[2]).status_code == 200  # asks again, finds it set
        assert asked.add.call_count == 2
        assert apply_later.call_count == 1
        # The run's end in this process forgets it at once.
        assert later.received_posts_apply() == 3
        assert post_webhook(client, bodies[3]).status_code == 200
        assert apply_later.call_count == 2


def test_a_bad_body_is_refused_before_it_is_kept(client: Client, apply_later: mock.MagicMock) -> None:
    assert post_webhook(client, b"{not json").status_code == 400
    assert post_webhook(client, b"{}", signature="sha256=" + "0" * 64).status_code == 403
    assert not ReceivedPost.objects.exists()
    assert apply_later.call_count == 0


def test_a_database_failure_while_applying_leaves_the_posts_kept(
    client: Client, live_page: Any, apply_later: mock.MagicMock
) -> None:
    body = _body("m_later_db")
    assert post_webhook(client, body).status_code == 200
    with (
        mock.patch.object(later, "events_store", autospec=True, side_effect=OperationalError("gone")),
        pytest.raises(OperationalError),
    ):
        later.received_posts_apply()
    # The claim was rolled back with the rest: the next run applies it.
    assert ReceivedPost.objects.count() == 1
    assert later.received_posts_apply() == 1
    assert Message.objects.filter(mid="m_later_db").exists()


def test_a_post_that_fails_to_apply_is_kept_as_pending_events(
    client: Client, live_page: Any, apply_later: mock.MagicMock
) -> None:
    body = _body("m_later_bad", psid="6000000000000777")
    assert post_webhook(client, body).status_code == 200
    with mock.patch.object(receive, "batch_apply", autospec=True, side_effect=ValueError("a bug")):
        assert later.received_posts_apply() == 1
    assert not ReceivedPost.objects.exists()
    assert list(WebhookEvent.objects.values_list("mid", "outcome")) == [("m_later_bad", WebhookOutcome.PENDING)]
    # The periodic retry applies it once the bug is gone.
    with mock.patch.object(receive, "PENDING_RETRY_AFTER", timedelta(0)):
        assert receive.webhook_events_retry_pending().retried == 1
    assert Message.objects.filter(mid="m_later_bad").exists()


def test_without_a_broker_the_post_is_kept_and_the_periodic_catch_up_applies_it(
    client: Client, live_page: Any, apply_later: mock.MagicMock
) -> None:
    apply_later.side_effect = OSError("broker down")
    for number in (1, 2):
        body = _body(f"m_later_nb{number}")
        assert post_webhook(client, body).status_code == 200
    # Each POST tried to wake the applier: a failed wake-up leaves no mark behind.
    assert apply_later.call_count == 2
    assert ReceivedPost.objects.count() == 2
    tasks.webhook_events_process_pending()
    assert not ReceivedPost.objects.exists()
    assert Message.objects.filter(mid__startswith="m_later_nb").count() == 2


# --------------------------------------------------------------------------- joined = one by one

# The columns that say when a row was written, not what happened: the worker writes later.
_WRITTEN_AT = {"created_at", "updated_at", "processed_at"}


def _masked(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored rows with the columns of _WRITTEN_AT blanked (the rows are tuples of every
    concrete column but the primary key, in the order agree._rows reads them)."""
    from messenger.models import Contact, Conversation, ConversationEvent, MessageSearchText

    models_of: dict[str, type[models.Model]] = {
        "contacts": Contact,
        "conversations": Conversation,
        "messages": Message,
        "search texts": MessageSearchText,
        "system lines": ConversationEvent,
        "event log": WebhookEvent,
    }
    masked = {}
    for what, rows in stored.items():
        if what not in models_of:
            continue
        model = models_of[what]
        names = [f.name for f in model._meta.concrete_fields if f.is_relation or not f.primary_key]
        blank = {index for index, name in enumerate(names) if name in _WRITTEN_AT}
        masked[what] = sorted(
            (tuple("·" if index in blank else value for index, value in enumerate(row)) for row in rows), key=repr
        )
    return masked


def _difference(what: str, expected: Any, found: Any) -> str:
    if isinstance(expected, dict):
        return "; ".join(_difference(f"{what}.{key}", expected[key], found.get(key)) for key in expected)
    only_expected = [row for row in expected if row not in found]
    only_found = [row for row in found if row not in expected]
    return f"{what}: one by one only {only_expected!r}; joined only {only_found!r}"


def _joined_followups(named: list[dict[str, list[tuple[str, ...]]]]) -> dict[str, list[tuple[str, ...]]]:
    """What the batches queued, whichever batch queued it. A customer who wrote in several
    POSTs of one batch is routed once, for the last: by conversation only."""
    joined: dict[str, set[tuple[str, ...]]] = {}
    for followups in named:
        for what, items in followups.items():
            if what == "customer wrote":
                items = [item[:2] for item in items]
            joined.setdefault(what, set()).update(map(tuple, items))
    # A conversation a batch creates is told once, as created (its page reads all its messages):
    # a later POST's messages in it are news one by one, not in the batch that creates it.
    created = {item[:3] for item in joined.get("live", set()) if item[3] == CREATED}
    joined["live"] = {item for item in joined.get("live", set()) if item[:3] not in created or item[3] == CREATED}
    return {what: sorted(items, key=repr) for what, items in joined.items()}


def _in_arrival_order(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The POSTs with Facebook's times moved into the minute before each arrives (POST n at
    T_WORLD + n minutes): events dated in the order they arrive, as Facebook sends them.

    A batch is applied by Facebook's times, whichever of its POSTs an event came in (a
    customer's earliest message starts the wait, the latest answer ends it), as one POST is;
    POSTs applied one by one follow their order of arrival instead. The two agree when the
    events arrive in time order; an event arriving before one dated earlier is a race either
    way."""
    moved = copy.deepcopy(posts)
    for number, post in enumerate(moved):
        # After the previous POST's arrival (the time of its events without one).
        start = int(agree.T_WORLD.timestamp() * 1000) + number * 60_000 + 1000
        for entry in post.get("entry", []):
            for key in ("messaging", "standby"):
                for item in entry.get(key, []):
                    if isinstance(item.get("timestamp"), int):
                        item["timestamp"] = start + item["timestamp"] - agree.BASE_MS
                    for receipt in ("read", "delivery"):
                        if isinstance(item.get(receipt), dict) and isinstance(item[receipt].get("watermark"), int):
                            item[receipt]["watermark"] = start + item[receipt]["watermark"] - agree.BASE_MS
    return moved


def _play_joined(tenants: tuple[Tenant, Tenant], posts: list[dict[str, Any]], *, batch_posts: int) -> dict[str, Any]:
    queued: list[outcomes.BatchResult] = []
    real_followups = receive.followups_on_commit

    def followups(result: outcomes.BatchResult) -> None:
        queued.append(copy.deepcopy(result))
        real_followups(result)

    clock = agree.FrozenClock()
    with transaction.atomic(), agree.frozen(clock):
        agree._world(*tenants)
        client = Client()
        with mock.patch.object(receive, "followups_on_commit", autospec=True, side_effect=followups):
            for number, body in enumerate(posts, start=1):
                clock.now = agree.T_WORLD + timedelta(minutes=number)
                assert post_webhook(client, copy.deepcopy(body)).status_code == 200
            assert ReceivedPost.objects.count() == len(posts)
            clock.now = agree.T_WORLD + timedelta(days=1)
            assert later.received_posts_apply(batch_posts=batch_posts) == len(posts)
        stored = agree._stored()
        stored["follow-ups"] = [agree._followups_named(result) for result in queued]
        transaction.set_rollback(True)
    return stored


def test_joined_posts_store_what_posts_applied_one_by_one_store(
    tenant_a: Tenant, tenant_b: Tenant, settings: Any
) -> None:
    batches_joined = 0

    @hypothesis_settings(
        max_examples=50,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def joined_agrees(data: st.DataObject) -> None:
        nonlocal batches_joined
        draw = agree.Draw(data)
        posts = _in_arrival_order(agree._draw_posts(draw, max_posts=5))
        batch_posts = draw(st.integers(1, 4))
        note(f"POSTs: {json.dumps(posts)}; batches of {batch_posts}")
        settings.WEBHOOK_APPLY_LATER = False
        one_by_one = agree._play((tenant_a, tenant_b), posts, one_statement=True)
        settings.WEBHOOK_APPLY_LATER = True
        later._kick_clear()
        with mock.patch.object(tasks.webhook.received_posts_apply, "delay", autospec=True):
            joined = _play_joined((tenant_a, tenant_b), posts, batch_posts=batch_posts)
        expected, found = _masked(one_by_one), _masked(joined)
        expected["follow-ups"] = _joined_followups(one_by_one["follow-ups"])
        found["follow-ups"] = _joined_followups(joined["follow-ups"])
        for what in expected:
            assert found[what] == expected[what], _difference(what, expected[what], found[what])
        if batch_posts > 1 and len(posts) > 1:
            batches_joined += 1

    joined_agrees()
    later._kick_clear()
    # Not vacuous: batches joined several POSTs.
    assert batches_joined >= 5
