"""The reply windows: 24 hours of RESPONSE, then 7 days of the HUMAN_AGENT tag, then closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from helpdesk.exceptions import ReplyWindowClosed
from messenger.models import Conversation, Direction
from messenger.reply_window import WindowState, remaining_text, reply_window
from messenger.services.sending import replies
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.conftest import Tenant

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("ago", "state", "messaging_type", "tag"),
    [
        (timedelta(0), WindowState.STANDARD, "RESPONSE", ""),
        (timedelta(hours=24) - SECOND, WindowState.STANDARD, "RESPONSE", ""),
        (timedelta(hours=24), WindowState.HUMAN_AGENT, "MESSAGE_TAG", "HUMAN_AGENT"),
        (timedelta(hours=24) + SECOND, WindowState.HUMAN_AGENT, "MESSAGE_TAG", "HUMAN_AGENT"),
        (timedelta(days=7) - SECOND, WindowState.HUMAN_AGENT, "MESSAGE_TAG", "HUMAN_AGENT"),
        (timedelta(days=7), WindowState.CLOSED, "RESPONSE", ""),
        (timedelta(days=7) + SECOND, WindowState.CLOSED, "RESPONSE", ""),
    ],
    ids=["just-now", "just-under-24h", "at-24h", "just-over-24h", "just-under-7d", "at-7d", "just-over-7d"],
)
def test_each_window_boundary(ago: timedelta, state: WindowState, messaging_type: str, tag: str) -> None:
    window = reply_window(NOW - ago, now=NOW)
    assert window.state == state
    assert window.is_open == (state != WindowState.CLOSED)
    if window.is_open:
        assert (window.messaging_type, window.tag) == (messaging_type, tag)


def test_a_customer_who_never_wrote_has_no_window() -> None:
    assert reply_window(None, now=NOW).state == WindowState.CLOSED


def test_a_timestamp_slightly_in_the_future_counts_as_just_now() -> None:
    window = reply_window(NOW + timedelta(seconds=5), now=NOW)
    assert window.state == WindowState.STANDARD
    assert window.remaining == timedelta(hours=24)


@pytest.mark.parametrize(
    ("ago", "label"),
    [
        (timedelta(hours=19), "Reply window: 5 h left"),
        (timedelta(hours=23, minutes=20), "Reply window: 40 min left"),
        (timedelta(hours=24) - SECOND, "Reply window: 1 min left"),
        (timedelta(days=4), "Human agent window: 3 days left"),
        (timedelta(days=5, hours=23), "Human agent window: 1 day left"),
        (timedelta(days=6, hours=20), "Human agent window: 4 h left"),
        (timedelta(days=8), "Window closed: the customer must write first"),
    ],
)
def test_the_composer_line_says_how_long_is_left_rounded_down(ago: timedelta, label: str) -> None:
    assert reply_window(NOW - ago, now=NOW).label == label


@pytest.mark.parametrize(
    ("ago", "badge"),
    [
        (timedelta(hours=19), "5 h"),
        (timedelta(days=4), "Agent · 3 days"),
        # Not "Closed": beside it, a closed conversation shows a "Closed" badge of its own.
        (timedelta(days=8), "Window closed"),
    ],
)
def test_the_lists_badge_names_the_window_not_the_conversation(ago: timedelta, badge: str) -> None:
    assert reply_window(NOW - ago, now=NOW).short_label == badge


def test_remaining_time_is_never_rounded_up() -> None:
    assert remaining_text(timedelta(hours=5, minutes=59)) == "5 h"
    assert remaining_text(timedelta(days=2, hours=23)) == "2 days"


# --- The server enforces the windows ---------------------------------------------------------------


@pytest.fixture
def conversation(tenant_a: Tenant) -> Conversation:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    factories.associate(tenant_a.agent, channel)
    return factories.make_conversation(factories.make_page(channel))


def _reply(tenant: Tenant, conversation: Conversation) -> Any:
    conversation.refresh_from_db()
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        return replies.message_send(
            organization=tenant.organization, acting_user=tenant.agent.user, conversation=conversation, text="Hi"
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ago", "outcome"),
    [
        (timedelta(hours=24) - timedelta(minutes=1), ("RESPONSE", "")),
        (timedelta(hours=24) + timedelta(minutes=1), ("MESSAGE_TAG", "HUMAN_AGENT")),
        (timedelta(days=7) - timedelta(minutes=1), ("MESSAGE_TAG", "HUMAN_AGENT")),
        (timedelta(days=7) + timedelta(minutes=1), ReplyWindowClosed),
    ],
    ids=["just-under-24h", "just-over-24h", "just-under-7d", "just-over-7d"],
)
def test_a_reply_is_typed_or_refused_by_the_window_it_falls_in(
    tenant_a: Tenant, conversation: Conversation, ago: timedelta, outcome: Any
) -> None:
    factories.make_message(conversation, sent_at=timezone.now() - ago)
    if outcome is ReplyWindowClosed:
        with pytest.raises(ReplyWindowClosed):
            _reply(tenant_a, conversation)
        assert not conversation.messages.filter(direction=Direction.OUTBOUND).exists()
    else:
        message = _reply(tenant_a, conversation)
        assert (message.messaging_type, message.tag) == outcome


@pytest.mark.django_db
def test_a_new_customer_message_reopens_a_closed_window(tenant_a: Tenant, conversation: Conversation) -> None:
    factories.make_message(conversation, sent_at=timezone.now() - timedelta(days=9))
    with pytest.raises(ReplyWindowClosed):
        _reply(tenant_a, conversation)
    factories.make_message(conversation, text="Are you there?", sent_at=timezone.now() - timedelta(minutes=2))
    message = _reply(tenant_a, conversation)
    assert (message.messaging_type, message.tag) == ("RESPONSE", "")


@pytest.mark.django_db
def test_our_own_replies_do_not_extend_the_window(tenant_a: Tenant, conversation: Conversation) -> None:
    factories.make_message(conversation, sent_at=timezone.now() - timedelta(days=7, hours=1))
    factories.make_message(conversation, direction=Direction.OUTBOUND, sent_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ReplyWindowClosed):
        _reply(tenant_a, conversation)
