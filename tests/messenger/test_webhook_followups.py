"""What runs after commit (profile lookups, new-conversation notices), what happens when
the broker is down, and the periodic jobs: catch-up, retry of pending events, pruning."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from helpdesk.models import Notification, Role
from messenger import tasks
from messenger.graph import GraphClient, NoProfileError, Profile, RateLimitedError, TokenInvalidError
from messenger.models import Contact, Conversation, FacebookPage, Message, PageStatus, WebhookEvent, WebhookOutcome
from messenger.webhook import apply, followups
from messenger.webhook.followups import conversation_announce, followups_catch_up, followups_run
from messenger.webhook.receive import webhook_events_prune, webhook_events_retry_pending
from tests import factories
from tests.conftest import Tenant
from tests.messenger.fixtures import (
    BASE_MS,
    PAGE_ID,
    PSID,
    fast_password_hashing,
    no_broker_pause,
    page,
    page_body,
    post_webhook,
    text_item,
    webhook_fixture,
)

__all__ = ["fast_password_hashing", "no_broker_pause", "page"]
pytestmark = pytest.mark.usefixtures("no_broker_pause")

ALICE = Profile(first_name="Alice", last_name="Martin", profile_pic="https://platform-lookaside.fbsbx.com/alice.jpg")


def new_customer(client: Client, psid: str, mid: str) -> None:
    assert post_webhook(client, page_body((PAGE_ID, [text_item(psid=psid, mid=mid)]))).status_code == 200


def notified_user_ids(organization: Any) -> set[int]:
    return set(Notification.objects.filter(organization=organization).values_list("user_id", flat=True))


# --- Queued after commit ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_followups_run_the_profile_lookup_then_tell_the_agents(
    client: Client, page: FacebookPage, tenant_a: Tenant, tenant_b: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    unassociated = factories.make_member(tenant_a.organization, role=Role.AGENT, username="not-on-this-channel")
    with (
        mock.patch.object(tasks.webhook_followups, "delay", autospec=True) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        post_webhook(client, webhook_fixture("message_text"))
    contact_ids, conversation_ids = delay.call_args.args
    with mock.patch.object(GraphClient, "get_profile", autospec=True, return_value=ALICE) as get_profile:
        tasks.webhook_followups(contact_ids, conversation_ids)  # what the worker runs
    assert get_profile.call_args.kwargs == {"psid": PSID, "page_token": "page-token"}
    contact = Contact.objects.get()
    assert (contact.display_name, contact.avatar_url) == ("Alice Martin", ALICE.profile_pic)
    assert contact.profile_fetched_at is not None
    notice = Notification.objects.get(user=tenant_a.agent.user)
    assert notice.kind == Notification.Kind.NEW_CONVERSATION
    assert notice.title == "New conversation with Alice Martin"
    assert notice.body == "Hello, my order #1042 has not arrived yet."
    assert notice.dedupe_key == f"new_conversation:{conversation_ids[0]}"
    assert notified_user_ids(tenant_a.organization) == {tenant_a.agent.user_id, tenant_a.admin.user_id}
    assert unassociated.user_id not in notified_user_ids(tenant_a.organization)
    assert not Notification.objects.filter(organization=tenant_b.organization).exists()
    # Run twice (a retried task): nobody is told twice, the profile is not fetched again.
    with mock.patch.object(GraphClient, "get_profile", autospec=True, return_value=ALICE) as get_profile:
        tasks.webhook_followups(contact_ids, conversation_ids)
    get_profile.assert_not_called()
    assert Notification.objects.count() == 2


@pytest.mark.django_db
def test_a_deactivated_agent_is_not_told(page: FacebookPage, tenant_a: Tenant) -> None:
    tenant_a.agent.is_active = False
    tenant_a.agent.save(update_fields=["is_active"])
    conversation = factories.make_conversation(page)
    factories.make_message(conversation)
    conversation_announce(conversation_id=conversation.pk)
    assert notified_user_ids(tenant_a.organization) == {tenant_a.admin.user_id}


@pytest.mark.django_db
def test_an_agent_of_the_channel_out_of_its_department_is_not_told(page: FacebookPage, tenant_a: Tenant) -> None:
    """They may not open the conversation (channels.visibility), so its customer's name stays unsaid."""
    tenant_a.agent.departments.set([factories.make_department(tenant_a.organization, "Sales")])
    conversation = factories.make_conversation(page)
    factories.make_message(conversation)
    conversation_announce(conversation_id=conversation.pk)
    assert notified_user_ids(tenant_a.organization) == {tenant_a.admin.user_id}


