"""The out-of-hours reply (messenger.routing.out_of_hours): once per conversation per closed
period, only inside the 24-hour window, never with a tag, shown as automatic."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections
from django.utils import timezone

from channels import services as channel_services
from channels.hours import Interval
from helpdesk.exceptions import ReplyWindowClosed
from messenger.models import (
    Conversation,
    ConversationEvent,
    Direction,
    Message,
    MessageSource,
    MessageStatus,
    OutOfHoursReply,
)
from messenger.routing.out_of_hours import out_of_hours_reply_send
from messenger.services.sending import replies
from messenger.tasks import out_of_hours as out_of_hours_tasks
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.conftest import Tenant, api_client_for
from tests.graph_stub import GraphStub, graph

__all__ = ["graph"]

TOKYO = ZoneInfo("Asia/Tokyo")
ENGLISH = "We are closed now and will answer from 9:00."
JAPANESE = "ただいま営業時間外です。9時から対応いたします。"
OFFICE = [Interval(day, 9 * 60, 18 * 60) for day in range(5)]  # Monday to Friday


def tokyo(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TOKYO)


@pytest.fixture(autouse=True)
def _no_broker() -> Iterator[Any]:
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True) as delay:
        yield delay


def hours_set(
    tenant: Tenant,
    *,
    intervals: list[Interval] = OFFICE,
    english: str = ENGLISH,
    japanese: str = JAPANESE,
    enabled: bool = True,
) -> None:
    channel_services.business_hours_set(
        organization=tenant.organization,
        acting_user=None,
        department_id=tenant.department.pk,
        is_enabled=enabled,
        intervals=intervals,
        holidays=[],
        out_of_hours_reply_en=english,
        out_of_hours_reply_ja=japanese,
    )


@pytest.fixture
def conversation(tenant_a: Tenant) -> Conversation:
    tenant_a.organization.time_zone = "Asia/Tokyo"
    tenant_a.organization.save(update_fields=["time_zone"])
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel, page_id="111222333", token="EAAG-page-token")
    contact = factories.make_contact(page, psid="PSID-42", display_name="Hanako")
    hours_set(tenant_a)
    return factories.make_conversation(page, contact)


def customer_writes(conversation: Conversation, written_at: datetime) -> Message:
    """A customer's message; the conversation waits for an answer since then."""
    message = factories.make_message(conversation, text="Hello?", sent_at=written_at)
    Conversation.objects.filter(pk=conversation.pk).update(waiting_since=written_at)
    return message


def reply_to(conversation: Conversation, written_at: datetime, *, minutes_later: int = 1) -> Message | None:
    customer_writes(conversation, written_at)
    return out_of_hours_reply_send(
        conversation_id=conversation.pk, inbound_at=written_at, now=written_at + timedelta(minutes=minutes_later)
    )


def automatic_messages() -> list[Message]:
    return list(Message.objects.filter(source=MessageSource.AUTOMATIC).order_by("pk"))


# --- Once per closed period ------------------------------------------------------------------------
# 2026-12-07 is a Monday; the department is open Monday to Friday, 09:00 to 18:00, Tokyo time.


@pytest.mark.django_db
def test_two_messages_in_one_night_get_one_reply_and_the_next_night_another(conversation: Conversation) -> None:
    first = reply_to(conversation, tokyo("2026-12-07 23:00"))
    assert first is not None
    assert (first.direction, first.source, first.status) == (Direction.OUTBOUND, MessageSource.AUTOMATIC, "queued")
    assert (first.text, first.author, first.messaging_type, first.tag) == (ENGLISH, None, "RESPONSE", "")
    assert reply_to(conversation, tokyo("2026-12-08 02:00")) is None
    assert reply_to(conversation, tokyo("2026-12-08 08:59")) is None
    assert len(automatic_messages()) == 1

    second = reply_to(conversation, tokyo("2026-12-08 19:30"))
    assert second is not None
    assert len(automatic_messages()) == 2
    assert sorted(OutOfHoursReply.objects.values_list("period_start", flat=True)) == [
        tokyo("2026-12-07 18:00"),
        tokyo("2026-12-08 18:00"),
    ]
    assert list(OutOfHoursReply.objects.order_by("pk").values_list("message_id", flat=True)) == [first.pk, second.pk]
    events = ConversationEvent.objects.filter(kind=ConversationEvent.Kind.OUT_OF_HOURS_REPLY)
    assert events.count() == 2


