"""A tap on a rating's quick reply is the customer's message, shown in the transcript and
recorded as the rating, but it asks the helpdesk for nothing: a closed conversation stays
closed, nobody waits, nothing is unread, nothing is routed (messenger.webhook.route's
`is_rating_answer`, on both ways of storing). A comment written after it, or any other quick
reply, is the customer writing again: it reopens as before."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from csat.models import Survey
from csat.services import answer_payload, answers_record
from messenger.models import Conversation, ConversationEvent, ConversationState, Direction, Message
from messenger.services.conversations import state
from messenger.webhook import followups, receive
from tests.conftest import Tenant
from tests.csat.conftest import Desk, make_desk
from tests.messenger.fixtures import page_body, post_webhook

PAGE_A, PSID_A = "104000000000001", "6000000000000001"

on_both_paths = pytest.mark.parametrize(
    "one_statement",
    [
        pytest.param(
            True,
            id="one statement",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(connection.vendor != "postgresql", reason="the one statement is PostgreSQL's"),
            ],
        ),
        pytest.param(False, id="step by step"),
    ],
)


@pytest.fixture(autouse=True)
def _no_broker() -> Iterator[None]:
    followups.broker_pause_reset()
    with mock.patch.object(followups.webhook_tasks.webhook_followups, "delay", autospec=True):
        yield
    followups.broker_pause_reset()


@pytest.fixture
def closed(tenant_a: Tenant, sends: mock.MagicMock) -> Desk:
    """Organization A's customer wrote, an agent closed the conversation: they were asked."""
    desk = make_desk(tenant_a, page_id=PAGE_A, psid=PSID_A)
    state.conversation_close(
        organization=tenant_a.organization, acting_user=tenant_a.agent.user, conversation=desk.conversation
    )
    return desk


class Webhook:
    """POSTs the customer's messages on the path under test, recording which path stored them
    and whether routing was told the customer wrote."""

    def __init__(self, client: Client, capture: Any, *, one_statement: bool) -> None:
        self.client, self.capture, self.one_statement = client, capture, one_statement
        self.routed: list[Any] = []

    def send(self, message: dict[str, Any], *, at_minutes: int) -> Message:
        item = {
            "sender": {"id": PSID_A},
            "recipient": {"id": PAGE_A},
            "timestamp": int((timezone.now() + timedelta(minutes=at_minutes)).timestamp() * 1000),
            "message": message,
        }
        path: AbstractContextManager[Any] = (
            nullcontext()
            if self.one_statement
            else mock.patch.object(receive, "one_statement_applies", autospec=True, return_value=False)
        )
        stored_in_one: list[Any] = []
        store = receive.store_in_one_statement

        def recorded(*args: Any, **kwargs: Any) -> Any:
            stored_in_one.append(store(*args, **kwargs))
            return stored_in_one[-1]

        spy = mock.patch.object(receive, "store_in_one_statement", side_effect=recorded)
        routing = mock.patch.object(receive, "routing_enqueue", autospec=True)
        with path, spy, routing as routing_enqueue, self.capture(execute=True):
            assert post_webhook(self.client, page_body((PAGE_A, [item]))).status_code == 200
        # The path under test is the one taken.
        assert (len(stored_in_one) == 1 and stored_in_one[0] is not None) is self.one_statement
        self.routed += [call.kwargs["customer_wrote"] for call in routing_enqueue.call_args_list]
        return Message.objects.get(mid=message["mid"])

    def tap(self, payload: str, *, mid: str, at_minutes: int = 1, title: str = "4 · Very good") -> Message:
        return self.send({"mid": mid, "text": title, "quick_reply": {"payload": payload}}, at_minutes=at_minutes)


@pytest.fixture
def answer_tasks_run() -> Iterator[None]:
    """The reading of the taps, run at once (as the queued task would)."""
    with mock.patch(
        "csat.tasks.answers_record.delay", autospec=True, side_effect=lambda ids: answers_record(message_ids=ids)
    ):
        yield


def reopenings(conversation: Conversation) -> int:
    return ConversationEvent.objects.filter(conversation=conversation, kind=ConversationEvent.Kind.REOPENED).count()


