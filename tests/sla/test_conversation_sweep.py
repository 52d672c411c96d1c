"""The minute's SLA job over conversations (messenger.services.sla): it times each wait in
its policy's clock, warns the assignee (or the department's admins) once before the target
falls due, marks the breach once, and a second run changes nothing. The clock runs only
while the customer waits: an answer stops it, the next message starts the next response
target. 2026-12-07 is a Monday (Asia/Tokyo)."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk.models import Notification
from helpdesk.notifications import notification_text
from messenger.models import Conversation, ConversationSla, ConversationState
from messenger.services.sla import conversations_sla_sweep
from sla.models import SlaClock, SlaTarget
from sla.state import SlaStatus
from tests.sla.conftest import Desk, tokyo


def _fields(conversation: Conversation) -> tuple[object, ...]:
    """The kept times of the conversation's wait (all None: none kept)."""
    kept = ConversationSla.objects.filter(pk=conversation.pk).first()
    if kept is None:
        return (None, None, None, None, None)
    return (kept.started_at, kept.warn_at, kept.due_at, kept.warned_at, kept.breached_at)


def test_a_wait_is_timed_in_business_hours_across_the_night(desk: Desk) -> None:
    desk.office_hours()
    desk.policy(clock=SlaClock.BUSINESS_HOURS, first_response_minutes=60)
    conversation = desk.waiting(tokyo("2026-12-07 17:30"))

    conversations_sla_sweep(now=tokyo("2026-12-07 17:31"))

    conversation.refresh_from_db()
    assert conversation.sla.due_at == tokyo("2026-12-08 09:30")
    assert conversation.sla.warn_at == tokyo("2026-12-08 09:18")  # the last fifth: 12 minutes
    state = conversation.response_sla(now=tokyo("2026-12-07 20:00"))
    assert state is not None and state.status == SlaStatus.ON_TRACK and state.target == SlaTarget.FIRST_RESPONSE


def test_a_wait_over_the_weekend_and_a_holiday_falls_due_after_them(desk: Desk) -> None:
    desk.office_hours(holidays=(date(2026, 12, 14),))
    desk.policy(clock=SlaClock.BUSINESS_HOURS, first_response_minutes=120)
    conversation = desk.waiting(tokyo("2026-12-11 17:00"))  # Friday

    conversations_sla_sweep(now=tokyo("2026-12-11 17:01"))

    conversation.refresh_from_db()
    assert conversation.sla.due_at == tokyo("2026-12-15 10:00")  # Tuesday: Monday is a holiday


def test_around_the_clock_the_night_counts(desk: Desk) -> None:
    desk.office_hours()
    desk.policy(clock=SlaClock.WALL_CLOCK, first_response_minutes=60)
    conversation = desk.waiting(tokyo("2026-12-07 23:30"))

    conversations_sla_sweep(now=tokyo("2026-12-07 23:31"))

    conversation.refresh_from_db()
    assert conversation.sla.due_at == tokyo("2026-12-08 00:30")


def test_the_channel_policy_wins_over_the_department_one(desk: Desk) -> None:
    desk.policy(first_response_minutes=60)
    desk.policy(first_response_minutes=10, channel=desk.channel)
    conversation = desk.waiting(tokyo("2026-12-07 10:00"))

    conversations_sla_sweep(now=tokyo("2026-12-07 10:01"))

    conversation.refresh_from_db()
    assert conversation.sla.due_at == tokyo("2026-12-07 10:10")


def test_without_a_policy_nothing_is_due_and_the_wait_is_not_read_again(desk: Desk) -> None:
    conversation = desk.waiting(tokyo("2026-12-07 10:00"))

    assert conversations_sla_sweep(now=tokyo("2026-12-07 10:01")).timed == 1
    assert conversations_sla_sweep(now=tokyo("2026-12-07 10:02")).timed == 0

    conversation.refresh_from_db()
    assert conversation.sla.started_at == conversation.waiting_since and conversation.sla.due_at is None
    assert conversation.response_sla(now=tokyo("2026-12-07 10:02")) is None


def test_the_assignee_is_warned_once_then_told_of_the_breach_once(desk: Desk) -> None:
    desk.policy(first_response_minutes=60)
    agent = desk.tenant.agent.user
    conversation = desk.waiting(tokyo("2026-12-07 10:00"), assignee=agent)
    conversations_sla_sweep(now=tokyo("2026-12-07 10:01"))

    warned = conversations_sla_sweep(now=tokyo("2026-12-07 10:50"))
    assert warned.warned == 1 and warned.breached == 0
    notices = Notification.objects.filter(user=agent)
    assert [n.kind for n in notices] == [Notification.Kind.SLA_AT_RISK]
    assert "Hanako Yamada" in notification_text(notices[0]).title
    conversation.refresh_from_db()
    state = conversation.response_sla(now=tokyo("2026-12-07 10:50"))
    assert state is not None and state.status == SlaStatus.AT_RISK and state.time_left == timedelta(minutes=10)

    breached = conversations_sla_sweep(now=tokyo("2026-12-07 11:02"))
    assert breached.breached == 1
    conversation.refresh_from_db()
    assert conversation.sla.breached_at == tokyo("2026-12-07 11:00")
    assert sorted(Notification.objects.filter(user=agent).values_list("kind", flat=True)) == [
        Notification.Kind.SLA_AT_RISK,
        Notification.Kind.SLA_BREACHED,
    ]

    before = _fields(conversation)
    again = conversations_sla_sweep(now=tokyo("2026-12-07 11:03"))
    assert (again.timed, again.warned, again.breached) == (0, 0, 0)
    assert _fields(conversation) == before
    assert Notification.objects.filter(user=agent).count() == 2


