"""A small dataset whose figures are computed by hand in the tests (Asia/Tokyo, March 2026).

Channel "Front" (department Support, the agent associated) and channel "Back" (department
Sales). ``DAY1`` is 2 March 2026 in Tokyo; ``NOW`` is 11 March, 12:00 Tokyo.

| conv | channel | holder | customer wrote                 | first human reply         | later       |
|------|---------|--------|--------------------------------|---------------------------|-------------|
| c1   | Front   | agent  | day 1 09:00                    | +60 s (agent)             | ticket resolved at +3600 s |
| c2   | Front   | agent  | day 1 10:00                    | +120 s (Facebook's inbox) | ticket resolved at +7200 s |
| c3   | Front   | agent  | day 1 11:00                    | +300 s (not the automatic +10 s) |      |
| c4   | Front   | admin  | day 2 09:00, again 12:00       | +600 s                    | 12:00 never answered: lost |
| c5   | Front   | —      | day 2 10:00                    | never (a failed reply)    | lost        |
| c6   | Back    | —      | day 9 (2 days before NOW)      | never                     | window still open |

"Lost" is what the window-alerts job recorded (WindowLoss), run at NOW: c4 and c5.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.db.models import Value
from django.db.models.functions import Coalesce

from availability.models import AvailabilityChange, ChangeReason, Status
from canned.models import CannedResponse, CannedResponseUse, CannedScope
from channels.models import Channel
from messenger.models import Conversation, Direction, MessageSource, MessageStatus
from messenger.services import window_alerts
from reports import services
from tests import factories
from tests.conftest import Tenant
from tickets.models import Ticket, TicketEvent, TicketOrigin, TicketState

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
DAY1 = datetime(2026, 3, 2, tzinfo=TOKYO)
NOW = datetime(2026, 3, 11, 12, tzinfo=TOKYO)


@dataclass
class Dataset:
    tenant: Tenant
    front: Channel
    back: Channel
    conversations: dict[str, Conversation]


def _conversation(channel: Channel, *, assignee: object = None) -> Conversation:
    page = channel.facebook_pages.first() or factories.make_page(channel)
    return factories.make_conversation(page, assignee=assignee)


def _inbound(conversation: Conversation, at: datetime) -> None:
    factories.make_message(conversation, sent_at=at)
    # The customer waits from their oldest unanswered message (as the webhook keeps it).
    Conversation.objects.filter(pk=conversation.pk).update(
        last_inbound_at=at, last_message_at=at, waiting_since=Coalesce("waiting_since", Value(at))
    )


def _reply(conversation: Conversation, at: datetime, **fields: object) -> None:
    author = fields.pop("author", conversation.assignee)
    factories.make_message(conversation, direction=Direction.OUTBOUND, sent_at=at, author=author, **fields)
    answered = fields.get("source", MessageSource.AGENT) in {MessageSource.AGENT, MessageSource.EXTERNAL} and (
        fields.get("status") != MessageStatus.FAILED
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_at=at,
        **({"waiting_since": None, "first_answered_at": Coalesce("first_answered_at", Value(at))} if answered else {}),
    )


def _resolve(conversation: Conversation, at: datetime) -> None:
    message = conversation.messages.order_by("id").first()
    assert message is not None
    ticket = Ticket.objects.create(
        organization=conversation.organization,
        department=conversation.department,
        channel=conversation.channel,
        conversation=conversation,
        contact=conversation.contact,
        subject="Help",
        origin=TicketOrigin.MANUAL,
        first_message=message,
        last_message=message,
        state=TicketState.RESOLVED,
        created_at=at - timedelta(minutes=30),
        updated_at=at,
    )
    TicketEvent.objects.create(
        organization=conversation.organization,
        ticket=ticket,
        kind=TicketEvent.Kind.STATE_CHANGED,
        data={"from": "open", "to": "resolved"},
        created_at=at,
    )


def build(tenant: Tenant) -> Dataset:
    organization = tenant.organization
    organization.time_zone = "Asia/Tokyo"
    organization.save(update_fields=["time_zone"])
    sales = factories.make_department(organization, "Sales")
    front = factories.make_channel(organization, tenant.department, name="Front")
    back = factories.make_channel(organization, sales, name="Back")
    factories.associate(tenant.agent, front)
    agent, admin = tenant.agent.user, tenant.admin.user

    c1 = _conversation(front, assignee=agent)
    _inbound(c1, DAY1 + timedelta(hours=9))
    _reply(c1, DAY1 + timedelta(hours=9, seconds=60))
    _resolve(c1, DAY1 + timedelta(hours=9, seconds=3600))

    c2 = _conversation(front, assignee=agent)
    _inbound(c2, DAY1 + timedelta(hours=10))
    _reply(c2, DAY1 + timedelta(hours=10, seconds=120), source=MessageSource.EXTERNAL, author=None)
    _resolve(c2, DAY1 + timedelta(hours=10, seconds=7200))

    c3 = _conversation(front, assignee=agent)
    _inbound(c3, DAY1 + timedelta(hours=11))
    _reply(c3, DAY1 + timedelta(hours=11, seconds=10), source=MessageSource.AUTOMATIC, author=None)
    _reply(c3, DAY1 + timedelta(hours=11, seconds=300))

    day2 = DAY1 + timedelta(days=1)
    c4 = _conversation(front, assignee=admin)
    _inbound(c4, day2 + timedelta(hours=9))
    _reply(c4, day2 + timedelta(hours=9, seconds=600))
    _inbound(c4, day2 + timedelta(hours=12))

    c5 = _conversation(front)
    _inbound(c5, day2 + timedelta(hours=10))
    _reply(c5, day2 + timedelta(hours=10, seconds=30), status=MessageStatus.FAILED, author=admin)

    c6 = _conversation(back)
    _inbound(c6, NOW - timedelta(days=2))

    # The agent online from 22:00 on day 1 to 02:00 on day 2 (Tokyo), and again for the last
    # hour before NOW, still online; the admin away (not online) all along.
    AvailabilityChange.objects.create(
        organization=organization,
        membership=tenant.agent,
        status=Status.ONLINE,
        reason=ChangeReason.CHOSEN,
        started_at=DAY1 + timedelta(hours=22),
        ended_at=DAY1 + timedelta(hours=26),
    )
    AvailabilityChange.objects.create(
        organization=organization,
        membership=tenant.agent,
        status=Status.ONLINE,
        reason=ChangeReason.CHOSEN,
        started_at=NOW - timedelta(hours=1),
    )
    AvailabilityChange.objects.create(
        organization=organization,
        membership=tenant.admin,
        status=Status.AWAY,
        reason=ChangeReason.CHOSEN,
        started_at=DAY1,
    )
    # Canned responses: "Hello" used twice by the agent on day 1, "Bye" once by the admin on day 2.
    hello = CannedResponse.objects.create(
        organization=organization, scope=CannedScope.ORGANIZATION, shortcut="hello", title="Hello", body_en="Hi"
    )
    bye = CannedResponse.objects.create(
        organization=organization, scope=CannedScope.ORGANIZATION, shortcut="bye", title="Bye", body_en="Bye"
    )
    for response, user, conversation, at in (
        (hello, agent, c1, DAY1 + timedelta(hours=9)),
        (hello, agent, c2, DAY1 + timedelta(hours=10)),
        (bye, admin, c4, day2 + timedelta(hours=9)),
    ):
        use = CannedResponseUse.objects.create(
            organization=organization, canned_response=response, user=user, conversation=conversation
        )
        CannedResponseUse.objects.filter(pk=use.pk).update(used_at=at)

    # The window-alerts job at NOW keeps c4 and c5 as lost (their 7-day windows closed).
    window_alerts.window_alerts_send(now=NOW)
    services.facts_refresh(organization=organization, now=NOW)
    return Dataset(tenant, front, back, {"c1": c1, "c2": c2, "c3": c3, "c4": c4, "c5": c5, "c6": c6})


@pytest.fixture
def dataset(tenant_a: Tenant) -> Dataset:
    return build(tenant_a)