@pytest.mark.django_db
@on_both_paths
def test_a_rating_tap_leaves_the_conversation_closed_and_nobody_waiting(
    closed: Desk, client: Client, django_capture_on_commit_callbacks: Any, answer_tasks_run: None, one_statement: bool
) -> None:
    before = Conversation.objects.get(pk=closed.conversation.pk)
    assert before.state == ConversationState.CLOSED
    survey = Survey.objects.get(conversation=closed.conversation)
    webhook = Webhook(client, django_capture_on_commit_callbacks, one_statement=one_statement)

    tap = webhook.tap(answer_payload(survey_id=survey.pk, score=4), mid="m_tap")

    conversation = Conversation.objects.get(pk=closed.conversation.pk)
    assert conversation.state == ConversationState.CLOSED
    assert reopenings(conversation) == 0
    assert conversation.waiting_since is None
    assert conversation.unread_count == before.unread_count
    assert conversation.queued_at == before.queued_at
    assert webhook.routed == []  # no assignment, no out-of-hours answer
    # Stored and shown in the transcript; it opens Messenger's reply window (an agent may
    # still answer a poor rating).
    assert (tap.direction, tap.is_hidden, tap.text, tap.conversation_id) == (
        Direction.INBOUND,
        False,
        "4 · Very good",
        conversation.pk,
    )
    assert (conversation.last_message_preview, conversation.last_inbound_at) == ("4 · Very good", tap.sent_at)
    # Recorded as the rating.
    survey.refresh_from_db()
    assert (survey.score, survey.answer_id) == (4, tap.pk)


@pytest.mark.django_db
@on_both_paths
def test_a_comment_after_the_rating_is_the_customer_writing_again(
    closed: Desk, client: Client, django_capture_on_commit_callbacks: Any, answer_tasks_run: None, one_statement: bool
) -> None:
    survey = Survey.objects.get(conversation=closed.conversation)
    webhook = Webhook(client, django_capture_on_commit_callbacks, one_statement=one_statement)
    webhook.tap(answer_payload(survey_id=survey.pk, score=2), mid="m_tap", at_minutes=1)

    comment = webhook.send({"mid": "m_comment", "text": "The courier was late."}, at_minutes=2)

    conversation = Conversation.objects.get(pk=closed.conversation.pk)
    assert conversation.state == ConversationState.OPEN
    assert reopenings(conversation) == 1
    assert (conversation.waiting_since, conversation.unread_count) == (
        comment.sent_at,
        closed.conversation.unread_count + 1,
    )
    assert [[item.conversation_id for item in told] for told in webhook.routed] == [[conversation.pk]]


@pytest.mark.django_db
@on_both_paths
def test_another_quick_reply_reopens_the_closed_conversation_as_before(
    closed: Desk, client: Client, django_capture_on_commit_callbacks: Any, answer_tasks_run: None, one_statement: bool
) -> None:
    webhook = Webhook(client, django_capture_on_commit_callbacks, one_statement=one_statement)

    tap = webhook.tap("TRACK_ORDER", mid="m_track", title="Track my order")

    conversation = Conversation.objects.get(pk=closed.conversation.pk)
    assert conversation.state == ConversationState.OPEN
    assert reopenings(conversation) == 1
    assert (conversation.waiting_since, conversation.unread_count) == (
        tap.sent_at,
        closed.conversation.unread_count + 1,
    )
    assert [[item.conversation_id for item in told] for told in webhook.routed] == [[conversation.pk]]
    assert Survey.objects.get(conversation=conversation).score is None


@pytest.mark.django_db
@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one statement is PostgreSQL's")
def test_a_rating_tap_costs_the_one_statement_no_query_more_than_a_text(
    closed: Desk, client: Client, answer_tasks: mock.MagicMock
) -> None:
    survey = Survey.objects.get(conversation=closed.conversation)

    def post(message: dict[str, Any]) -> int:
        item = {
            "sender": {"id": PSID_A},
            "recipient": {"id": PAGE_A},
            "timestamp": 1_800_000_000_000,
            "message": message,
        }
        with CaptureQueriesContext(connection) as queries:
            assert post_webhook(client, page_body((PAGE_A, [item]))).status_code == 200
        return len(queries)

    payload = answer_payload(survey_id=survey.pk, score=5)
    tap = post({"mid": "m_tap", "text": "5 · Excellent", "quick_reply": {"payload": payload}})
    text = post({"mid": "m_text", "text": "Thanks!"})
    assert tap == text
    assert Conversation.objects.get(pk=closed.conversation.pk).state == ConversationState.OPEN  # by the text