def test_an_unassigned_conversation_warns_the_admins_of_its_department(desk: Desk) -> None:
    desk.policy(first_response_minutes=10)
    desk.waiting(tokyo("2026-12-07 10:00"))
    conversations_sla_sweep(now=tokyo("2026-12-07 10:00"))

    conversations_sla_sweep(now=tokyo("2026-12-07 10:09"))

    assert list(Notification.objects.values_list("user_id", "kind")) == [
        (desk.tenant.admin.user_id, Notification.Kind.SLA_AT_RISK)
    ]


def test_an_answer_stops_the_clock_and_the_next_message_starts_the_next_response_target(desk: Desk) -> None:
    desk.policy(first_response_minutes=60, next_response_minutes=15)
    conversation = desk.waiting(tokyo("2026-12-07 10:00"))
    conversations_sla_sweep(now=tokyo("2026-12-07 10:01"))

    # The agent answers at 10:20: nobody waits, the target stops (no breach at 11:00).
    Conversation.objects.filter(pk=conversation.pk).update(
        waiting_since=None, first_answered_at=tokyo("2026-12-07 10:20")
    )
    conversations_sla_sweep(now=tokyo("2026-12-07 10:21"))
    assert _fields(conversation) == (None, None, None, None, None)
    assert conversations_sla_sweep(now=tokyo("2026-12-07 11:30")).breached == 0

    # The customer writes again at 12:00: the next response target, 15 minutes.
    Conversation.objects.filter(pk=conversation.pk).update(waiting_since=tokyo("2026-12-07 12:00"))
    conversations_sla_sweep(now=tokyo("2026-12-07 12:01"))
    conversation.refresh_from_db()
    assert conversation.sla.due_at == tokyo("2026-12-07 12:15")
    state = conversation.response_sla(now=tokyo("2026-12-07 12:20"))
    assert state is not None and state.target == SlaTarget.NEXT_RESPONSE and state.status == SlaStatus.BREACHED


def test_a_closed_conversation_has_no_running_target(desk: Desk) -> None:
    desk.policy(first_response_minutes=60)
    conversation = desk.waiting(tokyo("2026-12-07 10:00"))
    conversations_sla_sweep(now=tokyo("2026-12-07 10:01"))

    Conversation.objects.filter(pk=conversation.pk).update(state=ConversationState.CLOSED)
    conversations_sla_sweep(now=tokyo("2026-12-07 10:02"))

    assert _fields(conversation) == (None, None, None, None, None)
    assert conversations_sla_sweep(now=tokyo("2026-12-07 12:00")).breached == 0


def test_a_wait_that_fell_due_long_before_it_was_timed_is_marked_without_a_notice(desk: Desk) -> None:
    desk.policy(first_response_minutes=60)
    conversation = desk.waiting(tokyo("2026-12-01 10:00"))

    conversations_sla_sweep(now=tokyo("2026-12-07 10:00"))

    conversation.refresh_from_db()
    assert conversation.sla.breached_at == tokyo("2026-12-01 11:00")
    assert not Notification.objects.exists()


def test_a_stale_time_is_not_shown_until_the_job_times_the_new_wait(desk: Desk) -> None:
    desk.policy(first_response_minutes=60)
    conversation = desk.waiting(tokyo("2026-12-07 10:00"))
    conversations_sla_sweep(now=tokyo("2026-12-07 10:01"))

    conversation.waiting_since = tokyo("2026-12-07 12:00")
    assert conversation.response_sla(now=tokyo("2026-12-07 12:30")) is None


def test_the_job_reads_a_batch_in_a_fixed_number_of_queries(desk: Desk) -> None:
    desk.policy(first_response_minutes=60)
    for n in range(5):
        desk.waiting(tokyo("2026-12-07 10:00"), name=f"Customer {n}")
    with CaptureQueriesContext(connection) as few:
        conversations_sla_sweep(now=tokyo("2026-12-07 10:01"))
    for n in range(20):
        desk.waiting(tokyo("2026-12-07 10:05"), name=f"Other {n}")
    with CaptureQueriesContext(connection) as many:
        conversations_sla_sweep(now=tokyo("2026-12-07 10:06"))
    assert len(many) == len(few)
