"""Chat → ticket: the idle sweep and conversion by hand, with the clock moved by hand."""

from __future__ import annotations

import threading
from typing import Any
from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from channels import selectors as channel_selectors
from helpdesk.exceptions import NotFound, NothingToConvert, TicketAlreadyOpen
from helpdesk.models import Role
from messenger.models import Conversation, ConversationEvent, Direction, MessageSource
from tests import factories
from tests.tickets.conftest import T0, Desk, minutes, set_delay
from tickets import selectors, services, tasks
from tickets.models import Ticket, TicketOrigin, TicketState

pytestmark = pytest.mark.django_db

sweep = services.ticket_sweep_idle_conversations


def _resolve(desk: Desk, ticket: Ticket) -> Ticket:
    return services.ticket_update(
        organization=desk.tenant.organization,
        acting_user=desk.tenant.agent.user,
        membership=desk.tenant.agent,
        ticket_id=ticket.pk,
        state=TicketState.RESOLVED,
    )


def _convert_by_hand(desk: Desk, conversation_id: int | None = None) -> Ticket:
    return services.ticket_create_from_conversation(
        organization=desk.tenant.organization,
        acting_user=desk.tenant.agent.user,
        membership=desk.tenant.agent,
        conversation_id=conversation_id or desk.conversation.pk,
    )


# --- When a chat is idle -------------------------------------------------------------------


def test_with_no_settings_a_chat_becomes_a_ticket_after_sixty_idle_minutes(desk: Desk) -> None:
    desk.say("My order has not arrived", T0)
    desk.reply("Let me check", T0 + minutes(2))
    assert sweep(now=T0 + minutes(2) + minutes(59)) == 0
    assert sweep(now=T0 + minutes(2) + minutes(60)) == 1
    ticket = Ticket.objects.get()
    assert ticket.conversation == desk.conversation
    assert ticket.origin == TicketOrigin.IDLE and ticket.created_by is None
    assert ticket.state == TicketState.OPEN and ticket.message_count == 2


def test_the_minimum_delay_of_sixty_minutes_is_honoured_from_the_settings_row(desk: Desk) -> None:
    set_delay(desk.tenant, 60)
    desk.say("Hello", T0)
    assert sweep(now=T0 + minutes(59.9)) == 0
    assert sweep(now=T0 + minutes(60)) == 1


def test_the_maximum_delay_of_a_day_keeps_the_chat_open_until_then(desk: Desk) -> None:
    set_delay(desk.tenant, 24 * 60)
    desk.say("Hello", T0)
    assert sweep(now=T0 + minutes(60)) == 0
    assert sweep(now=T0 + minutes(24 * 60 - 1)) == 0
    assert sweep(now=T0 + minutes(24 * 60)) == 1


def test_a_shorter_delay_set_while_a_chat_is_idle_applies_at_the_next_sweep(desk: Desk) -> None:
    set_delay(desk.tenant, 180)
    desk.say("Hello", T0)
    assert sweep(now=T0 + minutes(90)) == 0
    set_delay(desk.tenant, 60)
    assert sweep(now=T0 + minutes(91)) == 1


def test_a_longer_delay_set_while_a_chat_is_idle_holds_it_back(desk: Desk) -> None:
    desk.say("Hello", T0)
    assert sweep(now=T0 + minutes(50)) == 0
    set_delay(desk.tenant, 120)
    assert sweep(now=T0 + minutes(61)) == 0
    assert sweep(now=T0 + minutes(120)) == 1


def test_a_message_just_before_the_deadline_restarts_the_idle_clock(desk: Desk) -> None:
    desk.say("Hello", T0)
    desk.say("Are you there?", T0 + minutes(59))
    assert sweep(now=T0 + minutes(60)) == 0
    assert sweep(now=T0 + minutes(59 + 59)) == 0
    assert sweep(now=T0 + minutes(59 + 60)) == 1
    ticket = Ticket.objects.get()
    assert ticket.message_count == 2
    assert "Are you there?" in ticket.description


def test_an_agent_reply_also_counts_as_activity(desk: Desk) -> None:
    desk.say("Hello", T0)
    desk.reply("Hi! One moment", T0 + minutes(30))
    assert sweep(now=T0 + minutes(60)) == 0
    assert sweep(now=T0 + minutes(90)) == 1


