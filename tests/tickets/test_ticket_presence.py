"""The ticket page shares the inbox's presence and collision: its composer shows who else has
the conversation open, and a reply sent after a colleague's asks first."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from helpdesk.models import Role
from messenger.models import Direction, Message
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.tickets.conftest import Desk, make_ticket

pytestmark = pytest.mark.django_db


def test_a_ticket_reply_after_a_colleague_s_asks_first_and_the_page_shows_presence(
    desk: Desk, web_client_for: Any
) -> None:
    ticket = make_ticket(desk)
    desk.say("Any news?", timezone.now() - timedelta(minutes=1))  # the reply window is open
    aiko = factories.make_member(
        desk.tenant.organization,
        role=Role.AGENT,
        username="aiko",
        first_name="Aiko",
        departments=[desk.tenant.department],
    )
    factories.associate(aiko, desk.channel)
    client = web_client_for(desk.tenant.agent)
    html = client.get(f"/o/alpha/tickets/{ticket.pk}/").content.decode()
    assert f'data-live="presence:{desk.conversation.pk}"' in html and 'aria-live="polite"' in html
    seen_at = re.search(r'name="seen_at" value="([^"]+)"', html).group(1)
    desk.reply("On it", timezone.now(), author=aiko.user)

    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        refused = client.post(f"/o/alpha/tickets/{ticket.pk}/reply/", {"text": "Checking", "seen_at": seen_at})
        assert refused.status_code == 409
        body = refused.content.decode()
        assert re.search(r"Aiko replied \d+ s ago — send anyway\?", body)
        assert ">Checking</textarea>" in body
        confirmed_at = re.search(r'name="confirmed_at" value="([^"]+)"', body).group(1)
        sent = client.post(
            f"/o/alpha/tickets/{ticket.pk}/reply/",
            {"text": "Checking", "seen_at": seen_at, "confirmed_at": confirmed_at},
        )
    assert sent.status_code == 302
    assert Message.objects.filter(direction=Direction.OUTBOUND, author=desk.tenant.agent.user, text="Checking").exists()
