"""Alerts: the member's choices in Preferences (helpdesk.alerts) and the writers that obey
them, what the page is told to show for a live event (messenger.alerts), the title's count,
and the organization's unassigned time."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

import pytest

from helpdesk import alerts
from helpdesk.models import AlertPreferences, Membership, Notification
from helpdesk.services import membership_alert_preferences_update, notification_create
from messenger.models import ConversationState
from messenger.services import notes
from messenger.tasks import sending as sending_tasks
from messenger.webhook.followups import conversation_announce
from tests import factories
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.PUBLIC_URL = "https://help.example"


@pytest.fixture(autouse=True)
def _nothing_leaves() -> Any:
    with (
        mock.patch.object(sending_tasks.send_message, "delay", autospec=True),
        mock.patch.object(sending_tasks.send_sender_action, "delay", autospec=True),
    ):
        yield


class World:
    def __init__(self, tenant: Tenant) -> None:
        org = tenant.organization
        self.tenant = tenant
        self.channel = factories.make_channel(org, tenant.department, name="Support chat")
        factories.associate(tenant.agent, self.channel)
        self.colleague = factories.make_member(
            org, username="hanako", departments=[tenant.department], first_name="Hanako", email="hanako@example.com"
        )
        Membership.objects.filter(pk=self.colleague.pk).update(language="ja", time_zone="Asia/Tokyo")
        self.colleague.refresh_from_db()
        factories.associate(self.colleague, self.channel)
        self.page = factories.make_page(self.channel, name="Alpha Shop")
        self.contact = factories.make_contact(self.page, psid="PSID-9", display_name="Kenji Mori")
        self.conversation = factories.make_conversation(
            self.page, self.contact, last_message_preview="Where is my parcel?"
        )
        factories.make_message(self.conversation, text="Where is my parcel?")

    def mention(self, body: str = "@hanako please look") -> None:
        agent = self.tenant.agent
        notes.note_add(
            organization=self.tenant.organization,
            acting_user=agent.user,
            membership=agent,
            conversation=self.conversation,
            body=body,
        )

    def alert_url(self, conversation_id: int | None = None, what: str = "customer_message") -> str:
        return f"/o/alpha/inbox/{conversation_id or self.conversation.pk}/alert.json?what={what}"


@pytest.fixture
def world(tenant_a: Tenant) -> World:
    return World(tenant_a)


def _choose(
    member: Membership, *, events: tuple[str, ...] = alerts.EVENTS, ways: tuple[str, ...] = alerts.WAYS
) -> None:
    membership_alert_preferences_update(membership=member, events=events, ways=ways)


# --- Preferences ---------------------------------------------------------------------------


def test_preferences_save_the_events_and_ways_chosen(world: World, web_client_for: Any) -> None:
    client = web_client_for(world.tenant.agent)
    page = client.get("/o/alpha/preferences/").content.decode()
    assert "Enable desktop notifications" in page
    assert 'value="customer_message"' in page
    # Only admins are told of conversations unassigned too long: agents are not offered it.
    assert 'value="unassigned_too_long"' not in page

    response = client.post(
        "/o/alpha/preferences/",
        {
            "language": "",
            "time_zone": "",
            "alert_events": ["mention", "customer_message"],
            "alert_ways": ["desktop", "sound"],
        },
    )

    assert response.status_code == 302
    row = AlertPreferences.objects.get(membership=world.tenant.agent)
    assert (row.new_conversation, row.customer_message, row.mention) == (False, True, True)
    assert (row.in_app, row.desktop, row.sound, row.email) == (False, True, True, False)
    # Kept by the agent's save although not offered to them.
    assert row.unassigned_too_long is True
    page = client.get("/o/alpha/preferences/").content.decode()
    assert re.search(r'<input[^>]*value="sound"[^>]*checked', page)
    assert not re.search(r'<input[^>]*value="email"[^>]*checked', page)


def test_admins_are_offered_the_unassigned_alert(world: World, web_client_for: Any) -> None:
    page = web_client_for(world.tenant.admin).get("/o/alpha/preferences/").content.decode()
    assert 'value="unassigned_too_long"' in page


def test_an_unknown_event_is_a_form_error(world: World, web_client_for: Any) -> None:
    response = web_client_for(world.tenant.agent).post(
        "/o/alpha/preferences/", {"language": "", "time_zone": "", "alert_events": ["everything"]}
    )
    assert response.status_code == 200
    assert "is not one of the available choices" in response.content.decode()
    assert not AlertPreferences.objects.exists()


def test_without_choices_saved_the_defaults_apply(world: World) -> None:
    choices = alerts.choices_of(world.tenant.agent)
    assert choices.events == set(alerts.EVENTS)
    assert choices.ways == {alerts.IN_APP, alerts.DESKTOP, alerts.EMAIL}


# --- The writers obey them -----------------------------------------------------------------


def test_a_mention_with_email_off_is_told_in_the_app_only(
    world: World, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _choose(world.colleague, ways=(alerts.IN_APP, alerts.DESKTOP))
    with django_capture_on_commit_callbacks(execute=True):
        world.mention()
    assert Notification.objects.filter(user=world.colleague.user, kind=Notification.Kind.MENTION).count() == 1
    assert mailoutbox == []


def test_a_mention_with_the_app_off_is_not_in_the_bell_but_still_mailed(
    world: World, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _choose(world.colleague, ways=(alerts.EMAIL,))
    with django_capture_on_commit_callbacks(execute=True):
        world.mention()
    assert not Notification.objects.filter(user=world.colleague.user).exists()
    (mail,) = mailoutbox
    assert mail.to == ["hanako@example.com"]


def test_mentions_turned_off_are_told_no_way(
    world: World, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _choose(world.colleague, events=(alerts.NEW_CONVERSATION,))
    with django_capture_on_commit_callbacks(execute=True):
        world.mention()
    assert not Notification.objects.filter(user=world.colleague.user).exists()
    assert mailoutbox == []


def test_a_new_conversation_is_not_in_the_bell_of_who_turned_it_off(world: World) -> None:
    _choose(world.colleague, events=(alerts.MENTION, alerts.CUSTOMER_MESSAGE))
    assert conversation_announce(conversation_id=world.conversation.pk) == 2
    told = set(Notification.objects.values_list("user_id", flat=True))
    assert told == {world.tenant.admin.user_id, world.tenant.agent.user_id}


def test_kinds_without_an_event_are_always_told(world: World) -> None:
    _choose(world.colleague, events=(), ways=())
    told = notification_create(
        organization=world.tenant.organization,
        user_ids=[world.colleague.user_id],
        kind=Notification.Kind.TOKEN_EXPIRING,
        title="Token",
    )
    assert told == 1


# --- What the page is told to show ----------------------------------------------------------


def test_a_customer_message_alerts_the_assignee_with_the_words_in_their_language(
    world: World, web_client_for: Any
) -> None:
    world.conversation.assignee = world.colleague.user
    world.conversation.save(update_fields=["assignee"])

    data = web_client_for(world.colleague).get(world.alert_url()).json()

    assert data == {
        "alert": True,
        "title": "Kenji Mori からの新しいメッセージ",
        "body": "Where is my parcel?",
        "url": f"/o/alpha/inbox/{world.conversation.pk}/",
        "desktop": True,
        "sound": False,
    }


def test_a_customer_message_alerts_nobody_else(world: World, web_client_for: Any) -> None:
    world.conversation.assignee = world.colleague.user
    world.conversation.save(update_fields=["assignee"])
    assert web_client_for(world.tenant.agent).get(world.alert_url()).json() == {"alert": False}


def test_a_new_unassigned_conversation_alerts_the_channels_agents(world: World, web_client_for: Any) -> None:
    data = web_client_for(world.tenant.agent).get(world.alert_url(what="created")).json()
    assert data["alert"] is True
    assert data["title"] == "New conversation with Kenji Mori"


def test_the_alert_follows_the_preferences(world: World, web_client_for: Any) -> None:
    client = web_client_for(world.tenant.agent)
    _choose(world.tenant.agent, events=(alerts.MENTION,))
    assert client.get(world.alert_url(what="created")).json() == {"alert": False}
    _choose(world.tenant.agent, ways=(alerts.SOUND, alerts.EMAIL))
    data = client.get(world.alert_url(what="created")).json()
    assert (data["desktop"], data["sound"]) == (False, True)
    assert client.get(world.alert_url(what="edit")).json() == {"alert": False}


def test_the_conversation_alert_is_404_for_whoever_may_not_see_it(
    world: World, tenant_b: Tenant, web_client_for: Any
) -> None:
    sales = factories.make_department(world.tenant.organization, "Sales")
    outsider = factories.make_member(world.tenant.organization, username="sam", departments=[sales])
    assert web_client_for(outsider).get(world.alert_url(what="created")).status_code == 404
    assert web_client_for(tenant_b.admin).get(world.alert_url(what="created")).status_code == 404
    # Through the other organization's own address too.
    response = web_client_for(tenant_b.admin).get(f"/o/bravo/inbox/{world.conversation.pk}/alert.json?what=created")
    assert response.status_code == 404


def test_a_notification_alert_is_written_in_the_readers_language(world: World, web_client_for: Any) -> None:
    world.mention()
    notice = Notification.objects.get(user=world.colleague.user)

    data = web_client_for(world.colleague).get(f"/o/alpha/notifications/{notice.pk}/alert.json").json()

    assert (
        data["title"]
        == f"{world.tenant.agent.user.username} さんが Kenji Mori との会話のメモであなたをメンションしました"
    )
    assert data["body"] == "@hanako please look"
    assert data["url"] == f"/o/alpha/notifications/{notice.pk}/"
    assert (data["kind"], data["desktop"], data["sound"]) == ("mention", True, False)


def test_a_notification_alert_is_404_for_anyone_else(world: World, tenant_b: Tenant, web_client_for: Any) -> None:
    world.mention()
    notice = Notification.objects.get(user=world.colleague.user)
    url = f"/o/alpha/notifications/{notice.pk}/alert.json"
    assert web_client_for(world.tenant.agent).get(url).status_code == 404
    assert web_client_for(tenant_b.admin).get(url).status_code == 404
    assert web_client_for(tenant_b.admin).get(f"/o/bravo/notifications/{notice.pk}/alert.json").status_code == 404


# --- The title's count ------------------------------------------------------------------------


def test_the_title_counts_unread_notices_and_unread_conversations_assigned_to_the_member(
    world: World, tenant_b: Tenant, web_client_for: Any
) -> None:
    world.conversation.assignee = world.colleague.user
    world.conversation.unread_count = 2
    world.conversation.save(update_fields=["assignee", "unread_count"])
    # Read, closed or someone else's conversations are not counted.
    factories.make_conversation(world.page, assignee=world.colleague.user, unread_count=0)
    factories.make_conversation(
        world.page, assignee=world.colleague.user, unread_count=3, state=ConversationState.CLOSED
    )
    factories.make_conversation(world.page, assignee=world.tenant.agent.user, unread_count=1)
    world.mention()

    data = web_client_for(world.colleague).get("/o/alpha/inbox/alerts/count.json").json()

    assert data == {"count": 2, "notifications": 1, "conversations": 1, "desktop": True, "sound": False}
    assert web_client_for(tenant_b.admin).get("/o/alpha/inbox/alerts/count.json").status_code == 404


# --- The organization's time ------------------------------------------------------------------


def test_admins_set_the_unassigned_time_between_1_and_1440_minutes(world: World, web_client_for: Any) -> None:
    client = web_client_for(world.tenant.admin)
    fields = {"name": "Alpha", "language": "en", "time_zone": "UTC"}
    assert client.post("/o/alpha/settings/organization/", {**fields, "unassigned_alert_minutes": 0}).status_code == 200
    response = client.post("/o/alpha/settings/organization/", {**fields, "unassigned_alert_minutes": 25})
    assert response.status_code == 302
    world.tenant.organization.refresh_from_db()
    assert world.tenant.organization.unassigned_alert_minutes == 25
    agent = web_client_for(world.tenant.agent).post(
        "/o/alpha/settings/organization/", {**fields, "unassigned_alert_minutes": 5}
    )
    assert agent.status_code in (403, 404)