def test_a_message_while_the_ticket_is_open_belongs_to_it_and_the_sweep_makes_no_second_one(desk: Desk) -> None:
    first = desk.say("Where is my parcel?", T0)
    assert sweep(now=T0 + minutes(60)) == 1
    later = desk.say("Any news?", T0 + minutes(180))
    assert sweep(now=T0 + minutes(240)) == 0
    assert sweep(now=T0 + minutes(600)) == 0
    ticket = Ticket.objects.get()
    assert ticket.first_message_id == first.pk
    part = selectors.ticket_part(ticket=ticket)
    assert (part.first_id, part.last_id) == (first.pk, None)
    messages = selectors.ticket_message_list(
        organization=desk.tenant.organization, membership=desk.tenant.agent, ticket_id=ticket.pk
    )
    assert list(messages.order_by("id").values_list("id", flat=True)) == [first.pk, later.pk]


def test_after_the_ticket_is_resolved_a_later_message_starts_a_follow_up_ticket(desk: Desk) -> None:
    first = desk.say("Where is my parcel?", T0)
    assert sweep(now=T0 + minutes(60)) == 1
    closing = desk.reply("It arrives tomorrow", T0 + minutes(70))
    _resolve(desk, Ticket.objects.get())
    second = desk.say("Another question about invoices", T0 + minutes(180))
    assert sweep(now=T0 + minutes(200)) == 0
    assert sweep(now=T0 + minutes(240)) == 1
    earlier, later = Ticket.objects.order_by("id")
    assert (earlier.first_message_id, earlier.last_message_id, earlier.message_count) == (first.pk, closing.pk, 2)
    assert (later.first_message_id, later.last_message_id) == (second.pk, second.pk)
    assert "parcel" not in later.description and later.subject == "Another question about invoices"
    assert later.follow_up_of == earlier and earlier.follow_up_of is None


def test_a_second_sweep_over_the_same_data_converts_nothing(desk: Desk) -> None:
    desk.say("Hello", T0)
    other = desk.new_conversation()
    desk.say("Bonjour", T0, conversation=other)
    assert sweep(now=T0 + minutes(60)) == 2
    assert sweep(now=T0 + minutes(60)) == 0
    assert sweep(now=T0 + minutes(600)) == 0
    assert Ticket.objects.count() == 2


def test_conversations_of_disabled_and_deleted_channels_still_become_tickets(desk: Desk) -> None:
    desk.say("Hello", T0)
    deleted_channel = factories.make_channel(desk.tenant.organization, desk.tenant.department, name="Old page")
    old_page = factories.make_page(deleted_channel)
    old_conversation = factories.make_conversation(old_page)
    desk.say("Anyone?", T0, conversation=old_conversation)
    desk.channel.is_enabled = False
    desk.channel.save()
    deleted_channel.deleted_at = T0
    deleted_channel.save()
    assert sweep(now=T0 + minutes(60)) == 2


def test_each_department_uses_its_own_delay(desk: Desk) -> None:
    sales = factories.make_department(desk.tenant.organization, "Sales")
    sales_page = factories.make_page(factories.make_channel(desk.tenant.organization, sales))
    sales_conversation = factories.make_conversation(sales_page)
    set_delay(desk.tenant, 120)
    desk.say("Support question", T0)
    desk.say("Sales question", T0, conversation=sales_conversation)
    assert sweep(now=T0 + minutes(60)) == 1
    assert Ticket.objects.get().department == sales
    assert sweep(now=T0 + minutes(120)) == 1


def test_the_sweep_waits_as_long_as_the_channels_settings_say(desk: Desk) -> None:
    """The delays reach the sweep through channels.selectors.ticket_delays_by_department only."""
    desk.say("Hello", T0)
    delays = {desk.tenant.department.pk: 90}
    with mock.patch.object(channel_selectors, "ticket_delays_by_department", autospec=True, return_value=delays):
        assert sweep(now=T0 + minutes(60)) == 0
        assert sweep(now=T0 + minutes(90)) == 1


