"""The minute's SLA job over tickets (tickets.services_sla): the resolution target runs from
the ticket's creation in its policy's clock while the ticket is open or pending; warned of
and breached once; a second run changes nothing."""

from __future__ import annotations

from helpdesk.models import Notification
from sla.models import SlaClock
from sla.state import SlaStatus
from tests.sla.conftest import Desk, tokyo
from tickets.models import TicketState
from tickets.services_sla import tickets_sla_sweep


def test_a_ticket_is_due_after_its_resolution_minutes_of_business_hours(desk: Desk) -> None:
    desk.office_hours()
    desk.policy(clock=SlaClock.BUSINESS_HOURS, resolution_minutes=8 * 60)
    ticket = desk.ticket(tokyo("2026-12-11 14:00"))  # Friday

    assert tickets_sla_sweep(now=tokyo("2026-12-11 14:01")).timed == 1

    ticket.refresh_from_db()
    assert ticket.sla_due_at == tokyo("2026-12-14 13:00")  # 4 h on Friday, 4 on Monday
    state = ticket.resolution_sla(now=tokyo("2026-12-14 12:00"))
    assert state is not None and state.status == SlaStatus.AT_RISK


def test_a_ticket_is_warned_and_breached_once_and_the_assignee_told(desk: Desk) -> None:
    desk.policy(resolution_minutes=100)
    agent = desk.tenant.agent.user
    ticket = desk.ticket(tokyo("2026-12-07 10:00"), assignee=agent)
    tickets_sla_sweep(now=tokyo("2026-12-07 10:00"))

    assert tickets_sla_sweep(now=tokyo("2026-12-07 11:21")).warned == 1
    assert tickets_sla_sweep(now=tokyo("2026-12-07 11:41")).breached == 1
    again = tickets_sla_sweep(now=tokyo("2026-12-07 11:42"))

    assert (again.timed, again.warned, again.breached) == (0, 0, 0)
    ticket.refresh_from_db()
    assert ticket.sla_breached_at == tokyo("2026-12-07 11:40")
    assert sorted(Notification.objects.filter(user=agent).values_list("kind", flat=True)) == [
        Notification.Kind.SLA_AT_RISK,
        Notification.Kind.SLA_BREACHED,
    ]


def test_a_resolved_ticket_is_never_breached(desk: Desk) -> None:
    desk.policy(resolution_minutes=60)
    ticket = desk.ticket(tokyo("2026-12-07 10:00"))
    tickets_sla_sweep(now=tokyo("2026-12-07 10:00"))
    ticket.state = TicketState.RESOLVED
    ticket.save(update_fields=["state"])

    assert tickets_sla_sweep(now=tokyo("2026-12-07 12:00")).breached == 0
    assert ticket.resolution_sla(now=tokyo("2026-12-07 12:00")) is None
    assert not Notification.objects.exists()
