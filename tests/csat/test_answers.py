"""The customer's answer: a tap on a quick reply, read after the webhook's commit (both ways
of storing), the comment they write after it, late and repeated taps, and taps that answer
nothing (ordinary messages)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from csat import services
from csat.models import Survey
from csat.services import answer_payload
from messenger.models import Conversation, Direction, Message, MessageKind
from messenger.services.conversations import state
from messenger.webhook import followups
from tests.conftest import Tenant
from tests.csat.conftest import Desk, make_desk
from tests.messenger.fixtures import page_body, post_webhook

PAGE_A, PSID_A = "104000000000001", "6000000000000001"
PAGE_B, PSID_B = "104000000000002", "6000000000000002"


@pytest.fixture(autouse=True)
def _no_broker() -> Iterator[None]:
    followups.broker_pause_reset()
    with mock.patch.object(followups.webhook_tasks.webhook_followups, "delay", autospec=True):
        yield
    followups.broker_pause_reset()


@pytest.fixture
def asked(tenant_a: Tenant, sends: mock.MagicMock) -> Desk:
    """Organization A's customer was asked for a rating just now."""
    desk = make_desk(tenant_a, page_id=PAGE_A, psid=PSID_A)
    state.conversation_close(
        organization=tenant_a.organization, acting_user=tenant_a.agent.user, conversation=desk.conversation
    )
    return desk


def survey_of(desk: Desk) -> Survey:
    return Survey.objects.get(conversation=desk.conversation)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def tap(
    client: Client,
    capture: Any,
    *,
    payload: str,
    mid: str,
    at: datetime | None = None,
    page_id: str = PAGE_A,
    psid: str = PSID_A,
    title: str = "4 · Very good",
) -> Message:
    """The customer taps a quick reply: the webhook's POST, its after-commit hooks run."""
    item = {
        "sender": {"id": psid},
        "recipient": {"id": page_id},
        "timestamp": ms(at or timezone.now()),
        "message": {"mid": mid, "text": title, "quick_reply": {"payload": payload}},
    }
    with capture(execute=True):
        assert post_webhook(client, page_body((page_id, [item]))).status_code == 200
    return Message.objects.get(mid=mid)


def writes(client: Client, capture: Any, *, text: str, mid: str, at: datetime) -> Message:
    item = {
        "sender": {"id": PSID_A},
        "recipient": {"id": PAGE_A},
        "timestamp": ms(at),
        "message": {"mid": mid, "text": text},
    }
    with capture(execute=True):
        assert post_webhook(client, page_body((PAGE_A, [item]))).status_code == 200
    return Message.objects.get(mid=mid)


def read_answers(answer_tasks: mock.MagicMock) -> None:
    """What the queued task does."""
    for call in answer_tasks.call_args_list:
        services.answers_record(message_ids=call.args[0])


@pytest.mark.django_db
@pytest.mark.parametrize("one_statement", [True, False], ids=["one statement", "step by step"])
def test_a_tap_is_recorded_against_the_conversation_and_the_agent_who_closed_it(
    asked: Desk,
    client: Client,
    django_capture_on_commit_callbacks: Any,
    answer_tasks: mock.MagicMock,
    one_statement: bool,
) -> None:
    survey = survey_of(asked)
    step_by_step = mock.patch("messenger.webhook.receive.one_statement_applies", return_value=False)
    with nullcontext() if one_statement else step_by_step:
        message = tap(
            client,
            django_capture_on_commit_callbacks,
            payload=answer_payload(survey_id=survey.pk, score=4),
            mid="m_tap",
        )
    # Queued after commit, only for the message that carries a rating's payload.
    answer_tasks.assert_called_once_with([message.pk])
    read_answers(answer_tasks)

    survey.refresh_from_db()
    assert (survey.score, survey.answer_id, survey.agent_id) == (4, message.pk, asked.tenant.agent.user_id)
    assert survey.answered_at == message.sent_at
    # The tap itself is kept in the transcript as the customer wrote it.
    assert (message.direction, message.text, message.conversation_id) == (
        Direction.INBOUND,
        "4 · Very good",
        asked.conversation.pk,
    )


