# The ASGI fixtures are imported from tests.asgi; their names are parameters below.
# ruff: noqa: F811
"""The member's event stream over a real ASGI server and a Redis of the test's own: events
reach exactly the members who may see them, a reconnect catches up, a stale or forged
Last-Event-ID is a resync, a member's oldest streams beyond the limit are closed, and without
push the stream answers 204 so that the page polls."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from django.db import connection

from channels.models import AgentChannel
from helpdesk.models import Role
from live import bus
from live.events import LiveEvent
from live.publish import (
    conversation_changed,
    notification_publish,
    publish,
    scope_changed,
    ticket_publish,
)
from tests import factories
from tests.asgi import AsgiServer, asgi_server, live_redis, open_stream  # noqa: F401 (fixtures)
from tests.conftest import Tenant
from tests.servers import RedisServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(tenant_a: Tenant, tenant_b: Tenant) -> dict[str, Any]:
    """Organization A: an agent of the web shop's channel, an agent of another channel of
    the same department, an admin; organization B's admin."""
    shop = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    other = factories.make_channel(tenant_a.organization, tenant_a.department, name="Sales")
    factories.associate(tenant_a.agent, shop)
    colleague = factories.make_member(
        tenant_a.organization, role=Role.AGENT, username="alpha-colleague", departments=[tenant_a.department]
    )
    factories.associate(colleague, other)
    return {"a": tenant_a, "b": tenant_b, "shop": shop, "other": other, "colleague": colleague}


def _changed(channel: Any, conversation_id: int = 41) -> LiveEvent:
    return conversation_changed(
        organization_id=channel.organization_id, channel_id=channel.pk, conversation_id=conversation_id, what="message"
    )


def test_an_event_reaches_exactly_the_members_who_see_its_channel(
    asgi_server: AsgiServer, world: dict[str, Any]
) -> None:
    a, b = world["a"], world["b"]
    agent = open_stream(asgi_server, a.agent.user, "alpha")
    admin = open_stream(asgi_server, a.admin.user, "alpha")
    colleague = open_stream(asgi_server, world["colleague"].user, "alpha")
    stranger = open_stream(asgi_server, b.admin.user, "beta")

    publish([_changed(world["shop"])])

    for reader in (agent, admin):
        event = reader.next_live()
        assert event.event == "live"
        assert event.data == {
            "kind": "conversation",
            "topics": ["conversations", "conversation:41"],
            "conversation": 41,
            "what": "message",
        }
        assert event.id and bus.parse_id(event.id)
    # Neither the agent of another channel nor another organization hears of it.
    assert colleague.nothing_within(1.0)
    assert stranger.nothing_within(0.2)
    for reader in (agent, admin, colleague, stranger):
        reader.close()


def test_a_tickets_event_needs_its_own_department_too(asgi_server: AsgiServer, world: dict[str, Any]) -> None:
    a = world["a"]
    elsewhere = factories.make_department(a.organization, "Billing")
    agent = open_stream(asgi_server, a.agent.user, "alpha")
    admin = open_stream(asgi_server, a.admin.user, "alpha")

    class Ticket:  # the fields ticket_publish reads
        pk, organization_id, channel_id, conversation_id = 7, a.organization.pk, world["shop"].pk, 41
        department_id = elsewhere.pk

    ticket_publish(Ticket, what="state")
    event = admin.next_live()
    assert event.data["kind"] == "ticket" and event.data["topics"] == ["tickets", "ticket:7", "conversation:41"]
    assert agent.nothing_within(1.0)  # the agent does not work in Billing
    agent.close()
    admin.close()


def test_a_notification_reaches_its_member_only(asgi_server: AsgiServer, world: dict[str, Any]) -> None:
    a = world["a"]
    agent = open_stream(asgi_server, a.agent.user, "alpha")
    admin = open_stream(asgi_server, a.admin.user, "alpha")
    notification_publish(organization_id=a.organization.pk, user_id=a.agent.user_id, notification_id=5, kind="mention")
    event = agent.next_live()
    assert event.data == {"kind": "notification", "topics": ["notifications"], "notification": 5, "what": "mention"}
    assert admin.nothing_within(1.0)
    agent.close()
    admin.close()


