# The sandbox fixtures are imported from tests.channels.facebook; their names are parameters below.
# ruff: noqa: F811
"""The hourly token expiry sweep (messenger.tasks.pages.token_expiry_sweep)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.utils import timezone

from channels.models import Channel
from helpdesk.models import Notification
from messenger import tasks
from messenger.crypto import encrypt_token
from messenger.models import FacebookPage, PageStatus, ReauthorizationReason
from messenger.pages import sweeps
from messenger.sandbox.people import sandbox_page_token_issue
from messenger.sandbox.revocations import (
    sandbox_app_remove,
    sandbox_password_change,
    sandbox_permission_revoke,
    sandbox_tokens_expire,
)
from tests import factories
from tests.channels.facebook import DEMO_PAGE, SECOND_PAGE, THIRD_PAGE, Facebook, facebook  # noqa: F401
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(tenant_a: Tenant) -> Channel:
    tenant_a.admin.user.email = "admin@alpha.test"
    tenant_a.admin.user.save(update_fields=["email"])
    return factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")


def _page(channel: Channel, **fields: Any) -> FacebookPage:
    fields.setdefault("token_checked_at", timezone.now())
    return factories.make_page(channel, name=fields.pop("name", "Shop page"), **fields)


def _sweep(now: Any = None, capture: Any = None) -> sweeps.SweepReport:
    if capture is None:
        return sweeps.token_expiry_sweep(now=now, check_limit=0)
    with capture(execute=True):
        return sweeps.token_expiry_sweep(now=now, check_limit=0)


def _notices(kind: str) -> list[Notification]:
    return list(Notification.objects.filter(kind=kind).order_by("pk"))


def test_a_token_near_its_expiry_is_expiring_soon_and_admins_are_told_once(
    channel: Channel, django_capture_on_commit_callbacks: Any
) -> None:
    expires = timezone.now() + timedelta(days=3)
    page = _page(channel, token_expires_at=expires)
    report = _sweep(capture=django_capture_on_commit_callbacks)
    assert report.warned == 1
    page.refresh_from_db()
    assert (page.status, page.expiry_warned_for) == (PageStatus.EXPIRING_SOON, expires)
    [notice] = _notices(Notification.Kind.TOKEN_EXPIRING)
    assert notice.title.startswith("Facebook Page “Shop page” must be re-authorized by")
    assert notice.url == f"/o/alpha/settings/channels/{channel.pk}/"
    [email] = mail.outbox
    assert email.to == ["admin@alpha.test"] and "Shop page" in email.subject
    assert f"{settings.PUBLIC_URL}/o/alpha/settings/channels/{channel.pk}/" in email.body

    again = _sweep(capture=django_capture_on_commit_callbacks)
    assert not again.changed()
    assert len(_notices(Notification.Kind.TOKEN_EXPIRING)) == 1 and len(mail.outbox) == 1


def test_a_page_far_from_its_expiry_stays_active(channel: Channel) -> None:
    page = _page(channel, token_expires_at=timezone.now() + timedelta(days=30))
    assert not _sweep().changed()
    page.refresh_from_db()
    assert page.status == PageStatus.ACTIVE


def test_a_token_facebook_says_never_expires_still_follows_the_sixty_day_policy(channel: Channel) -> None:
    now = timezone.now()
    soon = _page(channel, name="Soon", token_expires_at=None, authorized_at=now - timedelta(days=55))
    late = _page(channel, name="Late", token_expires_at=None, authorized_at=now - timedelta(days=61))
    _sweep(now)
    soon.refresh_from_db()
    late.refresh_from_db()
    assert soon.status == PageStatus.EXPIRING_SOON
    assert soon.expiry_warned_for == soon.authorized_at + timedelta(days=60)
    assert (late.status, late.reauthorization_reason) == (
        PageStatus.REAUTHORIZATION_REQUIRED,
        ReauthorizationReason.POLICY_EXPIRED,
    )


def test_past_the_token_expiry_the_page_needs_re_authorization_and_admins_are_told(
    channel: Channel, django_capture_on_commit_callbacks: Any
) -> None:
    now = timezone.now()
    token_first = _page(
        channel, name="Token first", token_expires_at=now - timedelta(hours=1), authorized_at=now - timedelta(days=30)
    )
    policy_first = _page(
        channel, name="Policy first", token_expires_at=now + timedelta(days=30), authorized_at=now - timedelta(days=61)
    )
    report = _sweep(now, capture=django_capture_on_commit_callbacks)
    assert report.expired == 2
    token_first.refresh_from_db()
    policy_first.refresh_from_db()
    assert token_first.reauthorization_reason == ReauthorizationReason.TOKEN_EXPIRED
    assert policy_first.reauthorization_reason == ReauthorizationReason.POLICY_EXPIRED
    assert {n.title for n in _notices(Notification.Kind.PAGE_REAUTHORIZATION)} == {
        "Facebook Page “Token first” needs re-authorization",
        "Facebook Page “Policy first” needs re-authorization",
    }
    assert (
        "Reason: Token expired."
        in _notices(Notification.Kind.PAGE_REAUTHORIZATION)[0].body
        + _notices(Notification.Kind.PAGE_REAUTHORIZATION)[1].body
    )
    assert len(mail.outbox) == 2
    assert not _sweep(now, capture=django_capture_on_commit_callbacks).changed()
    assert len(_notices(Notification.Kind.PAGE_REAUTHORIZATION)) == 2 and len(mail.outbox) == 2


def test_after_re_authorization_the_next_warning_comes_with_the_next_expiry(channel: Channel) -> None:
    now = timezone.now()
    page = _page(channel, token_expires_at=now + timedelta(days=2))
    _sweep(now)
    assert len(_notices(Notification.Kind.TOKEN_EXPIRING)) == 1
    # What Re-authorize does: active again, a new token with a new expiry.
    new_expiry = now + timedelta(days=40)
    FacebookPage.objects.filter(pk=page.pk).update(
        status=PageStatus.ACTIVE, authorized_at=now, token_expires_at=new_expiry, expiry_warned_for=None
    )
    assert not _sweep(now).changed()
    later = now + timedelta(days=35)
    report = _sweep(later)
    assert report.warned == 1
    page.refresh_from_db()
    assert (page.status, page.expiry_warned_for) == (PageStatus.EXPIRING_SOON, new_expiry)
    assert len(_notices(Notification.Kind.TOKEN_EXPIRING)) == 2


def test_an_expiring_page_whose_expiry_moved_away_is_active_again(channel: Channel) -> None:
    page = _page(channel, status=PageStatus.EXPIRING_SOON, token_expires_at=timezone.now() + timedelta(days=30))
    assert _sweep().back_to_active == 1
    page.refresh_from_db()
    assert page.status == PageStatus.ACTIVE


def test_flagged_removed_and_other_pages_are_left_alone(channel: Channel) -> None:
    now = timezone.now()
    flagged = _page(
        channel,
        status=PageStatus.REAUTHORIZATION_REQUIRED,
        reauthorization_reason=ReauthorizationReason.APP_ACCESS_REVOKED,
        token_expires_at=now - timedelta(days=1),
    )
    removed = _page(channel, unlinked_at=now, token_expires_at=now - timedelta(days=1))
    assert not _sweep(now).changed()
    flagged.refresh_from_db()
    removed.refresh_from_db()
    assert flagged.reauthorization_reason == ReauthorizationReason.APP_ACCESS_REVOKED
    assert removed.status == PageStatus.ACTIVE


def test_the_task_runs_the_sweep(channel: Channel) -> None:
    _page(channel, token_expires_at=timezone.now() - timedelta(minutes=1))
    result = tasks.token_expiry_sweep.apply().get()
    assert result["expired"] == 1


def test_the_beat_schedule_runs_it_hourly() -> None:
    [entry] = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "messenger.pages.token_expiry_sweep"]
    assert entry["schedule"] == 3600


def _many_pages(tenant: Tenant, count: int, **fields: Any) -> None:
    channel = factories.make_channel(tenant.organization, tenant.department)
    now = timezone.now()
    token = encrypt_token("page-token")
    FacebookPage.objects.bulk_create(
        [
            FacebookPage(
                organization=tenant.organization,
                channel=channel,
                page_id=str(5_000_000_000 + index),
                name=f"Page {index}",
                access_token_encrypted=token,
                authorized_at=now - timedelta(days=index % 50),
                token_expires_at=now + timedelta(days=10 + index % 40) if index % 3 else None,
                token_checked_at=now - timedelta(hours=index % 20),
                **fields,
            )
            for index in range(count)
        ],
        batch_size=1000,
    )


def test_the_sweep_is_set_based(tenant_a: Tenant, django_assert_max_num_queries: Any) -> None:
    _many_pages(tenant_a, 500)
    with django_assert_max_num_queries(12):
        report = sweeps.token_expiry_sweep()
    assert report.checked == 0 and not report.changed()


@pytest.mark.postgres
def test_ten_thousand_pages_with_nothing_due_take_under_a_second(tenant_a: Tenant) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the benchmark is for PostgreSQL")
    _many_pages(tenant_a, 10_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE messenger_facebookpage")
    started = time.perf_counter()
    report = sweeps.token_expiry_sweep()
    elapsed = time.perf_counter() - started
    assert report.checked == 0 and not report.changed()
    print(f"sweep of 10,000 pages: {elapsed:.3f}s")
    assert elapsed < 1.0, f"{elapsed:.2f}s"


# --- /debug_token, over real HTTP to the sandbox ------------------------------------------


def _sandbox_page(channel: Channel, page_id: str) -> FacebookPage:
    return factories.make_page(
        channel, page_id=page_id, token=sandbox_page_token_issue(page_id=page_id), token_checked_at=None
    )


@pytest.mark.django_db(transaction=True)
def test_tokens_not_checked_for_a_day_are_asked_about_in_bounded_batches(facebook: Facebook, channel: Channel) -> None:
    fresh = [_sandbox_page(channel, page_id) for page_id in (DEMO_PAGE, SECOND_PAGE, THIRD_PAGE)]
    recently = _page(channel, name="Checked an hour ago", token_checked_at=timezone.now() - timedelta(hours=1))
    assert sweeps.token_expiry_sweep(check_limit=2).checked == 2
    assert sweeps.token_expiry_sweep(check_limit=2).checked == 1
    assert sweeps.token_expiry_sweep(check_limit=2).checked == 0
    for page in fresh:
        page.refresh_from_db()
        assert page.status == PageStatus.ACTIVE and page.token_checked_at is not None
    recently.refresh_from_db()
    assert recently.token_checked_at < timezone.now() - timedelta(minutes=59)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        (lambda user: sandbox_permission_revoke(user=user, permission="pages_messaging"), "permissions_revoked"),
        (lambda user: sandbox_app_remove(user=user), "app_access_revoked"),
        (lambda user: sandbox_password_change(user=user), "password_changed"),
        (lambda user: sandbox_tokens_expire(page_id=DEMO_PAGE), "token_expired"),
    ],
)
def test_a_token_facebook_no_longer_accepts_needs_re_authorization_with_facebooks_reason(
    facebook: Facebook, channel: Channel, break_it: Any, reason: str
) -> None:
    page = _sandbox_page(channel, DEMO_PAGE)
    break_it(facebook.user)
    report = sweeps.token_expiry_sweep()
    assert (report.checked, report.invalid) == (1, 1)
    page.refresh_from_db()
    assert (page.status, page.reauthorization_reason) == (PageStatus.REAUTHORIZATION_REQUIRED, reason)
    assert len(_notices(Notification.Kind.PAGE_REAUTHORIZATION)) == 1
    FacebookPage.objects.filter(pk=page.pk).update(token_checked_at=None)
    assert not sweeps.token_expiry_sweep().changed()
    assert len(_notices(Notification.Kind.PAGE_REAUTHORIZATION)) == 1
