"""Presence and collision in the inbox: who else views a conversation or types a reply in
it (live.presence, messenger.views.presence), told to the members who may see it and to
nobody else; and a reply sent after a colleague's asks for confirmation first."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from helpdesk.models import Membership, Role
from live import bus, presence
from messenger.models import Direction, Message, MessageStatus
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_sending() -> Any:
    with (
        mock.patch.object(sending_tasks.send_message, "delay", autospec=True),
        mock.patch.object(sending_tasks.send_sender_action, "delay", autospec=True) as sender_action,
    ):
        yield sender_action


@pytest.fixture
def world(tenant_a: Tenant, tenant_b: Tenant) -> dict[str, Any]:
    """Aiko and the agent answer the shop's channel; Ken answers another channel of the same
    organization; bravo's admin is of another organization."""
    org = tenant_a.organization
    shop = factories.make_channel(org, tenant_a.department, name="Web shop")
    sales = factories.make_channel(org, tenant_a.department, name="Sales")
    aiko = factories.make_member(
        org, role=Role.AGENT, username="aiko", departments=[tenant_a.department], first_name="Aiko", last_name="Tanaka"
    )
    ken = factories.make_member(org, role=Role.AGENT, username="ken", departments=[tenant_a.department])
    for member in (aiko, tenant_a.agent):
        factories.associate(member, shop)
    factories.associate(ken, sales)
    page = factories.make_page(shop)
    conversation = factories.make_conversation(page, factories.make_contact(page, display_name="山田 花子"))
    factories.make_message(conversation, text="荷物が届きません")
    return {"a": tenant_a, "b": tenant_b, "aiko": aiko, "ken": ken, "conversation": conversation}