def test_the_ticket_takes_the_conversations_department_channel_contact_and_assignee(desk: Desk) -> None:
    desk.conversation.assignee = desk.tenant.agent.user
    desk.conversation.save()
    desk.say("Hello", T0)
    sweep(now=T0 + minutes(60))
    ticket = Ticket.objects.get()
    assert ticket.organization == desk.tenant.organization
    assert ticket.department == desk.tenant.department
    assert ticket.channel == desk.channel
    assert ticket.contact == desk.conversation.contact
    assert ticket.assignee == desk.tenant.agent.user


def test_a_sweep_writes_a_converted_event_in_the_conversation(desk: Desk) -> None:
    desk.say("Hello", T0)
    sweep(now=T0 + minutes(60))
    ticket = Ticket.objects.get()
    event = ConversationEvent.objects.get(conversation=desk.conversation)
    assert event.kind == ConversationEvent.Kind.CONVERTED
    assert event.data["ticket_id"] == ticket.pk and event.actor is None


def test_after_a_sweep_outage_the_idle_chats_make_one_ticket_as_if_it_had_run(desk: Desk) -> None:
    # Had the sweep run, the morning's ticket would have been open when the evening's question came.
    morning = desk.say("Morning question", T0)
    evening = desk.say("Evening question", T0 + minutes(8 * 60))
    assert sweep(now=T0 + minutes(10 * 60)) == 1
    ticket = Ticket.objects.get()
    assert ticket.subject == "Morning question"
    assert (ticket.first_message_id, ticket.last_message_id) == (morning.pk, evening.pk)


def test_chats_older_than_the_lookback_are_left_alone(desk: Desk) -> None:
    desk.say("Ancient history", T0)
    assert sweep(now=T0 + services.SWEEP_LOOKBACK + minutes(1)) == 0


def test_the_task_sweeps_at_the_time_of_the_clock(desk: Desk) -> None:
    desk.say("Hello", T0)
    with mock.patch("django.utils.timezone.now", autospec=True, return_value=T0 + minutes(59)):
        assert tasks.sweep_idle_conversations() == 0
    with mock.patch("django.utils.timezone.now", autospec=True, return_value=T0 + minutes(60)):
        assert tasks.sweep_idle_conversations() == 1
    assert Ticket.objects.get().created_at == T0 + minutes(60)