@pytest.mark.django_db
def test_a_quick_reply_that_is_no_rating_queues_nothing(
    asked: Desk, client: Client, django_capture_on_commit_callbacks: Any, answer_tasks: mock.MagicMock
) -> None:
    tap(client, django_capture_on_commit_callbacks, payload="TRACK_ORDER", mid="m_track", title="Track")
    answer_tasks.assert_not_called()


@pytest.mark.django_db
def test_a_text_written_after_the_answer_within_a_day_becomes_its_comment(
    asked: Desk, client: Client, django_capture_on_commit_callbacks: Any, answer_tasks: mock.MagicMock
) -> None:
    survey = survey_of(asked)
    now = timezone.now()
    tap(client, django_capture_on_commit_callbacks, payload=answer_payload(survey_id=survey.pk, score=2), mid="m_2")
    read_answers(answer_tasks)
    comment = writes(
        client,
        django_capture_on_commit_callbacks,
        text="  The courier was late again.  ",
        mid="m_c",
        at=now + timedelta(minutes=3),
    )
    writes(
        client, django_capture_on_commit_callbacks, text="And another thing", mid="m_c2", at=now + timedelta(minutes=4)
    )

    assert services.surveys_sweep(now=now + timedelta(minutes=5)) == 1
    survey.refresh_from_db()
    assert (survey.score, survey.comment, survey.comment_message_id) == (2, "The courier was late again.", comment.pk)
    # A second run changes nothing.
    assert services.surveys_sweep(now=now + timedelta(minutes=10)) == 0


def asked_at(tenant: Tenant, moment: datetime) -> Desk:
    """A customer who wrote an hour before ``moment``, asked for a rating at ``moment``."""
    with mock.patch.object(timezone, "now", return_value=moment):
        desk = make_desk(tenant, page_id=PAGE_A, psid=PSID_A)
        state.conversation_close(
            organization=tenant.organization, acting_user=tenant.agent.user, conversation=desk.conversation
        )
    return desk


@pytest.mark.django_db
def test_a_text_more_than_a_day_after_the_answer_is_no_comment(
    tenant_a: Tenant,
    client: Client,
    django_capture_on_commit_callbacks: Any,
    answer_tasks: mock.MagicMock,
    sends: mock.MagicMock,
) -> None:
    now = timezone.now()
    desk = asked_at(tenant_a, now - timedelta(hours=27))
    survey = survey_of(desk)
    answer = tap(
        client,
        django_capture_on_commit_callbacks,
        payload=answer_payload(survey_id=survey.pk, score=5),
        mid="m_5",
        at=now - timedelta(hours=26),
    )
    read_answers(answer_tasks)
    writes(client, django_capture_on_commit_callbacks, text="New question", mid="m_q", at=now)
    assert services.survey_settle(survey=survey) is False
    survey.refresh_from_db()
    assert (survey.score, survey.answer_id, survey.comment, survey.comment_message_id) == (5, answer.pk, "", None)


@pytest.mark.django_db
def test_of_repeated_taps_the_last_within_a_day_counts(
    tenant_a: Tenant,
    client: Client,
    django_capture_on_commit_callbacks: Any,
    answer_tasks: mock.MagicMock,
    sends: mock.MagicMock,
) -> None:
    asking = timezone.now() - timedelta(hours=3)
    survey = survey_of(asked_at(tenant_a, asking))

    def payload(score: int) -> str:
        return answer_payload(survey_id=survey.pk, score=score)

    capture = django_capture_on_commit_callbacks
    tap(client, capture, payload=payload(2), mid="m_a", at=asking + timedelta(minutes=1))
    last = tap(client, capture, payload=payload(4), mid="m_b", at=asking + timedelta(hours=2))
    # Delivered late, written before the last one: it does not replace it.
    tap(client, capture, payload=payload(1), mid="m_old", at=asking + timedelta(minutes=30))
    read_answers(answer_tasks)
    survey.refresh_from_db()
    assert (survey.score, survey.answer_id, survey.answered_at) == (4, last.pk, last.sent_at)
    assert services.surveys_sweep() == 0  # the sweep agrees


