"""The minute's job that tells admins of conversations left unassigned too long
(messenger.services.unassigned_alerts): the department's admins, once per stretch without an
agent, in their language, as their Preferences say; a second run changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone, translation

from helpdesk import alerts
from helpdesk.models import Membership, Notification, Role
from helpdesk.notifications import notification_text
from helpdesk.services import membership_alert_preferences_update
from messenger.models import Conversation, ConversationEvent, ConversationState, UnassignedAlert
from messenger.services.unassigned_alerts import unassigned_alerts_send
from messenger.tasks.alerts import unassigned_sweep
from tests import factories
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.PUBLIC_URL = "https://help.example"


class World:
    def __init__(self, tenant: Tenant) -> None:
        org = tenant.organization
        self.tenant = tenant
        self.now = timezone.now()
        Membership.objects.filter(pk=tenant.admin.pk).update(language="ja")
        tenant.admin.user.email = "admin@example.com"
        tenant.admin.user.save(update_fields=["email"])
        # An admin who works in another department only.
        self.sales = factories.make_department(org, "Sales")
        self.sales_admin = factories.make_member(
            org, role=Role.ADMIN, username="sales-admin", departments=[self.sales], email="sales@example.com"
        )
        self.channel = factories.make_channel(org, tenant.department, name="Support chat")
        self.page = factories.make_page(self.channel)

    def waiting(self, minutes: float, **fields: Any) -> Conversation:
        """An open conversation nobody holds, made and waiting `minutes` ago."""
        since = self.now - timedelta(minutes=minutes)
        contact = factories.make_contact(self.page, display_name=fields.pop("name", "Kenji Mori"))
        conversation = factories.make_conversation(self.page, contact, waiting_since=since, **fields)
        Conversation.objects.filter(pk=conversation.pk).update(created_at=since)
        return conversation

    def event(self, conversation: Conversation, kind: str, minutes_ago: float) -> ConversationEvent:
        event = ConversationEvent.objects.create(
            organization=self.tenant.organization, conversation=conversation, kind=kind
        )
        ConversationEvent.objects.filter(pk=event.pk).update(created_at=self.now - timedelta(minutes=minutes_ago))
        return event

    def run(self, minutes_later: float = 0) -> int:
        return unassigned_alerts_send(now=self.now + timedelta(minutes=minutes_later))


@pytest.fixture
def world(tenant_a: Tenant) -> World:
    return World(tenant_a)


def _told() -> list[tuple[int, int]]:
    return sorted(Notification.objects.filter(kind=Notification.Kind.UNASSIGNED_TOO_LONG).values_list("user_id", "pk"))


def test_the_departments_admins_are_told_once_and_not_twice(
    world: World, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = world.waiting(11)

    with django_capture_on_commit_callbacks(execute=True):
        assert world.run() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert world.run() == 0
        assert world.run(minutes_later=30) == 0

    (notice,) = Notification.objects.filter(kind=Notification.Kind.UNASSIGNED_TOO_LONG)
    # The admin of the conversation's department, not the one of Sales.
    assert notice.user_id == world.tenant.admin.user_id
    assert notice.url == f"/o/alpha/inbox/{conversation.pk}/"
    assert UnassignedAlert.objects.filter(conversation=conversation).count() == 1
    # The admin reads Japanese: the email and the notice are written in it.
    (mail,) = mailoutbox
    assert mail.to == ["admin@example.com"]
    assert mail.subject == "10 分以上未割り当て: Kenji Mori との会話"
    assert "チャネル: Support chat" in mail.body
    assert f"https://help.example/o/alpha/inbox/{conversation.pk}/" in mail.body
    with translation.override("en"):
        assert notification_text(notice).title == "Unassigned for over 10 min: the conversation with Kenji Mori"


def test_the_beat_task_runs_the_job(world: World) -> None:
    world.waiting(11)
    assert unassigned_sweep.apply().get() == 1
    assert unassigned_sweep.apply().get() == 0


def test_not_before_the_organizations_time(world: World) -> None:
    world.waiting(9)
    assert world.run() == 0
    organization = world.tenant.organization
    organization.unassigned_alert_minutes = 5
    organization.save(update_fields=["unassigned_alert_minutes"])
    assert world.run() == 1


def test_assigned_closed_answered_or_blocked_conversations_are_not_told_of(world: World) -> None:
    world.waiting(30, assignee=world.tenant.agent.user)
    world.waiting(30, state=ConversationState.CLOSED)
    answered = world.waiting(30)
    Conversation.objects.filter(pk=answered.pk).update(waiting_since=None)
    blocked = world.waiting(30)
    blocked.contact.is_blocked = True
    blocked.contact.save(update_fields=["is_blocked"])
    assert world.run() == 0
    assert _told() == []


def test_the_clock_starts_again_when_it_was_assigned_and_left_again(world: World) -> None:
    conversation = world.waiting(60)
    assert world.run() == 1
    # Assigned, then given back: a new stretch without an agent, told once more in its turn.
    world.event(conversation, ConversationEvent.Kind.ASSIGNED, minutes_ago=8)
    world.event(conversation, ConversationEvent.Kind.UNASSIGNED, minutes_ago=5)
    assert world.run() == 0
    assert world.run(minutes_later=6) == 1
    assert world.run(minutes_later=7) == 0
    assert len(_told()) == 2


def test_without_an_admin_in_the_department_every_admin_is_told(world: World) -> None:
    Membership.objects.get(pk=world.tenant.admin.pk).departments.clear()
    world.waiting(11)
    assert world.run() == 1
    assert {user_id for user_id, _pk in _told()} == {world.tenant.admin.user_id, world.sales_admin.user_id}


def test_the_admins_preferences_are_obeyed(
    world: World, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    membership_alert_preferences_update(membership=world.tenant.admin, events=alerts.EVENTS, ways=[alerts.EMAIL])
    world.waiting(11)
    with django_capture_on_commit_callbacks(execute=True):
        assert world.run() == 1
    assert _told() == []
    assert [mail.to for mail in mailoutbox] == [["admin@example.com"]]

    membership_alert_preferences_update(
        membership=world.tenant.admin, events=[alerts.MENTION], ways=[alerts.IN_APP, alerts.EMAIL]
    )
    world.waiting(11, name="Aiko")
    with django_capture_on_commit_callbacks(execute=True):
        assert world.run() == 1
    assert _told() == []
    assert len(mailoutbox) == 1


def test_other_organizations_are_told_of_their_own_only(world: World, tenant_b: Tenant) -> None:
    world.waiting(11)
    channel_b = factories.make_channel(tenant_b.organization, tenant_b.department)
    page_b = factories.make_page(channel_b)
    conversation_b = factories.make_conversation(page_b, waiting_since=world.now - timedelta(minutes=3))
    Conversation.objects.filter(pk=conversation_b.pk).update(created_at=world.now - timedelta(minutes=3))
    assert world.run() == 1
    assert {user_id for user_id, _pk in _told()} == {world.tenant.admin.user_id}
    assert world.run(minutes_later=8) == 1
    assert {user_id for user_id, _pk in _told()} == {world.tenant.admin.user_id, tenant_b.admin.user_id}


def test_many_conversations_are_told_of_in_batches(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("messenger.services.unassigned_alerts.BATCH", 2)
    for n in range(5):
        world.waiting(11 + n, name=f"Customer {n}")
    assert world.run() == 5
    assert len(_told()) == 5
    assert world.run() == 0
