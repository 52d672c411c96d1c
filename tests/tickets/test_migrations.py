"""The data migration that turned the copied tickets into parts of their conversations."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps
from django.db import connection

from tests.tickets.conftest import T0, Desk, minutes
from tickets.models import Ticket, TicketState

define_parts = importlib.import_module("tickets.migrations.0003_ticket_parts").define_parts
ONE_ACTIVE = next(c for c in Ticket._meta.constraints if c.name == "ticket_one_active_per_conversation")


def _ticket(desk: Desk, text: str, at: Any, state: str) -> Ticket:
    message = desk.say(text, at)
    return Ticket.objects.create(
        organization=desk.tenant.organization,
        department=desk.tenant.department,
        channel=desk.channel,
        conversation=desk.conversation,
        contact=desk.conversation.contact,
        subject=text,
        state=state,
        origin="manual",
        first_message=message,
        last_message=message,
        message_count=1,
    )


@pytest.mark.django_db(transaction=True)
def test_old_tickets_are_linked_as_follow_ups_and_only_the_newest_stays_open(desk: Desk) -> None:
    # Before the migration a conversation could hold several open tickets.
    with connection.schema_editor() as editor:
        editor.remove_constraint(Ticket, ONE_ACTIVE)
    try:
        first = _ticket(desk, "Where is my parcel?", T0, TicketState.OPEN)
        second = _ticket(desk, "We shipped a replacement today", T0 + minutes(1), TicketState.OPEN)
        third = _ticket(desk, "It arrived, thanks", T0 + minutes(2), TicketState.PENDING)
        define_parts(apps, None)
        states = dict(Ticket.objects.values_list("pk", "state"))
        links = dict(Ticket.objects.values_list("pk", "follow_up_of_id"))
    finally:
        Ticket.objects.all().delete()  # whatever happened, the constraint can come back
        with connection.schema_editor() as editor:
            editor.add_constraint(Ticket, ONE_ACTIVE)
    assert states == {first.pk: "resolved", second.pk: "resolved", third.pk: "pending"}
    assert links == {first.pk: None, second.pk: first.pk, third.pk: second.pk}