def test_a_reconnect_with_last_event_id_catches_up_on_what_it_missed(
    asgi_server: AsgiServer, world: dict[str, Any]
) -> None:
    a, shop = world["a"], world["shop"]
    first = open_stream(asgi_server, a.agent.user, "alpha")
    publish([_changed(shop, 1)])
    seen = first.next_live()
    first.close()
    # While the laptop sleeps: one change it may see, one it may not, another it may see.
    publish([_changed(shop, 2)])
    publish([_changed(world["other"], 3)])
    publish([_changed(shop, 4)])

    again = open_stream(asgi_server, a.agent.user, "alpha", last_event_id=seen.id)
    caught = [again.next_live(), again.next_live()]
    assert [event.data["conversation"] for event in caught] == [2, 4]
    assert all(event.event == "live" for event in caught)
    assert again.nothing_within(0.5)
    # And it goes on live from there, without giving anything twice.
    publish([_changed(shop, 5)])
    assert again.next_live().data["conversation"] == 5
    again.close()


def test_the_position_a_page_was_drawn_at_covers_changes_made_before_its_stream_opened(
    asgi_server: AsgiServer, world: dict[str, Any]
) -> None:
    a, shop = world["a"], world["shop"]
    publish([_changed(shop, 1)])
    drawn_at = bus.position(a.organization.pk)
    publish([_changed(shop, 2)])  # between the page and its stream
    reader = open_stream(asgi_server, a.agent.user, "alpha", start=drawn_at)
    assert reader.next_live().data["conversation"] == 2
    reader.close()


@pytest.mark.parametrize("last_event_id", ["not-an-id", "99999999999999-0", "1-0"])
def test_a_stale_or_forged_last_event_id_is_a_resync_not_an_error(
    asgi_server: AsgiServer, live_redis: RedisServer, world: dict[str, Any], last_event_id: str
) -> None:
    a, shop = world["a"], world["shop"]
    for number in range(5):
        publish([_changed(shop, number)])
    # "1-0" is older than anything the stream still keeps once it is trimmed.
    redis.Redis.from_url(live_redis.url).xtrim(bus.stream_key(a.organization.pk), maxlen=2, approximate=False)
    reader = open_stream(asgi_server, a.agent.user, "alpha", last_event_id=last_event_id)
    assert reader.response.status_code == 200
    event = reader.next_live()
    assert event.event == "resync"
    publish([_changed(shop, 9)])
    assert reader.next_live().data["conversation"] == 9
    reader.close()


def test_a_member_over_the_stream_limit_loses_their_oldest_stream(
    asgi_server: AsgiServer, world: dict[str, Any], settings: Any
) -> None:
    settings.LIVE_MAX_STREAMS_PER_MEMBER = 2
    user = world["a"].agent.user
    oldest = open_stream(asgi_server, user, "alpha")
    middle = open_stream(asgi_server, user, "alpha")
    newest = open_stream(asgi_server, user, "alpha")
    closed = oldest.next_live()
    assert closed.event == "close"
    assert oldest.next() is None  # the stream ended
    publish([_changed(world["shop"])])
    assert middle.next_live().event == "live" and newest.next_live().event == "live"
    middle.close()
    newest.close()


def test_losing_a_channel_ends_its_events_on_the_open_stream(asgi_server: AsgiServer, world: dict[str, Any]) -> None:
    a, shop = world["a"], world["shop"]
    reader = open_stream(asgi_server, a.agent.user, "alpha")
    AgentChannel.objects.filter(membership=a.agent, channel=shop).delete()
    scope_changed(organization_id=a.organization.pk, user_ids=[a.agent.user_id])
    assert reader.next_live().event == "resync"  # the page fetches what it may still see
    publish([_changed(shop)])
    assert reader.nothing_within(1.0)
    reader.close()


