"""Asking for a rating when an agent closes a conversation or resolves its ticket: only when
the channel asks, only inside the 24-hour window, never tagged, once per close."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import translation

from csat.models import Survey, SurveyOccasion, SurveyStatus
from csat.services import answer_parse
from messenger.models import Conversation, Direction, Message, MessageSource, MessageStatus
from messenger.services.conversations import bulk, state
from tests.conftest import Tenant
from tests.csat.conftest import Desk, make_desk
from tickets import services as ticket_services
from tickets.models import TicketState


def close(desk: Desk) -> None:
    state.conversation_close(
        organization=desk.tenant.organization, acting_user=desk.tenant.agent.user, conversation=desk.conversation
    )


def questions(desk: Desk) -> list[Message]:
    return list(Message.objects.filter(conversation=desk.conversation, source=MessageSource.AUTOMATIC).order_by("pk"))


@pytest.mark.django_db(transaction=True)
def test_closing_inside_the_window_queues_the_question_with_five_quick_replies(
    desk: Desk, sends: mock.MagicMock
) -> None:
    close(desk)

    [survey] = Survey.objects.filter(conversation=desk.conversation)
    [question] = questions(desk)
    assert (survey.status, survey.not_sent_reason, survey.question_id) == (SurveyStatus.SENT, "", question.pk)
    assert (survey.occasion, survey.agent_id, survey.channel_id) == (
        SurveyOccasion.CONVERSATION_CLOSED,
        desk.tenant.agent.user_id,
        desk.channel.pk,
    )
    assert (question.direction, question.status, question.author) == (Direction.OUTBOUND, MessageStatus.QUEUED, None)
    assert (question.messaging_type, question.tag) == ("RESPONSE", "")
    assert question.text.startswith("How would you rate")
    assert [answer_parse(q["payload"]) for q in question.quick_replies] == [(survey.pk, n) for n in range(1, 6)]
    assert all(q["content_type"] == "text" and 0 < len(q["title"]) <= 20 for q in question.quick_replies)
    # Sent after commit through the sending task.
    sends.assert_called_once_with(question.pk)
    # The question does not answer the customer.
    desk.conversation.refresh_from_db()
    assert desk.conversation.state == "closed"


@pytest.mark.django_db
def test_outside_the_24_hour_window_nothing_is_sent_and_the_survey_says_why(
    tenant_a: Tenant, sends: mock.MagicMock
) -> None:
    # 30 hours: a human agent could still answer with the tag, an automatic question never.
    desk = make_desk(tenant_a, wrote_ago=timedelta(hours=30))
    close(desk)

    [survey] = Survey.objects.filter(conversation=desk.conversation)
    assert (survey.status, survey.not_sent_reason, survey.question_id) == (
        SurveyStatus.NOT_SENT,
        "reply_window_closed",
        None,
    )
    assert questions(desk) == []
    sends.assert_not_called()


@pytest.mark.django_db
def test_a_customer_who_never_wrote_is_not_asked(tenant_a: Tenant, sends: mock.MagicMock) -> None:
    desk = make_desk(tenant_a, wrote_ago=None)
    close(desk)
    assert Survey.objects.get(conversation=desk.conversation).not_sent_reason == "reply_window_closed"
    assert questions(desk) == []


@pytest.mark.django_db
def test_a_channel_that_does_not_ask_sends_nothing(tenant_a: Tenant, sends: mock.MagicMock) -> None:
    desk = make_desk(tenant_a, asks_for_rating=False)
    close(desk)
    assert not Survey.objects.exists()
    assert questions(desk) == []


@pytest.mark.django_db
def test_the_question_is_in_the_customers_language_else_the_organizations(
    tenant_a: Tenant, sends: mock.MagicMock
) -> None:
    japanese = make_desk(tenant_a)
    japanese.conversation.contact.locale = "ja_JP"
    japanese.conversation.contact.save(update_fields=["locale"])
    close(japanese)
    [question] = questions(japanese)
    assert question.text.startswith("今回の対応")
    assert question.quick_replies[4]["title"] == "5 · 大変満足"
    assert Survey.objects.get(conversation=japanese.conversation).language == "ja"

    tenant_a.organization.language = "ja"
    tenant_a.organization.save(update_fields=["language"])
    english = make_desk(tenant_a)
    english.conversation.contact.locale = "en_US"
    english.conversation.contact.save(update_fields=["locale"])
    close(english)
    assert questions(english)[0].text.startswith("How would you rate")

    unknown = make_desk(tenant_a)  # no locale: the organization's language (Japanese now)
    with translation.override("en"):
        close(unknown)
    assert questions(unknown)[0].text.startswith("今回の対応")


@pytest.mark.django_db
def test_closing_again_the_same_day_asks_no_second_time(desk: Desk) -> None:
    close(desk)
    state.conversation_reopen(
        organization=desk.tenant.organization, acting_user=desk.tenant.agent.user, conversation=desk.conversation
    )
    close(desk)
    assert len(questions(desk)) == 1
    assert Survey.objects.filter(conversation=desk.conversation).count() == 1


@pytest.mark.django_db
def test_one_close_is_asked_about_once_whoever_tells_it_twice(desk: Desk) -> None:
    from csat.services import surveys_ask

    close(desk)
    event_id = Survey.objects.get().occasion_id
    Survey.objects.update(asked_at=Survey.objects.get().asked_at - timedelta(days=2))  # past the one-a-day rule
    again = surveys_ask(
        organization_id=desk.tenant.organization.pk,
        conversation_ids=[desk.conversation.pk],
        acting_user_id=desk.tenant.agent.user_id,
        occasion=SurveyOccasion.CONVERSATION_CLOSED,
        occasion_ids={desk.conversation.pk: event_id},
    )
    assert again == []
    assert len(questions(desk)) == 1


@pytest.mark.django_db
def test_closing_many_at_once_asks_each_customer(tenant_a: Tenant, sends: mock.MagicMock) -> None:
    first, second = make_desk(tenant_a), make_desk(tenant_a)
    bulk.conversations_bulk(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        membership=tenant_a.admin,
        action="close",
        conversation_ids=[first.conversation.pk, second.conversation.pk],
    )
    assert sorted(Survey.objects.values_list("conversation_id", "agent_id")) == [
        (first.conversation.pk, tenant_a.admin.user_id),
        (second.conversation.pk, tenant_a.admin.user_id),
    ]
    assert len(questions(first)) == len(questions(second)) == 1


@pytest.mark.django_db
def test_resolving_the_ticket_asks_and_the_survey_names_the_ticket(tenant_a: Tenant, sends: mock.MagicMock) -> None:
    desk = make_desk(tenant_a)
    ticket = ticket_services.ticket_create_from_conversation(
        organization=tenant_a.organization,
        acting_user=tenant_a.agent.user,
        membership=tenant_a.agent,
        conversation_id=desk.conversation.pk,
    )
    ticket_services.ticket_update(
        organization=tenant_a.organization,
        acting_user=tenant_a.agent.user,
        membership=tenant_a.agent,
        ticket_id=ticket.pk,
        state=TicketState.RESOLVED,
    )
    [survey] = Survey.objects.all()
    assert (survey.occasion, survey.ticket_id, survey.status) == (
        SurveyOccasion.TICKET_RESOLVED,
        ticket.pk,
        SurveyStatus.SENT,
    )
    # Closing the conversation right after is the same finish: no second question.
    close(desk)
    assert len(questions(desk)) == 1


@pytest.mark.django_db
def test_a_close_that_cannot_ask_still_closes(desk: Desk) -> None:
    with mock.patch("csat.services.surveys_ask", autospec=True, side_effect=RuntimeError("boom")):
        close(desk)
    assert Conversation.objects.get(pk=desk.conversation.pk).state == "closed"
    assert not Survey.objects.exists()


@pytest.mark.django_db
def test_a_question_still_queued_when_the_window_closes_fails_and_is_never_tagged(desk: Desk) -> None:
    from messenger.services.sending import delivery

    close(desk)
    [question] = questions(desk)
    # The worker picks it up after the customer's 24 hours have run out.
    Conversation.objects.filter(pk=desk.conversation.pk).update(
        last_inbound_at=desk.conversation.last_inbound_at - timedelta(hours=24)
    )
    assert delivery.message_deliver(message_id=question.pk) is None
    question.refresh_from_db()
    assert (question.status, question.error_code, question.tag, question.mid) == (
        MessageStatus.FAILED,
        "reply_window_closed",
        "",
        None,
    )
