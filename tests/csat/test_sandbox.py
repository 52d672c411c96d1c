# The sandbox fixtures are imported from tests.channels.facebook; their names are parameters below.
# ruff: noqa: F811
"""End to end over real HTTP, the sandbox playing Facebook: the question goes out through the
Send API with its quick replies (RESPONSE, no tag), the customer's tap comes back through the
product's own webhook and is recorded, and their next words become the comment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from csat import services
from csat import tasks as csat_tasks
from csat.models import Survey, SurveyStatus
from messenger.models import Contact, Conversation, Message, MessageStatus
from messenger.sandbox import customers, people, selectors
from messenger.services.conversations import state
from messenger.services.sending import delivery
from messenger.tasks import sending as sending_tasks
from messenger.webhook import followups
from tests import factories
from tests.channels.facebook import DEMO_PAGE, Facebook, facebook  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_broker() -> Iterator[dict[str, mock.MagicMock]]:
    followups.broker_pause_reset()
    with (
        mock.patch.object(sending_tasks.send_message, "delay", autospec=True) as sends,
        mock.patch.object(csat_tasks.answers_record, "delay", autospec=True) as answers,
        mock.patch.object(followups.webhook_tasks.webhook_followups, "delay", autospec=True),
    ):
        yield {"sends": sends, "answers": answers}
    followups.broker_pause_reset()


def test_the_question_goes_out_with_quick_replies_and_the_tap_comes_back_as_the_rating(
    facebook: Facebook, tenant_a: Tenant, settings: Any, _no_broker: dict[str, mock.MagicMock]
) -> None:
    settings.SANDBOX_WEBHOOK_URL = f"{facebook.url}/webhooks/messenger/"
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, asks_for_rating=True)
    factories.associate(tenant_a.agent, channel)
    factories.make_page(channel, page_id=DEMO_PAGE, token=people.sandbox_page_token_issue(page_id=DEMO_PAGE))
    customer = customers.sandbox_customer_create(page_id=DEMO_PAGE, first_name="Kenji", last_name="Sato")
    wrote = customers.sandbox_customer_message(
        page_id=DEMO_PAGE, psid=customer.psid, text="Where is my parcel?", webhook_url=settings.SANDBOX_WEBHOOK_URL
    )
    assert wrote["status"] == 200
    conversation = Conversation.objects.get(contact=Contact.objects.get(psid=customer.psid))

    state.conversation_close(
        organization=tenant_a.organization, acting_user=tenant_a.agent.user, conversation=conversation
    )
    survey = Survey.objects.get(conversation=conversation)
    assert survey.status == SurveyStatus.SENT
    _no_broker["sends"].assert_called_once_with(survey.question_id)
    assert delivery.message_deliver(message_id=survey.question_id) is None

    question = Message.objects.get(pk=survey.question_id)
    assert question.status == MessageStatus.SENT
    [call] = selectors.sandbox_sent_messages(page_id=DEMO_PAGE, psid=customer.psid)
    assert call.succeeded
    body = call.request_body
    assert (body["messaging_type"], "tag" in body) == ("RESPONSE", False)
    assert body["message"]["text"] == question.text
    offered = body["message"]["quick_replies"]
    assert [reply["payload"] for reply in offered] == [f"CSAT:{survey.pk}:{score}" for score in range(1, 6)]
    assert all(reply["content_type"] == "text" for reply in offered)

    # The customer taps "4" in Messenger: the sandbox posts it to the product's webhook.
    tapped = customers.sandbox_customer_message(
        page_id=DEMO_PAGE,
        psid=customer.psid,
        text=offered[3]["title"],
        quick_reply_payload=offered[3]["payload"],
        webhook_url=settings.SANDBOX_WEBHOOK_URL,
    )
    assert tapped["status"] == 200
    answer = Message.objects.get(mid=tapped["mid"])
    assert answer.quick_reply_payload == offered[3]["payload"]
    _no_broker["answers"].assert_called_once_with([answer.pk])
    services.answers_record(message_ids=[answer.pk])

    said = customers.sandbox_customer_message(
        page_id=DEMO_PAGE, psid=customer.psid, text="Fast and friendly", webhook_url=settings.SANDBOX_WEBHOOK_URL
    )
    assert said["status"] == 200
    services.surveys_sweep()

    survey.refresh_from_db()
    assert (survey.score, survey.answer_id, survey.agent_id) == (4, answer.pk, tenant_a.agent.user_id)
    assert (survey.comment, survey.comment_message_id) == ("Fast and friendly", Message.objects.get(mid=said["mid"]).pk)


def test_the_sandbox_refuses_quick_replies_facebook_would_refuse(facebook: Facebook) -> None:
    from messenger.client import graph_client
    from messenger.graph import GraphError

    customer = customers.sandbox_customer_create(page_id=DEMO_PAGE, first_name="Yui", last_name="Mori")
    customers.sandbox_customer_message(
        page_id=DEMO_PAGE, psid=customer.psid, text="Hi", webhook_url="http://127.0.0.1:9/"
    )
    token = people.sandbox_page_token_issue(page_id=DEMO_PAGE)
    too_long = [{"content_type": "text", "title": "x" * 21, "payload": "P"}]
    no_payload = [{"content_type": "text", "title": "Fine"}]
    for quick_replies in (too_long, no_payload, []):
        with pytest.raises(GraphError):
            graph_client().send_message(
                page_id=DEMO_PAGE,
                page_token=token,
                recipient_psid=customer.psid,
                message={"text": "Rate us", "quick_replies": quick_replies},
            )
    fine = [{"content_type": "text", "title": "5 · Excellent", "payload": "CSAT:1:5"}]
    result = graph_client().send_message(
        page_id=DEMO_PAGE,
        page_token=token,
        recipient_psid=customer.psid,
        message={"text": "Rate us", "quick_replies": fine},
    )
    assert result.message_id.startswith("m_")