def _server_connections(settle: float = 3.0) -> int:
    """The test database's connections other than the test's own (the server's threads'),
    once those being closed are gone (a backend ends a moment after its client closed it)."""
    import time

    from django.db import connection

    deadline = time.monotonic() + settle
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            count = int(cursor.fetchone()[0])
        if count == 0 or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="counts the sessions in pg_stat_activity")
def test_open_streams_hold_no_database_connection_each(
    asgi_server: AsgiServer, world: dict[str, Any], settings: Any
) -> None:
    """A thousand open pages must not be a thousand PostgreSQL connections: the server's
    synchronous code runs on ASGI_SYNC_THREADS threads (helpdesk.asgi), streams or not."""
    a = world["a"]
    members = (a.agent, a.admin, world["colleague"])
    # Sessions of the test database left by earlier tests of this process are not the server's.
    before = _server_connections(settle=0)
    readers = [open_stream(asgi_server, member.user, "alpha") for member in members for _ in range(4)]
    assert len(readers) > settings.ASGI_SYNC_THREADS
    assert _server_connections(settle=0) - before <= settings.ASGI_SYNC_THREADS
    scope_changed(organization_id=a.organization.pk, user_ids=[a.agent.user_id])
    assert readers[0].next_live().event == "resync"  # its scope was read from the database again
    assert _server_connections(settle=0) - before <= settings.ASGI_SYNC_THREADS
    for reader in readers:
        reader.close()


def test_a_deactivated_member_s_stream_is_closed(asgi_server: AsgiServer, world: dict[str, Any]) -> None:
    a = world["a"]
    reader = open_stream(asgi_server, a.agent.user, "alpha")
    a.agent.is_active = False
    a.agent.save(update_fields=["is_active"])
    scope_changed(organization_id=a.organization.pk, user_ids=[a.agent.user_id])
    assert reader.next_live().event == "close"
    reader.close()


def test_another_organizations_stream_is_404_and_a_stranger_is_sent_to_sign_in(
    asgi_server: AsgiServer, world: dict[str, Any]
) -> None:
    reader = open_stream(asgi_server, world["b"].admin.user, "alpha")
    assert reader.response.status_code == 404
    import requests

    anonymous = requests.get(f"{asgi_server.url}/o/alpha/live/", allow_redirects=False, timeout=5)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous.headers["Location"]


def test_without_redis_the_stream_answers_204_and_the_page_polls(
    asgi_server: AsgiServer, live_redis: RedisServer, world: dict[str, Any]
) -> None:
    live_redis.stop()
    reader = open_stream(asgi_server, world["a"].agent.user, "alpha")
    assert reader.response.status_code == 204


def test_when_redis_stops_the_stream_says_fallback_and_push_comes_back_with_redis(
    asgi_server: AsgiServer, live_redis: RedisServer, world: dict[str, Any]
) -> None:
    user, shop = world["a"].agent.user, world["shop"]
    reader = open_stream(asgi_server, user, "alpha")
    live_redis.stop()
    assert reader.next_live(timeout=10).event == "fallback"
    assert reader.next() is None
    live_redis.start()
    again = open_stream(asgi_server, user, "alpha")
    assert again.response.status_code == 200
    publish([_changed(shop)])
    assert again.next_live().event == "live"
    again.close()


def test_a_wsgi_server_answers_204(web_client_for: Any, world: dict[str, Any], live_redis: RedisServer) -> None:
    response = web_client_for(world["a"].agent).get("/o/alpha/live/")
    assert response.status_code == 204


def test_a_member_removed_from_the_organization_loses_their_stream(
    asgi_server: AsgiServer, world: dict[str, Any]
) -> None:
    colleague = world["colleague"]
    reader = open_stream(asgi_server, colleague.user, "alpha")
    user_id = colleague.user_id
    colleague.delete()
    scope_changed(organization_id=world["a"].organization.pk, user_ids=[user_id])
    assert reader.next_live().event == "close"
    reader.close()