@pytest.mark.django_db
def test_the_same_message_handled_twice_gets_one_reply(conversation: Conversation) -> None:
    written_at = tokyo("2026-12-12 11:00")  # a Saturday
    customer_writes(conversation, written_at)
    for _attempt in range(2):
        out_of_hours_reply_send(conversation_id=conversation.pk, inbound_at=written_at, now=written_at)
    assert len(automatic_messages()) == 1


@pytest.mark.django_db
def test_nothing_is_sent_during_business_hours(conversation: Conversation) -> None:
    assert reply_to(conversation, tokyo("2026-12-08 10:00")) is None
    assert reply_to(conversation, tokyo("2026-12-08 17:59")) is None
    assert not automatic_messages() and not OutOfHoursReply.objects.exists()


@pytest.mark.django_db
def test_nothing_is_sent_once_the_department_has_opened_again(conversation: Conversation) -> None:
    # The customer wrote at 08:50; the task ran late, at 09:05: an agent can answer now.
    assert reply_to(conversation, tokyo("2026-12-08 08:50"), minutes_later=15) is None
    assert not automatic_messages()


@pytest.mark.django_db
def test_nothing_is_sent_for_a_message_older_than_24_hours(conversation: Conversation) -> None:
    # Saturday 10:00 and Sunday 11:00 are one closed period, but 25 hours apart.
    assert reply_to(conversation, tokyo("2026-12-12 10:00"), minutes_later=25 * 60) is None
    assert not automatic_messages() and not OutOfHoursReply.objects.exists()


@pytest.mark.django_db
def test_nothing_is_sent_when_the_window_measured_from_the_last_message_is_past_24_hours(
    conversation: Conversation,
) -> None:
    written_at = tokyo("2026-12-12 10:00")
    customer_writes(conversation, written_at - timedelta(hours=30))
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=written_at - timedelta(hours=30))
    assert out_of_hours_reply_send(conversation_id=conversation.pk, inbound_at=written_at, now=written_at) is None
    assert not automatic_messages()


@pytest.mark.django_db
def test_nothing_is_sent_to_a_blocked_customer(conversation: Conversation) -> None:
    conversation.contact.is_blocked = True
    conversation.contact.save(update_fields=["is_blocked"])
    assert reply_to(conversation, tokyo("2026-12-07 23:00")) is None
    assert not automatic_messages() and not OutOfHoursReply.objects.exists()


@pytest.mark.django_db
def test_nothing_is_sent_through_a_disabled_channel(conversation: Conversation) -> None:
    conversation.channel.is_enabled = False
    conversation.channel.save(update_fields=["is_enabled"])
    assert reply_to(conversation, tokyo("2026-12-07 23:00")) is None
    assert not automatic_messages()


@pytest.mark.django_db
def test_nothing_is_sent_when_business_hours_are_off_or_there_is_no_text(
    conversation: Conversation, tenant_a: Tenant
) -> None:
    hours_set(tenant_a, enabled=False)
    assert reply_to(conversation, tokyo("2026-12-07 23:00")) is None
    hours_set(tenant_a, english="", japanese="")
    assert reply_to(conversation, tokyo("2026-12-07 23:30")) is None
    assert not automatic_messages()


@pytest.mark.django_db
def test_the_reply_is_in_japanese_for_a_japanese_organization(conversation: Conversation, tenant_a: Tenant) -> None:
    tenant_a.organization.language = "ja"
    tenant_a.organization.save(update_fields=["language"])
    reply = reply_to(conversation, tokyo("2026-12-07 23:00"))
    assert reply is not None and reply.text == JAPANESE


@pytest.mark.django_db
def test_a_blank_text_falls_back_to_the_other_language(conversation: Conversation, tenant_a: Tenant) -> None:
    tenant_a.organization.language = "ja"
    tenant_a.organization.save(update_fields=["language"])
    hours_set(tenant_a, japanese="")
    reply = reply_to(conversation, tokyo("2026-12-07 23:00"))
    assert reply is not None and reply.text == ENGLISH


@pytest.mark.django_db
def test_the_reply_does_not_count_as_an_answer(conversation: Conversation) -> None:
    written_at = tokyo("2026-12-07 23:00")
    assert reply_to(conversation, written_at) is not None
    conversation.refresh_from_db()
    assert conversation.waiting_since == written_at


# --- Sent without a tag, and never with one -----------------------------------------------------------


