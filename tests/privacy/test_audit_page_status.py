# The sandbox fixtures are imported from tests.channels.facebook; their names are parameters below.
# ruff: noqa: F811
"""Pages' authorization status changed by a statement (the sweeps, the compare-and-set updates,
the pages of a deleted channel) is in the audit log like a page saved: one entry per page
changed, by the system unless a person's request made it, with the reason, written in one insert;
and so is a page's subscription state the daily health check changes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels.models import Channel
from messenger.graph import SUBSCRIBED_FIELDS
from messenger.models import FacebookPage, PageStatus, PageStatusCause, ReauthorizationReason
from messenger.pages import health, sweeps
from messenger.pages.authorization import (
    page_authorization_mark_reauthorization_required,
    pages_authorization_forget_person,
)
from messenger.sandbox.models import SandboxPage, SandboxSubscription
from messenger.sandbox.people import sandbox_page_token_issue
from messenger.sandbox.revocations import sandbox_subscription_drop
from privacy.audit import entry_detail_lines
from privacy.models import AuditEntry
from tests import factories
from tests.channels.facebook import DEMO_PAGE, Facebook, facebook  # noqa: F401
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(tenant_a: Tenant) -> Channel:
    return factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")


def _page(channel: Channel, name: str, **fields: Any) -> FacebookPage:
    fields.setdefault("token_checked_at", timezone.now())
    return factories.make_page(channel, name=name, **fields)


def _status_entries(*pages: FacebookPage) -> list[AuditEntry]:
    """The update entries of these pages that changed their status or reason."""
    return list(
        AuditEntry.objects.filter(
            content_type__model="facebookpage",
            action=AuditEntry.Action.UPDATE,
            object_pk__in=[str(page.pk) for page in pages],
        ).order_by("pk")
    )


def test_the_sweep_records_each_page_it_flags_as_the_systems_change_with_the_reason(
    tenant_a: Tenant, channel: Channel
) -> None:
    now = timezone.now()
    expired = _page(channel, "Token ran out", token_expires_at=now - timedelta(hours=1))
    policy = _page(channel, "Policy ran out", token_expires_at=None, authorized_at=now - timedelta(days=61))
    flagged_before = _page(
        channel,
        "Flagged before",
        token_expires_at=now - timedelta(hours=1),
        status=PageStatus.REAUTHORIZATION_REQUIRED,
        reauthorization_reason=ReauthorizationReason.TOKEN_INVALID,
    )

    assert sweeps.token_expiry_sweep(now=now, check_limit=0).expired == 2

    by_page = {entry.object_pk: entry for entry in _status_entries(expired, policy, flagged_before)}
    assert set(by_page) == {str(expired.pk), str(policy.pk)}
    for page, reason in ((expired, "token_expired"), (policy, "policy_expired")):
        entry = by_page[str(page.pk)]
        assert entry.organization_id == tenant_a.organization.pk
        assert entry.actor_id is None and entry.remote_addr is None
        assert entry.object_repr == str(page)
        assert entry.changes == {
            "status": ["active", "reauthorization_required"],
            "reauthorization_reason": ["", reason],
        }
        assert entry.additional_data == {"reason": reason}
    # A second run changes nothing, and records nothing.
    sweeps.token_expiry_sweep(now=now, check_limit=0)
    assert len(_status_entries(expired, policy, flagged_before)) == 2


def test_expiring_soon_and_back_to_active_are_recorded_with_their_causes(channel: Channel) -> None:
    now = timezone.now()
    page = _page(channel, "Shop page", token_expires_at=now + timedelta(days=3))
    sweeps.token_expiry_sweep(now=now, check_limit=0)
    # Renewed outside the product's sight (a new expiry reported): active again.
    FacebookPage.objects.filter(pk=page.pk).update(token_expires_at=now + timedelta(days=50))
    sweeps.token_expiry_sweep(now=now, check_limit=0)

    assert [(entry.changes, entry.additional_data, entry.actor_id) for entry in _status_entries(page)] == [
        ({"status": ["active", "expiring_soon"]}, {"reason": PageStatusCause.EXPIRY_NEAR.value}, None),
        ({"status": ["expiring_soon", "active"]}, {"reason": PageStatusCause.TOKEN_RENEWED.value}, None),
    ]


def test_many_pages_flagged_at_once_are_recorded_in_one_insert(tenant_a: Tenant, channel: Channel) -> None:
    now = timezone.now()
    pages = [_page(channel, f"Page {n}", token_expires_at=now - timedelta(hours=1)) for n in range(30)]
    with CaptureQueriesContext(connection) as queries:
        assert sweeps.token_expiry_sweep(now=now, check_limit=0).expired == 30
    inserts = [query["sql"] for query in queries if query["sql"].startswith('INSERT INTO "privacy_auditentry"')]
    assert len(inserts) == 1
    assert len(_status_entries(*pages)) == 30


def test_a_refused_token_is_recorded_once_and_a_new_reason_again(channel: Channel) -> None:
    page = _page(channel, "Shop page")
    refused = page.access_token_encrypted
    reason = ReauthorizationReason.PASSWORD_CHANGED
    assert page_authorization_mark_reauthorization_required(page=page, reason=reason, refused_token=refused)
    # The same refusal told again changes nothing; another reason is recorded.
    assert not page_authorization_mark_reauthorization_required(page=page, reason=reason, refused_token=refused)
    assert page_authorization_mark_reauthorization_required(
        page=page, reason=ReauthorizationReason.APP_ACCESS_REVOKED, refused_token=refused
    )
    assert [(entry.changes, entry.additional_data) for entry in _status_entries(page)] == [
        (
            {"status": ["active", "reauthorization_required"], "reauthorization_reason": ["", "password_changed"]},
            {"reason": "password_changed"},
        ),
        ({"reauthorization_reason": ["password_changed", "app_access_revoked"]}, {"reason": "app_access_revoked"}),
    ]


def test_the_pages_of_a_channel_an_admin_deletes_are_recorded_as_theirs(
    tenant_a: Tenant, channel: Channel, settings: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    first, second = _page(channel, "First"), _page(channel, "Second")
    api = api_client_for(tenant_a.admin)
    response = api.delete(
        f"/api/v1/channels/{channel.pk}/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7"
    )
    assert response.status_code == 204

    entries = _status_entries(first, second)
    assert len(entries) == 2
    for entry in entries:
        assert (entry.actor_id, entry.remote_addr) == (tenant_a.admin.user_id, "198.51.100.7")
        assert entry.changes == {
            "status": ["active", "reauthorization_required"],
            "reauthorization_reason": ["", "page_removed"],
        }


def test_a_data_deletion_request_records_the_linked_pages_it_flags(tenant_a: Tenant, channel: Channel) -> None:
    linked = _page(channel, "Linked", authorized_by_facebook_user="4242")
    unlinked = _page(channel, "Unlinked", authorized_by_facebook_user="4242", unlinked_at=timezone.now())
    pages_authorization_forget_person(facebook_user_id="4242", now=timezone.now())

    [entry] = _status_entries(linked, unlinked)
    assert entry.object_pk == str(linked.pk)
    assert entry.changes["reauthorization_reason"] == ["", "data_deletion"]
    assert [(line.label, line.text) for line in entry_detail_lines(entry)] == [
        ("Reason", "The authorizing person asked Facebook to delete their data")
    ]


def test_a_subscription_the_health_check_finds_dropped_and_renews_is_recorded_once(
    facebook: Facebook, channel: Channel
) -> None:
    sandbox = SandboxPage.objects.get(page_id=DEMO_PAGE)
    SandboxSubscription.objects.update_or_create(page=sandbox, defaults={"subscribed_fields": list(SUBSCRIBED_FIELDS)})
    page = factories.make_page(channel, page_id=DEMO_PAGE, token=sandbox_page_token_issue(page_id=DEMO_PAGE))
    assert sandbox_subscription_drop(page=sandbox)

    assert health.pages_subscription_check().resubscribed == 1
    health.pages_subscription_check()  # still subscribed again: nothing new

    [entry] = _status_entries(page)
    assert entry.changes == {"subscription_state": ["unknown", "resubscribed"]} and entry.actor_id is None