@pytest.mark.django_db
def test_a_tap_more_than_a_day_after_the_asking_is_an_ordinary_message(
    tenant_a: Tenant,
    client: Client,
    django_capture_on_commit_callbacks: Any,
    answer_tasks: mock.MagicMock,
    sends: mock.MagicMock,
) -> None:
    asking = timezone.now() - timedelta(hours=26)
    survey = survey_of(asked_at(tenant_a, asking))
    capture = django_capture_on_commit_callbacks
    first = tap(
        client, capture, payload=answer_payload(survey_id=survey.pk, score=2), mid="m_a", at=asking + timedelta(hours=1)
    )
    late = tap(client, capture, payload=answer_payload(survey_id=survey.pk, score=5), mid="m_late")
    read_answers(answer_tasks)
    survey.refresh_from_db()
    assert (survey.score, survey.answer_id) == (2, first.pk)
    late_row = Message.objects.get(pk=late.pk)
    assert (late_row.direction, late_row.text, late_row.is_hidden) == (Direction.INBOUND, "4 · Very good", False)


@pytest.mark.django_db
def test_a_rating_for_a_conversation_asked_nothing_is_recorded_nowhere_and_asks_for_nothing(
    tenant_a: Tenant,
    client: Client,
    django_capture_on_commit_callbacks: Any,
    answer_tasks: mock.MagicMock,
    sends: mock.MagicMock,
) -> None:
    desk = make_desk(tenant_a, page_id=PAGE_A, psid=PSID_A)
    message = tap(
        client, django_capture_on_commit_callbacks, payload="CSAT:987654:5", mid="m_stray", title="5 · Excellent"
    )
    read_answers(answer_tasks)
    assert not Survey.objects.exists()
    conversation = Conversation.objects.get(pk=desk.conversation.pk)
    assert (message.kind, message.is_hidden, message.text) == (MessageKind.TEXT, False, "5 · Excellent")
    # Shown in the transcript and opening the reply window; its form alone (no survey is read
    # on the webhook's path) makes it ask for no answer: nothing unread, nobody waiting.
    assert (conversation.last_message_preview, conversation.unread_count) == ("5 · Excellent", 0)
    assert conversation.last_inbound_at == message.sent_at
    assert conversation.waiting_since is None


@pytest.mark.django_db
def test_a_tap_naming_another_organizations_survey_never_touches_it(
    asked: Desk,
    tenant_b: Tenant,
    client: Client,
    django_capture_on_commit_callbacks: Any,
    answer_tasks: mock.MagicMock,
) -> None:
    other = make_desk(tenant_b, page_id=PAGE_B, psid=PSID_B)
    state.conversation_close(
        organization=tenant_b.organization, acting_user=tenant_b.agent.user, conversation=other.conversation
    )
    theirs = survey_of(other)
    # Organization A's customer taps a payload naming organization B's survey.
    tap(client, django_capture_on_commit_callbacks, payload=answer_payload(survey_id=theirs.pk, score=1), mid="m_x")
    read_answers(answer_tasks)
    services.surveys_sweep()
    theirs.refresh_from_db()
    ours = survey_of(asked)
    assert (theirs.score, theirs.answer_id, theirs.comment) == (None, None, "")
    assert ours.score is None


@pytest.mark.django_db
def test_a_tap_whose_reading_could_not_be_queued_is_read_by_the_sweep(
    asked: Desk, client: Client, django_capture_on_commit_callbacks: Any, answer_tasks: mock.MagicMock
) -> None:
    survey = survey_of(asked)
    answer_tasks.side_effect = ConnectionError("broker down")
    message = tap(
        client, django_capture_on_commit_callbacks, payload=answer_payload(survey_id=survey.pk, score=3), mid="m_3"
    )
    survey.refresh_from_db()
    assert survey.score is None  # nothing read yet; the POST was answered 200 all the same
    assert services.surveys_sweep() == 1
    survey.refresh_from_db()
    assert (survey.score, survey.answer_id) == (3, message.pk)
