# The sandbox fixtures are imported from tests.channels.facebook; their names are parameters below.
# ruff: noqa: F811
"""Page health (messenger.pages.health): the daily subscription check against the Graph
sandbox over real HTTP, the hourly silence check learned from each page's own history, the
counters the webhook keeps, and what the channel page and the API show."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone, translation

from channels.models import Channel
from helpdesk.models import Notification
from helpdesk.notifications import notification_words
from messenger import notification_texts, tasks
from messenger.client import graph_client
from messenger.graph import SUBSCRIBED_FIELDS
from messenger.models import FacebookPage, PageActivityHour, PageStatus, SubscriptionState
from messenger.pages import health
from messenger.sandbox.models import SandboxPage, SandboxSubscription
from messenger.sandbox.people import sandbox_page_token_issue
from messenger.sandbox.revocations import sandbox_app_remove, sandbox_subscription_drop
from tests import factories
from tests.channels.facebook import DEMO_PAGE, Facebook, facebook  # noqa: F401
from tests.conftest import Tenant, api_client_for
from tests.messenger.fixtures import PAGE_ID, page_body, post_webhook, text_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(tenant_a: Tenant) -> Channel:
    tenant_a.admin.user.email = "admin@alpha.test"
    tenant_a.admin.user.save(update_fields=["email"])
    return factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")


def _notices(kind: str) -> list[Notification]:
    return list(Notification.objects.filter(kind=kind).order_by("pk"))


# --- The daily subscription check, against the sandbox ------------------------------------


@pytest.fixture
def sandbox_page(facebook: Facebook, channel: Channel) -> FacebookPage:
    """DEMO_PAGE linked to the channel with a real sandbox page token, the app subscribed."""
    token = sandbox_page_token_issue(page_id=DEMO_PAGE)
    SandboxSubscription.objects.update_or_create(
        page=SandboxPage.objects.get(page_id=DEMO_PAGE), defaults={"subscribed_fields": list(SUBSCRIBED_FIELDS)}
    )
    return factories.make_page(channel, page_id=DEMO_PAGE, token=token, name="Shop page")


def _check(capture: Any, now: datetime | None = None) -> health.SubscriptionReport:
    with capture(execute=True):
        return health.pages_subscription_check(now=now)


def test_a_subscribed_page_is_marked_subscribed_and_nobody_is_told(
    sandbox_page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    report = _check(django_capture_on_commit_callbacks)
    assert (report.checked, report.resubscribed) == (1, 0)
    sandbox_page.refresh_from_db()
    assert sandbox_page.subscription_state == SubscriptionState.SUBSCRIBED
    assert sandbox_page.subscription_checked_at is not None
    assert _notices(Notification.Kind.PAGE_SUBSCRIPTION_DROPPED) == [] and mail.outbox == []


def test_a_dropped_subscription_is_renewed_and_admins_are_told_once_per_drop(
    sandbox_page: FacebookPage, tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    sandbox = SandboxPage.objects.get(page_id=DEMO_PAGE)
    assert sandbox_subscription_drop(page=sandbox)
    first = timezone.now()
    report = _check(django_capture_on_commit_callbacks, now=first)
    assert report.resubscribed == 1
    # Facebook delivers again: the app is subscribed with every field linking asks for.
    assert SandboxSubscription.objects.get(page=sandbox).subscribed_fields == list(SUBSCRIBED_FIELDS)
    sandbox_page.refresh_from_db()
    assert sandbox_page.subscription_state == SubscriptionState.RESUBSCRIBED
    assert sandbox_page.resubscribed_at == first == sandbox_page.subscription_dropped_at
    [notice] = _notices(Notification.Kind.PAGE_SUBSCRIPTION_DROPPED)
    assert notice.user_id == tenant_a.admin.user_id
    assert notice.title == "Facebook dropped the subscription of Page “Shop page”"
    assert "subscribed again" in notice.body
    assert notice.url == f"/o/alpha/settings/channels/{sandbox_page.channel_id}/"
    [email] = mail.outbox
    assert email.to == ["admin@alpha.test"] and "Shop page" in email.subject

    # The next day all is well: nothing new to tell, the page still says when it was renewed.
    _check(django_capture_on_commit_callbacks, now=first + timedelta(days=1))
    assert len(_notices(Notification.Kind.PAGE_SUBSCRIPTION_DROPPED)) == 1 and len(mail.outbox) == 1
    sandbox_page.refresh_from_db()
    assert sandbox_page.subscription_state == SubscriptionState.RESUBSCRIBED

    # A second drop is a new event, told again.
    sandbox_subscription_drop(page=sandbox)
    _check(django_capture_on_commit_callbacks, now=first + timedelta(days=2))
    assert len(_notices(Notification.Kind.PAGE_SUBSCRIPTION_DROPPED)) == 2


def test_a_subscription_missing_fields_is_renewed_with_all_of_them(
    sandbox_page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    sandbox = SandboxPage.objects.get(page_id=DEMO_PAGE)
    SandboxSubscription.objects.filter(page=sandbox).update(subscribed_fields=["messages"])
    assert _check(django_capture_on_commit_callbacks).resubscribed == 1
    assert SandboxSubscription.objects.get(page=sandbox).subscribed_fields == list(SUBSCRIBED_FIELDS)


def test_a_refused_token_goes_through_the_authorization_state_machine(
    sandbox_page: FacebookPage, facebook: Facebook, django_capture_on_commit_callbacks: Any
) -> None:
    sandbox_app_remove(user=facebook.user)
    report = _check(django_capture_on_commit_callbacks)
    assert report.checked == 0
    sandbox_page.refresh_from_db()
    assert sandbox_page.status == PageStatus.REAUTHORIZATION_REQUIRED
    assert sandbox_page.subscription_state == SubscriptionState.UNKNOWN
    assert len(_notices(Notification.Kind.PAGE_REAUTHORIZATION)) == 1
    assert _notices(Notification.Kind.PAGE_SUBSCRIPTION_DROPPED) == []
    # A page waiting for re-authorization is not asked again.
    assert _check(django_capture_on_commit_callbacks).checked == 0


def test_the_sandbox_control_drops_the_subscription_and_graph_says_so(
    sandbox_page: FacebookPage, facebook: Facebook, settings: Any, client: Client
) -> None:
    settings.GRAPH_SANDBOX = True
    response = client.post("/sandbox/controls/subscription/drop/", {"page": DEMO_PAGE})
    assert response.status_code == 302
    token = sandbox_page_token_issue(page_id=DEMO_PAGE)
    assert graph_client().subscribed_apps(page_id=DEMO_PAGE, page_token=token) == []
    graph_client().subscribe_app(page_id=DEMO_PAGE, page_token=token)
    [app] = graph_client().subscribed_apps(page_id=DEMO_PAGE, page_token=token)
    assert (app.app_id, app.fields) == (str(settings.FB_APP_ID), SUBSCRIBED_FIELDS)


# --- Counting what the webhook receives ----------------------------------------------------


@pytest.fixture
def webhook_page(channel: Channel) -> FacebookPage:
    return factories.make_page(channel, page_id=PAGE_ID, name="Shop page")


def test_the_webhook_counts_events_per_page_and_hour_and_clears_a_silence(
    client: Client, webhook_page: FacebookPage
) -> None:
    _counted_and_silence_cleared(client, webhook_page)


@pytest.mark.django_db(transaction=True)
def test_the_counts_commit_in_a_transaction_of_their_own_outside_the_requests(
    client: Client, webhook_page: FacebookPage
) -> None:
    """As in production, where a POST is no transaction: the counts' own (on PostgreSQL, one
    whose commit does not wait for the disk)."""
    _counted_and_silence_cleared(client, webhook_page)


def _counted_and_silence_cleared(client: Client, webhook_page: FacebookPage) -> None:
    FacebookPage.objects.filter(pk=webhook_page.pk).update(silent_since=timezone.now() - timedelta(hours=1))
    body = page_body((PAGE_ID, [text_item(mid="m_1"), text_item(mid="m_2")]), ("999", [text_item(mid="m_3")]))
    assert post_webhook(client, body).status_code == 200
    assert post_webhook(client, page_body((PAGE_ID, [text_item(mid="m_4")]))).status_code == 200
    [row] = PageActivityHour.objects.all()
    assert (row.page_id, row.organization_id, row.events) == (webhook_page.pk, webhook_page.organization_id, 3)
    assert row.hour == health.hour_start(row.hour) and timezone.now() - row.hour < timedelta(hours=1)
    webhook_page.refresh_from_db()
    assert webhook_page.silent_since is None
    assert timezone.now() - webhook_page.last_event_at < timedelta(minutes=1)


# --- The silence check ---------------------------------------------------------------------

NOW = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)


def _history(page: FacebookPage, *, weeks: int, per_hour: int, now: datetime = NOW) -> None:
    """`per_hour` events in each hour of the same 6-hour window of the last `weeks` weeks."""
    end = health.hour_start(now)
    rows = [
        PageActivityHour(
            organization=page.organization, page=page, hour=end - timedelta(weeks=week, hours=hour), events=per_hour
        )
        for week in range(1, weeks + 1)
        for hour in range(1, 7)
    ]
    PageActivityHour.objects.bulk_create(rows)


def _silent_page(channel: Channel, *, linked_weeks_ago: int, last_event_hours_ago: float = 7) -> FacebookPage:
    page = factories.make_page(channel, name="Shop page")
    FacebookPage.objects.filter(pk=page.pk).update(
        created_at=NOW - timedelta(weeks=linked_weeks_ago),
        last_event_at=NOW - timedelta(hours=last_event_hours_ago),
    )
    page.refresh_from_db()
    return page


def test_a_usually_busy_page_that_went_quiet_is_flagged_once_then_cleared(
    channel: Channel, tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    page = _silent_page(channel, linked_weeks_ago=9)
    _history(page, weeks=8, per_hour=3)  # 18 events in these six hours, every week
    with django_capture_on_commit_callbacks(execute=True):
        assert health.pages_silence_check(now=NOW).raised == 1
    page.refresh_from_db()
    assert page.silent_since == NOW
    [notice] = _notices(Notification.Kind.PAGE_SILENT)
    assert notice.title == "Facebook Page “Shop page” is silent"
    assert "Last event received:" in notice.body and "about 18 events" in notice.body
    assert "subscribed" in notice.body and "outage" in notice.body
    assert len(mail.outbox) == 1

    # An hour later it is still silent: not told again.
    with django_capture_on_commit_callbacks(execute=True):
        assert health.pages_silence_check(now=NOW + timedelta(hours=1)).raised == 0
    assert len(_notices(Notification.Kind.PAGE_SILENT)) == 1

    # Events come back: the flag is cleared; a later silence is a new one, told again.
    health.page_activity_record(page_ids=[page.page_id], received_at=NOW + timedelta(hours=2))
    page.refresh_from_db()
    assert page.silent_since is None
    later = NOW + timedelta(weeks=1)
    _history(page, weeks=1, per_hour=3, now=later)  # the new week's same hours (the window of `later`)
    with django_capture_on_commit_callbacks(execute=True):
        assert health.pages_silence_check(now=later).raised == 1
    assert len(_notices(Notification.Kind.PAGE_SILENT)) == 2


def test_a_page_with_little_history_is_never_called_silent(channel: Channel) -> None:
    young = _silent_page(channel, linked_weeks_ago=3)
    _history(young, weeks=3, per_hour=10)
    assert health.pages_silence_check(now=NOW).raised == 0
    young.refresh_from_db()
    assert young.silent_since is None


def test_a_page_that_is_usually_quiet_at_this_hour_is_not_silent(channel: Channel) -> None:
    quiet = _silent_page(channel, linked_weeks_ago=9)
    _history(quiet, weeks=8, per_hour=1)  # 6 in six hours: below the threshold of 10
    busy_once = _silent_page(channel, linked_weeks_ago=9)
    _history(busy_once, weeks=1, per_hour=20)  # one busy week among eight: the median is 0
    assert health.pages_silence_check(now=NOW).raised == 0
    assert _notices(Notification.Kind.PAGE_SILENT) == []


def test_a_page_with_a_recent_event_is_not_silent(channel: Channel) -> None:
    page = _silent_page(channel, linked_weeks_ago=9, last_event_hours_ago=2)
    _history(page, weeks=8, per_hour=5)
    assert health.pages_silence_check(now=NOW).raised == 0


def test_the_beat_jobs_are_scheduled() -> None:
    tasks_by_name = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        tasks.pages.PAGE_SUBSCRIPTION_CHECK,
        tasks.pages.PAGE_SILENCE_CHECK,
        tasks.contacts.PROFILES_RETRY,
        tasks.contacts.AVATARS_REFRESH,
    } <= tasks_by_name


# --- What the channel page and the API show ------------------------------------------------


def _healthy_and_silent(channel: Channel) -> FacebookPage:
    now = timezone.now()
    return factories.make_page(
        channel,
        name="Shop page",
        last_event_at=now - timedelta(hours=7),
        last_sent_at=now - timedelta(hours=8),
        subscription_state=SubscriptionState.RESUBSCRIBED,
        resubscribed_at=now - timedelta(days=1),
        silent_since=now - timedelta(minutes=30),
    )


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            [
                "Health",
                "Silent: no events for an unusually long time",
                "Last event received: 7 hours ago",
                "Last message sent: 8 hours ago",
                "Subscription: Dropped by Facebook, subscribed again",
                "Token: Active",
            ],
        ),
        (
            "ja",
            [
                "無音: いつもより長くイベントが届いていません",
                "最後に受信したイベント:",
                "最後に送信したメッセージ:",
                "サブスクリプション: Facebook により解除され、再購読しました",
                "トークン:",
            ],
        ),
    ],
)
def test_the_channel_page_shows_each_pages_health(
    client: Client, tenant_a: Tenant, channel: Channel, language: str, expected: list[str]
) -> None:
    tenant_a.organization.language = language
    tenant_a.organization.save(update_fields=["language"])
    _healthy_and_silent(channel)
    client.force_login(tenant_a.admin.user)
    response = client.get(f"/o/alpha/settings/channels/{channel.pk}/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    text = _text(response.content.decode())
    for words in expected:
        assert words in text
    assert 'role="status"' in response.content.decode()


def test_a_page_never_checked_says_so(client: Client, tenant_a: Tenant, channel: Channel) -> None:
    factories.make_page(channel, name="Shop page")
    client.force_login(tenant_a.admin.user)
    text = _text(client.get(f"/o/alpha/settings/channels/{channel.pk}/").content.decode())
    assert "Subscription: Not checked yet" in text and "Last event received: none yet" in text
    assert "Silent" not in text


def test_the_api_gives_each_pages_health_and_not_to_another_organization(
    tenant_a: Tenant, tenant_b: Tenant, channel: Channel
) -> None:
    page = _healthy_and_silent(channel)
    response = api_client_for(tenant_a.admin).get(f"/api/v1/channels/{channel.pk}/pages/")
    assert response.status_code == 200
    [data] = response.json()
    assert data["id"] == page.pk
    assert data["health"]["subscription"] == "resubscribed"
    assert data["health"]["is_silent"] is True
    assert data["health"]["last_event_at"] is not None and data["health"]["resubscribed_at"] is not None
    assert api_client_for(tenant_b.admin).get(f"/api/v1/channels/{channel.pk}/pages/").status_code == 404


def test_the_notices_are_written_in_the_readers_language() -> None:
    silent = notification_texts.page_silent_params(page="Shop page", last_event_at=None, expected=18)
    dropped = notification_texts.page_subscription_dropped_params(page="Shop page", resubscribed=True)
    with translation.override("ja"):
        silent_words = notification_words(Notification.Kind.PAGE_SILENT, silent)
        dropped_words = notification_words(Notification.Kind.PAGE_SUBSCRIPTION_DROPPED, dropped)
    assert silent_words.title == "Facebook ページ「Shop page」が無音です"
    assert "まだイベントを受信していません。" in silent_words.body and "18 件" in silent_words.body
    assert dropped_words.title == "Facebook がページ「Shop page」の購読を解除しました"
    assert "再購読しました" in dropped_words.body
