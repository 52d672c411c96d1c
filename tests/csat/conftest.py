"""A channel that asks for ratings, its page, a customer who wrote, and the agent who answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from channels.models import Channel
from csat import tasks as csat_tasks
from messenger.models import Conversation, Message
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.conftest import Tenant


@dataclass
class Desk:
    tenant: Tenant
    channel: Channel
    conversation: Conversation

    def customer_writes(self, text: str = "Hello", *, at: datetime | None = None, **fields: Any) -> Message:
        return factories.make_message(self.conversation, text=text, sent_at=at or timezone.now(), **fields)


@pytest.fixture
def sends() -> Iterator[mock.MagicMock]:
    """The sending task's publication, recorded (no broker)."""
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True) as delay:
        yield delay


@pytest.fixture
def answer_tasks() -> Iterator[mock.MagicMock]:
    with mock.patch.object(csat_tasks.answers_record, "delay", autospec=True) as delay:
        yield delay


def make_desk(
    tenant: Tenant,
    *,
    asks_for_rating: bool = True,
    wrote_ago: timedelta | None = timedelta(hours=1),
    page_id: str | None = None,
    psid: str | None = None,
) -> Desk:
    channel = factories.make_channel(tenant.organization, tenant.department, asks_for_rating=asks_for_rating)
    factories.associate(tenant.agent, channel)
    page = factories.make_page(channel, page_id=page_id)
    contact = factories.make_contact(page, psid=psid)
    conversation = factories.make_conversation(page, contact, assignee=tenant.agent.user)
    desk = Desk(tenant, channel, conversation)
    if wrote_ago is not None:
        desk.customer_writes("My order has not arrived", at=timezone.now() - wrote_ago)
    return desk


@pytest.fixture
def desk(tenant_a: Tenant, sends: mock.MagicMock) -> Desk:
    return make_desk(tenant_a)