@pytest.mark.django_db
def test_the_task_queues_the_reply_and_it_goes_out_as_a_response_without_a_tag(
    conversation: Conversation, tenant_a: Tenant, graph: GraphStub, _no_broker: Any
) -> None:
    hours_set(tenant_a, intervals=[])  # never open
    written_at = timezone.now() - timedelta(minutes=1)
    customer_writes(conversation, written_at)

    out_of_hours_tasks.out_of_hours_reply.apply(args=[conversation.pk, written_at.isoformat()])
    (reply,) = automatic_messages()
    _no_broker.assert_not_called()  # queued after commit only (the test's transaction never commits)
    graph.answer(200, {"recipient_id": "PSID-42", "message_id": "m_auto_1"})
    sending_tasks.send_message.apply(args=[reply.pk])

    reply.refresh_from_db()
    assert (reply.status, reply.mid) == (MessageStatus.SENT, "m_auto_1")
    assert graph.sends() == [
        {
            "recipient": {"id": "PSID-42"},
            "messaging_type": "RESPONSE",
            "message": {"text": ENGLISH},
            "metadata": str(reply.idempotency_key),
        }
    ]


@pytest.mark.django_db
def test_an_automatic_message_whose_24_hours_passed_before_sending_fails_instead_of_being_tagged(
    conversation: Conversation, graph: GraphStub
) -> None:
    customer_writes(conversation, timezone.now() - timedelta(hours=23))
    conversation.refresh_from_db()
    message = replies.automatic_message_queue(
        organization=conversation.organization, conversation=conversation, text=ENGLISH
    )
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))

    sending_tasks.send_message.apply(args=[message.pk])

    message.refresh_from_db()
    assert (message.status, message.error_code, message.tag) == (MessageStatus.FAILED, "reply_window_closed", "")
    assert graph.sends() == []


@pytest.mark.django_db
def test_an_automatic_message_is_refused_between_24_hours_and_7_days(conversation: Conversation) -> None:
    customer_writes(conversation, timezone.now() - timedelta(hours=30))
    conversation.refresh_from_db()
    with pytest.raises(ReplyWindowClosed) as refused:
        replies.automatic_message_queue(organization=conversation.organization, conversation=conversation, text="Hi")
    assert getattr(refused.value, "code", None) == "reply_window_closed"
    assert not automatic_messages()


@pytest.mark.django_db
def test_a_failed_automatic_message_retried_after_24_hours_stays_untagged(
    conversation: Conversation, tenant_a: Tenant
) -> None:
    customer_writes(conversation, timezone.now() - timedelta(hours=1))
    conversation.refresh_from_db()
    message = replies.automatic_message_queue(organization=tenant_a.organization, conversation=conversation, text="Hi")
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED)
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=30))
    message.refresh_from_db()
    with pytest.raises(ReplyWindowClosed) as refused:
        replies.message_retry(organization=tenant_a.organization, acting_user=tenant_a.admin.user, message=message)
    assert getattr(refused.value, "code", None) == "reply_window_closed"
    message.refresh_from_db()
    assert (message.status, message.tag) == (MessageStatus.FAILED, "")


# --- Shown as automatic --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_transcript_and_the_api_show_the_reply_as_automatic(
    conversation: Conversation, tenant_a: Tenant, web_client_for: Any
) -> None:
    hours_set(tenant_a, intervals=[])
    written_at = timezone.now() - timedelta(minutes=1)
    customer_writes(conversation, written_at)
    reply = out_of_hours_reply_send(conversation_id=conversation.pk, inbound_at=written_at)
    assert reply is not None

    html = web_client_for(tenant_a.agent).get(f"/o/alpha/inbox/{conversation.pk}/").content.decode()
    item = html[html.index(f'id="message-{reply.pk}"') :]
    item = item[: item.index("</li>")]
    assert "Automatic message:" in item and "Automatic</span>" in item
    assert "An agent:" not in item
    assert "The out-of-hours reply was sent." in html

    messages = api_client_for(tenant_a.agent).get(f"/api/v1/conversations/{conversation.pk}/messages/").json()
    rows = messages["results"] if isinstance(messages, dict) else messages
    (automatic,) = [row for row in rows if row["id"] == reply.pk]
    assert (automatic["source"], automatic["author"], automatic["tag"]) == ("automatic", None, "")


# --- Concurrent workers (PostgreSQL) ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL")
def test_concurrent_workers_on_postgresql_send_one_reply_per_closed_period(tenant_a: Tenant) -> None:
    tenant_a.organization.time_zone = "Asia/Tokyo"
    tenant_a.organization.save(update_fields=["time_zone"])
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    page = factories.make_page(channel)
    conversation = factories.make_conversation(page)
    hours_set(tenant_a, intervals=[])
    written_at = datetime.now(UTC) - timedelta(minutes=1)
    customer_writes(conversation, written_at)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            out_of_hours_reply_send(conversation_id=conversation.pk, inbound_at=written_at)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(automatic_messages()) == 1
    assert OutOfHoursReply.objects.count() == 1