def test_the_sweep_is_in_the_beat_schedule_every_minute(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["tickets-sweep-idle-conversations"]
    assert entry["task"] == tasks.sweep_idle_conversations.name
    assert entry["schedule"] == 60.0


# --- Hidden messages (blocked customers) ------------------------------------------------------


def test_hidden_messages_are_left_out_of_the_ticket(desk: Desk) -> None:
    desk.say("Please help", T0)
    desk.say("spam spam spam", T0 + minutes(1), is_hidden=True)
    sweep(now=T0 + minutes(61))
    ticket = Ticket.objects.get()
    assert "spam" not in ticket.description and ticket.message_count == 1


def test_a_chat_of_only_hidden_messages_makes_no_ticket(desk: Desk) -> None:
    desk.say("spam", T0, is_hidden=True)
    desk.say("more spam", T0 + minutes(1), is_hidden=True)
    assert sweep(now=T0 + minutes(120)) == 0
    with pytest.raises(NothingToConvert):
        _convert_by_hand(desk)


def test_hidden_messages_after_a_ticket_never_make_one_of_their_own(desk: Desk) -> None:
    desk.say("Please help", T0)
    desk.say("spam", T0 + minutes(1), is_hidden=True)
    assert sweep(now=T0 + minutes(61)) == 1
    assert sweep(now=T0 + minutes(600)) == 0
    _resolve(desk, Ticket.objects.get())
    desk.say("spam again", T0 + minutes(650), is_hidden=True)
    assert sweep(now=T0 + minutes(690)) == 0
    later = desk.say("Thanks, solved", T0 + minutes(700))
    assert sweep(now=T0 + minutes(760)) == 1
    ticket = Ticket.objects.order_by("id").last()
    assert (ticket.first_message_id, ticket.message_count) == (later.pk, 1)
    assert "spam" not in ticket.description


# --- By hand ------------------------------------------------------------------------------


def test_converting_by_hand_takes_the_messages_not_yet_in_a_ticket(desk: Desk) -> None:
    desk.say("Hello", T0)
    desk.reply("Hi", T0 + minutes(1))
    with mock.patch("django.utils.timezone.now", autospec=True, return_value=T0 + minutes(5)):
        ticket = _convert_by_hand(desk)
    assert ticket.origin == TicketOrigin.MANUAL and ticket.created_by == desk.tenant.agent.user
    assert ticket.message_count == 2 and ticket.created_at == T0 + minutes(5)
    event = ConversationEvent.objects.get(conversation=desk.conversation)
    assert event.kind == ConversationEvent.Kind.CONVERTED and event.data["ticket_id"] == ticket.pk
    assert event.actor == desk.tenant.agent.user


def test_the_sweep_does_not_convert_again_what_was_converted_by_hand(desk: Desk) -> None:
    desk.say("Hello", T0)
    _resolve(desk, _convert_by_hand(desk))
    assert sweep(now=T0 + minutes(120)) == 0
    desk.say("One more thing", T0 + minutes(130))
    assert sweep(now=T0 + minutes(190)) == 1
    assert Ticket.objects.order_by("id").last().subject == "One more thing"


def test_converting_twice_by_hand_names_the_open_ticket_and_makes_no_second_one(desk: Desk) -> None:
    desk.say("Hello", T0)
    ticket = _convert_by_hand(desk)
    desk.reply("We shipped a replacement today", T0 + minutes(1))
    with pytest.raises(TicketAlreadyOpen) as refused:
        _convert_by_hand(desk)
    assert refused.value.ticket_id == ticket.pk and refused.value.details == {"ticket_id": ticket.pk}
    assert Ticket.objects.count() == 1


def test_a_pending_ticket_is_still_open_for_conversion(desk: Desk) -> None:
    desk.say("Hello", T0)
    ticket = _convert_by_hand(desk)
    Ticket.objects.filter(pk=ticket.pk).update(state=TicketState.PENDING)
    with pytest.raises(TicketAlreadyOpen):
        _convert_by_hand(desk)


def test_after_resolving_with_only_an_agents_reply_since_there_is_nothing_to_convert(desk: Desk) -> None:
    desk.say("Hello", T0)
    _resolve(desk, _convert_by_hand(desk))
    desk.reply("We shipped a replacement today", T0 + minutes(90))
    with pytest.raises(NothingToConvert):
        _convert_by_hand(desk)
    assert sweep(now=T0 + minutes(300)) == 0


def test_the_part_begins_at_the_first_customer_message_after_the_previous_ticket(desk: Desk) -> None:
    desk.say("Hello", T0)
    first = _resolve(desk, _convert_by_hand(desk))
    desk.reply("Did that help?", T0 + minutes(90))
    question = desk.say("Not really, it is still broken", T0 + minutes(95))
    desk.reply("Sending a technician", T0 + minutes(96))
    ticket = _convert_by_hand(desk)
    assert ticket.first_message_id == question.pk and ticket.follow_up_of_id == first.pk
    assert ticket.subject == "Not really, it is still broken" and ticket.message_count == 2


def test_reopening_while_another_ticket_is_open_is_refused(desk: Desk) -> None:
    desk.say("Hello", T0)
    first = _resolve(desk, _convert_by_hand(desk))
    desk.say("Again", T0 + minutes(90))
    second = _convert_by_hand(desk)
    with pytest.raises(TicketAlreadyOpen) as refused:
        services.ticket_update(
            organization=desk.tenant.organization,
            acting_user=desk.tenant.agent.user,
            membership=desk.tenant.agent,
            ticket_id=first.pk,
            state=TicketState.OPEN,
        )
    assert refused.value.ticket_id == second.pk
    assert Ticket.objects.get(pk=first.pk).state == TicketState.RESOLVED


def test_the_database_refuses_a_second_open_ticket_for_a_conversation(desk: Desk) -> None:
    desk.say("Hello", T0)
    ticket = _convert_by_hand(desk)
    later = desk.say("More", T0 + minutes(5))
    ticket.pk = None
    ticket.first_message_id = ticket.last_message_id = later.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        ticket.save()


def test_a_conversation_without_messages_is_nothing_to_convert(desk: Desk) -> None:
    with pytest.raises(NothingToConvert):
        _convert_by_hand(desk)


def test_an_agent_of_another_department_cannot_convert(desk: Desk) -> None:
    desk.say("Hello", T0)
    other = factories.make_member(
        desk.tenant.organization,
        role=Role.AGENT,
        departments=[factories.make_department(desk.tenant.organization, "Sales")],
    )
    with pytest.raises(NotFound):
        services.ticket_create_from_conversation(
            organization=desk.tenant.organization,
            acting_user=other.user,
            membership=other,
            conversation_id=desk.conversation.pk,
        )


def test_a_conversation_of_another_organization_is_not_found(desk: Desk, tenant_b: Any) -> None:
    desk.say("Hello", T0)
    with pytest.raises(NotFound):
        services.ticket_create_from_conversation(
            organization=tenant_b.organization,
            acting_user=tenant_b.admin.user,
            membership=tenant_b.admin,
            conversation_id=desk.conversation.pk,
        )


# --- The database guards ---------------------------------------------------------------------


def test_the_database_refuses_two_tickets_starting_at_the_same_message(desk: Desk) -> None:
    desk.say("Hello", T0)
    ticket = _convert_by_hand(desk)
    ticket.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        ticket.save()


# --- Crash and race ---------------------------------------------------------------------------


def _chats_said_hello_at_t0(tenant: Any, count: int) -> list[Conversation]:
    page = factories.make_page(factories.make_channel(tenant.organization, tenant.department))
    conversations = [factories.make_conversation(page) for _ in range(count)]
    for conversation in conversations:
        factories.make_message(conversation, text="Hello", sent_at=T0)
    return conversations


def test_a_crash_in_the_second_batch_keeps_the_first_and_the_next_run_converts_the_rest(desk: Desk) -> None:
    conversations = [desk.new_conversation() for _ in range(5)]
    for conversation in conversations:
        desk.say("Hello", T0, conversation=conversation)
    real_convert = services._convert
    calls = {"n": 0}

    def crash_on_second_batch(**kwargs: Any) -> Any:
        calls["n"] += 1
        tickets = real_convert(**kwargs)
        if calls["n"] == 2:
            raise RuntimeError("worker lost")
        return tickets

    with mock.patch.object(services, "_convert", side_effect=crash_on_second_batch), pytest.raises(RuntimeError):
        sweep(now=T0 + minutes(60), batch_size=2)
    assert Ticket.objects.count() == 2
    assert sweep(now=T0 + minutes(61), batch_size=2) == 3
    assert sorted(Ticket.objects.values_list("conversation_id", flat=True)) == sorted(c.pk for c in conversations)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_racing_make_each_ticket_once(tenant_a: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks (SKIP LOCKED)")
    conversations = _chats_said_hello_at_t0(tenant_a, 40)

    # Both workers hold their first batch's locks at the same moment: without SKIP LOCKED
    # the second would wait on the first, the barrier would time out and the test fail.
    barrier = threading.Barrier(2, timeout=10)
    real_convert = services._convert
    first_batch: set[int] = set()

    def convert_in_step(**kwargs: Any) -> Any:
        thread = threading.get_ident()
        if thread not in first_batch:
            first_batch.add(thread)
            barrier.wait()
        return real_convert(**kwargs)

    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(sweep(now=T0 + minutes(60), batch_size=5, workers=1))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    with mock.patch.object(services, "_convert", side_effect=convert_in_step):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors
    assert sum(results) == 40 and all(results), results
    assert Ticket.objects.count() == 40
    assert sorted(Ticket.objects.values_list("conversation_id", flat=True)) == sorted(c.pk for c in conversations)
    assert sweep(now=T0 + minutes(61)) == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_sweep_shares_its_ranges_between_its_workers_and_makes_each_ticket_once(tenant_a: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the sweep runs its workers on PostgreSQL only")
    conversations = _chats_said_hello_at_t0(tenant_a, 60)
    real_convert = services._convert
    converted_by: dict[str, list[int]] = {}
    both_started = threading.Barrier(2, timeout=10)

    def convert_and_record(**kwargs: Any) -> Any:
        name = threading.current_thread().name
        if name not in converted_by:
            converted_by[name] = []
            both_started.wait()  # each worker holds a batch while the other takes its own
        converted_by[name] += [row["id"] for row in kwargs["conversations"]]
        return real_convert(**kwargs)

    # Batches of 5 and ranges of 10 batches' ids: 60 conversations make two ranges or more.
    with mock.patch.object(services, "_convert", side_effect=convert_and_record):
        assert sweep(now=T0 + minutes(60), batch_size=5, workers=2) == 60
    assert len(converted_by) == 2 and all(converted_by.values()), converted_by
    everything = sorted(pk for pks in converted_by.values() for pk in pks)
    assert everything == sorted(c.pk for c in conversations)
    assert Ticket.objects.count() == 60
    assert sweep(now=T0 + minutes(61), workers=2) == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_without_the_row_locks_the_database_still_refuses_a_second_ticket(tenant_a: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs two PostgreSQL connections")
    page = factories.make_page(factories.make_channel(tenant_a.organization, tenant_a.department))
    conversation = factories.make_conversation(page)
    factories.make_message(conversation, text="Hello", sent_at=T0)

    # Both read the same uncovered messages before either writes: only the constraint is left.
    barrier = threading.Barrier(2, timeout=10)
    real_insert = services._insert
    outcomes: list[str] = []

    def insert_after_both_read(model: Any, *args: Any, **kwargs: Any) -> Any:
        if model is Ticket:
            barrier.wait()
        return real_insert(model, *args, **kwargs)

    def worker() -> None:
        try:
            with transaction.atomic():
                unlocked = Conversation.objects.filter(pk=conversation.pk).values(*services._CONVERSATION_FIELDS)
                services._convert(conversations=list(unlocked), now=T0 + minutes(60), origin=TicketOrigin.IDLE)
            outcomes.append("converted")
        except IntegrityError:
            outcomes.append("refused")
        finally:
            connection.close()

    with mock.patch.object(services, "_insert", side_effect=insert_after_both_read):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(outcomes) == ["converted", "refused"]
    assert Ticket.objects.count() == 1


# --- What a ticket says -----------------------------------------------------------------------


def test_the_subject_is_the_first_customer_message_on_one_line(desk: Desk) -> None:
    desk.reply("Welcome! How can we help?", T0)
    desk.say("My  order\n#1234 is late   and I am\tworried " + "x" * 200, T0 + minutes(1))
    sweep(now=T0 + minutes(61))
    subject = Ticket.objects.get().subject
    assert subject.startswith("My order #1234 is late and I am worried x")
    assert "\n" not in subject and len(subject) == 120 and subject.endswith("…")


def test_the_description_is_the_transcript_in_the_organizations_time_zone(desk: Desk) -> None:
    desk.tenant.organization.time_zone = "Asia/Tokyo"
    desk.tenant.organization.save()
    desk.say("Hello", T0)
    desk.reply("Hi there\nsecond line", T0 + minutes(1))
    desk.say(
        "", T0 + minutes(2), kind="attachment", attachments=[{"type": "image", "url": "https://cdn.example/a.jpg"}]
    )
    desk.say("Via the page", T0 + minutes(3), direction=Direction.OUTBOUND, source=MessageSource.EXTERNAL)
    sweep(now=T0 + minutes(63))
    agent = desk.tenant.agent.user.get_full_name() or desk.tenant.agent.user.username
    assert Ticket.objects.get().description.splitlines() == [
        "Customer (2026-03-02 18:00): Hello",
        f"{agent} (2026-03-02 18:01): Hi there",
        "  second line",
        "Customer (2026-03-02 18:02): [image: https://cdn.example/a.jpg]",
        "Page (outside the helpdesk) (2026-03-02 18:03): Via the page",
    ]


def test_the_ticket_records_which_messages_it_covers(desk: Desk) -> None:
    first = desk.say("Hello", T0)
    last = desk.reply("Bye", T0 + minutes(1))
    sweep(now=T0 + minutes(61))
    ticket = Ticket.objects.get()
    assert (ticket.first_message_id, ticket.last_message_id) == (first.pk, last.pk)


def test_the_service_reads_the_clock_when_no_time_is_given(desk: Desk) -> None:
    desk.say("Hello", timezone.now() - minutes(61))
    assert sweep() == 1