@pytest.mark.django_db
def test_a_blocked_customer_raises_no_notice(page: FacebookPage) -> None:
    conversation = factories.make_conversation(page, factories.make_contact(page, is_blocked=True))
    assert conversation_announce(conversation_id=conversation.pk) == 0
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_no_profile_keeps_the_readable_fallback_name(page: FacebookPage) -> None:
    contact = factories.make_contact(page, psid="6000000000001234", display_name="Messenger customer 1234")
    no_profile = NoProfileError("No profile available for this user.", code=2018218)
    with mock.patch.object(GraphClient, "get_profile", autospec=True, side_effect=no_profile):
        followups_run(contact_ids=[contact.pk], conversation_ids=[])
    contact.refresh_from_db()
    assert contact.display_name == "Messenger customer 1234"
    assert contact.profile_fetched_at is not None


@pytest.mark.django_db
def test_a_dead_page_token_marks_the_page_and_leaves_the_profile_for_later(page: FacebookPage) -> None:
    contact = factories.make_contact(page, display_name="Messenger customer 0042")
    expired = TokenInvalidError("Error validating access token", code=190, subcode=463, reason="token_expired")
    with mock.patch.object(GraphClient, "get_profile", autospec=True, side_effect=expired):
        followups_run(contact_ids=[contact.pk], conversation_ids=[])
    contact.refresh_from_db()
    page.refresh_from_db()
    assert contact.profile_fetched_at is None
    assert page.status == PageStatus.REAUTHORIZATION_REQUIRED
    # Until the page is authorized again, the catch-up does not ask Facebook.
    Contact.objects.filter(pk=contact.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    with mock.patch.object(GraphClient, "get_profile", autospec=True) as get_profile:
        followups_catch_up()
    get_profile.assert_not_called()


@pytest.mark.django_db
def test_a_rate_limited_lookup_is_retried_later(page: FacebookPage) -> None:
    contact = factories.make_contact(page)
    limited = RateLimitedError("Calls to this api have exceeded the rate limit.", code=613)
    with (
        mock.patch.object(GraphClient, "get_profile", autospec=True, side_effect=limited),
        mock.patch.object(tasks.webhook_contact_profile_fetch, "apply_async", autospec=True) as retry,
    ):
        followups_run(contact_ids=[contact.pk], conversation_ids=[])
    retry.assert_called_once_with((contact.pk,), countdown=followups.PROFILE_RETRY_COUNTDOWN)
    contact.refresh_from_db()
    assert contact.profile_fetched_at is None


# --- Redis down ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_when_the_broker_is_down_messages_are_stored_and_the_catch_up_does_the_rest(
    client: Client, page: FacebookPage, tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    down = BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    with (
        mock.patch.object(tasks.webhook_followups, "delay", autospec=True, side_effect=down) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        new_customer(client, "6000000000000101", "m_first")
        # Once refused, the next POSTs do not wait for the broker again for a while.
        new_customer(client, "6000000000000102", "m_second")
    assert delay.call_count == 1
    assert Message.objects.count() == 2
    assert Contact.objects.filter(profile_fetched_at__isnull=True).count() == 2
    assert not Notification.objects.exists()

    # The broker is back: the every-minute job finds what was left.
    later = timezone.now() + followups.CATCH_UP_AFTER + timedelta(seconds=1)
    with mock.patch.object(GraphClient, "get_profile", autospec=True, return_value=ALICE):
        assert followups_catch_up(now=later) == (2, 2)
    assert set(Contact.objects.values_list("display_name", flat=True)) == {"Alice Martin"}
    assert Notification.objects.filter(user=tenant_a.agent.user).count() == 2
    # A second run has nothing left to do.
    with mock.patch.object(GraphClient, "get_profile", autospec=True) as get_profile:
        assert followups_catch_up(now=later) == (0, 0)
    get_profile.assert_not_called()


@pytest.mark.django_db
def test_the_catch_up_leaves_recent_rows_to_the_queued_task(page: FacebookPage) -> None:
    conversation = factories.make_conversation(page)
    factories.make_message(conversation)
    with mock.patch.object(GraphClient, "get_profile", autospec=True) as get_profile:
        assert followups_catch_up() == (0, 0)
    get_profile.assert_not_called()


@pytest.mark.django_db
def test_the_catch_up_does_not_announce_a_conversation_started_by_the_page(page: FacebookPage) -> None:
    conversation = factories.make_conversation(page, factories.make_contact(page, profile_fetched_at=timezone.now()))
    factories.make_message(conversation, direction="out", source="external")
    later = timezone.now() + followups.CATCH_UP_AFTER + timedelta(seconds=1)
    assert followups_catch_up(now=later) == (0, 0)


# --- The periodic jobs -------------------------------------------------------------------------


def test_the_periodic_jobs_are_scheduled() -> None:
    from helpdesk.celery import app

    scheduled = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled["messenger.webhook.events_process_pending"]["schedule"] == 60.0
    assert "messenger.webhook.events_prune" in scheduled
    for name in scheduled:
        if name.startswith("messenger.webhook"):
            assert name in app.tasks


@pytest.mark.django_db
def test_the_every_minute_job_applies_pending_events_and_queues_their_followups(
    client: Client, page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        mock.patch.object(apply, "messages_store", autospec=True, side_effect=RuntimeError("bug")),
        mock.patch.object(tasks.webhook_followups, "delay", autospec=True),
    ):
        post_webhook(client, webhook_fixture("message_text"))
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(minutes=2))
    with (
        mock.patch.object(tasks.webhook_followups, "delay", autospec=True) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.webhook_events_process_pending()
    assert WebhookEvent.objects.get().outcome == WebhookOutcome.STORED
    conversation = Conversation.objects.get()
    delay.assert_called_once_with([conversation.contact_id], [conversation.pk])


@pytest.mark.django_db
def test_old_events_are_pruned_but_pending_ones_are_kept(settings: Any, page: FacebookPage) -> None:
    settings.WEBHOOK_EVENT_RETENTION_DAYS = 30
    now = timezone.now()
    for outcome in WebhookOutcome.values:
        for age in (timedelta(days=31), timedelta(days=29)):
            WebhookEvent.objects.create(
                organization=page.organization, kind="message", payload={}, outcome=outcome, received_at=now - age
            )
    assert webhook_events_prune(now=now, batch_size=2) == len(WebhookOutcome.values) - 1
    remaining = WebhookEvent.objects.filter(received_at__lt=now - timedelta(days=30))
    assert list(remaining.values_list("outcome", flat=True)) == [WebhookOutcome.PENDING]
    assert WebhookEvent.objects.filter(received_at__gt=now - timedelta(days=30)).count() == len(WebhookOutcome.values)
    assert webhook_events_prune(now=now) == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_runs_of_the_retry_job_never_take_the_same_event(tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    factories.make_page(channel, page_id=PAGE_ID)
    event = WebhookEvent.objects.create(
        organization=tenant_a.organization,
        page_id=PAGE_ID,
        kind="message",
        mid="m_pending",
        payload=text_item(mid="m_pending", timestamp=BASE_MS),
        outcome=WebhookOutcome.PENDING,
        received_at=timezone.now() - timedelta(minutes=1),
    )
    claimed, release = threading.Event(), threading.Event()

    def other_run() -> None:
        try:
            with transaction.atomic():
                list(WebhookEvent.objects.select_for_update().filter(pk=event.pk))
                claimed.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_run)
    thread.start()
    assert claimed.wait(timeout=30)
    try:
        assert webhook_events_retry_pending().retried == 0  # skipped, not waited for
    finally:
        release.set()
        thread.join()
    with mock.patch.object(tasks.webhook_followups, "delay", autospec=True):
        assert webhook_events_retry_pending().retried == 1
    assert Message.objects.get().mid == "m_pending"
    assert Conversation.objects.get().contact.psid == PSID