def client_of(membership: Membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def _presence_url(conversation: Any, org: str = "alpha") -> str:
    return f"/o/{org}/inbox/{conversation.pk}/presence/"


def _shown(client: Client, conversation: Any) -> str:
    response = client.get(_presence_url(conversation))
    assert response.status_code == 200
    return re.sub(r"<[^>]+>", "", response.content.decode()).strip()


def test_a_colleague_of_the_channel_sees_who_views_and_who_types_a_reply(world: dict[str, Any]) -> None:
    conversation, aiko = world["conversation"], client_of(world["aiko"])
    agent = client_of(world["a"].agent)
    assert aiko.post(_presence_url(conversation), {"state": "viewing"}).status_code == 204
    assert _shown(agent, conversation) == "Aiko Tanaka is viewing"
    # Nobody is told of themselves.
    assert _shown(aiko, conversation) == ""

    assert aiko.post(_presence_url(conversation), {"state": "typing"}).status_code == 204
    assert _shown(agent, conversation) == "Aiko Tanaka is typing a reply…"

    assert aiko.post(_presence_url(conversation), {"state": "left"}).status_code == 204
    assert _shown(agent, conversation) == ""


def test_the_fragment_answers_204_while_unchanged_and_says_when_to_ask_again(world: dict[str, Any]) -> None:
    conversation = world["conversation"]
    client_of(world["aiko"]).post(_presence_url(conversation), {"state": "typing"})
    agent = client_of(world["a"].agent)
    response = agent.get(_presence_url(conversation))
    version = re.search(r'name="v" value="(\w+)"', response.content.decode()).group(1)
    assert 1 <= int(response["X-Presence-Expires"]) <= presence.TYPING_SECONDS
    unchanged = agent.get(_presence_url(conversation), {"v": version})
    assert unchanged.status_code == 204
    assert unchanged["X-Presence-Expires"]


def test_typing_lapses_without_a_new_signal_and_viewing_after_it(world: dict[str, Any]) -> None:
    conversation, aiko = world["conversation"], world["aiko"]
    org = world["a"].organization
    record = dict(organization_id=org.pk, channel_id=conversation.channel_id, conversation_id=conversation.pk)
    agent = client_of(world["a"].agent)
    presence.presence_record(
        **record, user_id=aiko.user_id, state="typing", now=time.time() - presence.TYPING_SECONDS - 1
    )
    assert _shown(agent, conversation) == "Aiko Tanaka is viewing"
    presence.presence_record(
        **record, user_id=aiko.user_id, state="viewing", now=time.time() - presence.VIEWING_SECONDS - 1
    )
    assert _shown(agent, conversation) == ""


def test_several_colleagues_are_named_together(world: dict[str, Any]) -> None:
    conversation = world["conversation"]
    world["a"].admin.user.first_name = "Ben"
    world["a"].admin.user.save(update_fields=["first_name"])
    client_of(world["aiko"]).post(_presence_url(conversation), {"state": "viewing"})
    client_of(world["a"].admin).post(_presence_url(conversation), {"state": "viewing"})
    assert _shown(client_of(world["a"].agent), conversation) == "Aiko Tanaka, Ben are viewing"


def test_an_agent_of_another_channel_or_organization_gets_404_and_learns_nothing(world: dict[str, Any]) -> None:
    conversation = world["conversation"]
    client_of(world["aiko"]).post(_presence_url(conversation), {"state": "typing"})
    for outsider, org in ((world["ken"], "alpha"), (world["b"].admin, "bravo"), (world["b"].admin, "alpha")):
        client = client_of(outsider)
        assert client.get(_presence_url(conversation, org)).status_code == 404
        assert client.post(_presence_url(conversation, org), {"state": "viewing"}).status_code == 404
    # The outsiders' tries recorded nobody.
    assert [
        p.user_id
        for p in presence.present_list(organization_id=world["a"].organization.pk, conversation_id=conversation.pk)
    ] == [world["aiko"].user_id]


def test_an_unknown_state_is_a_400_with_its_code(world: dict[str, Any]) -> None:
    response = client_of(world["aiko"]).post(_presence_url(world["conversation"]), {"state": "dancing"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_presence_state"


# Each request commits on its own, as on the server (one transaction would coalesce its events).
@pytest.mark.django_db(transaction=True)
def test_presence_is_published_to_the_channel_only_when_what_others_see_changes(
    world: dict[str, Any],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    _no_sending: Any,
) -> None:
    settings.LIVE_REDIS_URL = "redis://unused"
    published: list[Any] = []
    monkeypatch.setattr(bus, "publish_now", lambda events: published.extend(events) or [])
    conversation, aiko = world["conversation"], client_of(world["aiko"])
    url = _presence_url(conversation)

    for state in ("viewing", "viewing", "typing", "typing", "left"):  # a second beat says nothing new
        aiko.post(url, {"state": state})

    assert len(published) == 3
    for event in published:
        assert (event.kind, event.channel_id, event.topics) == (
            "presence",
            conversation.channel_id,
            (f"presence:{conversation.pk}",),
        )
        assert event.data == {"conversation": conversation.pk}
        assert event.user_id is None and event.department_id is None
    # Not kept for catch-up, and never Messenger's typing_on for the customer.
    assert "presence" not in bus.KEPT_KINDS
    _no_sending.assert_not_called()


# --- Collision -------------------------------------------------------------------------------


def _send_url(conversation: Any) -> str:
    return f"/o/alpha/inbox/{conversation.pk}/send/"


def _aiko_replied(world: dict[str, Any], seconds_ago: int) -> Message:
    return factories.make_message(
        world["conversation"],
        text="I'm on it",
        direction=Direction.OUTBOUND,
        author=world["aiko"].user,
        sent_at=timezone.now() - timedelta(seconds=seconds_ago),
    )


def test_a_reply_after_a_colleague_s_asks_for_confirmation_and_keeps_the_text(world: dict[str, Any]) -> None:
    conversation = world["conversation"]
    agent = client_of(world["a"].agent)
    page = agent.get(f"/o/alpha/inbox/{conversation.pk}/").content.decode()
    seen_at = re.search(r'name="seen_at" value="([^"]+)"', page).group(1)
    _aiko_replied(world, seconds_ago=0)  # stored after the page was drawn

    response = agent.post(_send_url(conversation), {"text": "Checking now", "seen_at": seen_at}, HTTP_HX_REQUEST="true")

    assert response.status_code == 409
    body = response.content.decode()
    assert re.search(r"Aiko Tanaka replied [0-2] s ago — send anyway\?", body)
    assert response["HX-Retarget"] == "#composer-feedback"
    assert 'id="composer-confirm"' in body
    assert not Message.objects.filter(author=world["a"].agent.user).exists()

    confirmed_at = re.search(r'name="confirmed_at" value="([^"]+)"', body).group(1)
    sent = agent.post(
        _send_url(conversation),
        {"text": "Checking now", "seen_at": seen_at, "confirmed_at": confirmed_at},
        HTTP_HX_REQUEST="true",
    )
    assert sent.status_code == 200
    assert Message.objects.get(author=world["a"].agent.user).text == "Checking now"
    # The composer has now seen the conversation as of its own reply: the next one goes at once.
    next_seen = re.search(
        r'id="composer-seen-at" name="seen_at" value="([^"]+)" hx-swap-oob="true"', sent.content.decode()
    )
    assert next_seen
    again = agent.post(_send_url(conversation), {"text": "Done", "seen_at": next_seen.group(1)}, HTTP_HX_REQUEST="true")
    assert again.status_code == 200


def test_no_confirmation_when_nobody_else_replied(world: dict[str, Any]) -> None:
    conversation = world["conversation"]
    agent = client_of(world["a"].agent)
    seen_at = (timezone.now() - timedelta(seconds=60)).isoformat()
    # The agent's own reply and the customer's message are no collision.
    factories.make_message(conversation, text="mine", direction=Direction.OUTBOUND, author=world["a"].agent.user)
    factories.make_message(conversation, text="customer again")
    response = agent.post(_send_url(conversation), {"text": "Hello", "seen_at": seen_at}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert Message.objects.filter(text="Hello", status=MessageStatus.QUEUED).exists()


def test_a_colleague_s_reply_before_the_page_or_older_than_the_window_is_no_collision(world: dict[str, Any]) -> None:
    conversation = world["conversation"]
    agent = client_of(world["a"].agent)
    _aiko_replied(world, seconds_ago=30)
    seen_after = (timezone.now() - timedelta(seconds=20)).isoformat()
    assert (
        agent.post(_send_url(conversation), {"text": "one", "seen_at": seen_after}, HTTP_HX_REQUEST="true").status_code
        == 200
    )
    Message.objects.filter(author=world["aiko"].user).update(sent_at=timezone.now() - timedelta(minutes=3))
    long_open = (timezone.now() - timedelta(hours=1)).isoformat()
    assert (
        agent.post(_send_url(conversation), {"text": "two", "seen_at": long_open}, HTTP_HX_REQUEST="true").status_code
        == 200
    )


def test_without_javascript_the_confirmation_comes_back_on_the_page(world: dict[str, Any]) -> None:
    conversation = world["conversation"]
    agent = client_of(world["a"].agent)
    seen_at = (timezone.now() - timedelta(seconds=60)).isoformat()
    _aiko_replied(world, seconds_ago=5)
    response = agent.post(_send_url(conversation), {"text": "Checking now", "seen_at": seen_at})
    assert response.status_code == 409
    body = response.content.decode()
    assert re.search(r"Aiko Tanaka replied [5-7] s ago — send anyway\?", body)
    assert 'id="composer-confirm"' in body
    assert ">Checking now</textarea>" in body
    confirmed_at = re.search(r'name="confirmed_at" value="([^"]+)"', body).group(1)
    sent = agent.post(
        _send_url(conversation), {"text": "Checking now", "seen_at": seen_at, "confirmed_at": confirmed_at}
    )
    assert sent.status_code == 302
    assert Message.objects.filter(author=world["a"].agent.user, text="Checking now").exists()


def test_a_malformed_seen_at_is_a_400(world: dict[str, Any]) -> None:
    response = client_of(world["a"].agent).post(
        _send_url(world["conversation"]), {"text": "x", "seen_at": "yesterday"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert not Message.objects.filter(text="x").exists()
