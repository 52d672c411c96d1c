"""The raw event log as admins see it: the settings page and GET /api/v1/webhook-events/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from messenger.models import FacebookPage, WebhookEvent, WebhookOutcome
from messenger.webhook.views import EVENT_LOG_PAGE_SIZE
from tests import factories
from tests.conftest import Tenant, api_client_for
from tests.messenger.fixtures import (
    PAGE_ID,
    fast_password_hashing,
    page_body,
    post_webhook,
    queued_followups,
    text_item,
    webhook_fixture,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_followups")]
__all__ = ["fast_password_hashing", "queued_followups"]


@pytest.fixture
def page(tenant_a: Tenant) -> FacebookPage:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    return factories.make_page(channel, page_id=PAGE_ID)


@pytest.fixture
def log(client: Client, page: FacebookPage, tenant_b: Tenant) -> None:
    """Organization A: a stored message, its duplicate, a dropped one (channel disabled),
    an unknown kind. Organization B: one message of its own."""
    post_webhook(client, webhook_fixture("message_text"))
    post_webhook(client, webhook_fixture("message_text"))
    post_webhook(client, page_body((PAGE_ID, [text_item(mid="m_spam", text="<script>alert('x')</script>")])))
    post_webhook(client, webhook_fixture("unknown_kind"))
    type(page.channel).objects.filter(pk=page.channel_id).update(is_enabled=False)
    post_webhook(client, page_body((PAGE_ID, [text_item(mid="m_dropped", text="nobody will see this")])))
    other = factories.make_page(factories.make_channel(tenant_b.organization, tenant_b.department), page_id="555")
    post_webhook(client, page_body(("555", [text_item(page_id=other.page_id, mid="m_bravo", text="bravo secret")])))


def url(tenant: Tenant) -> str:
    return reverse("messenger:webhook_events", kwargs={"org_slug": tenant.organization.slug})


# --- The settings page --------------------------------------------------------------------------


def test_an_admin_sees_the_organizations_events_with_their_outcome(
    log: None, tenant_a: Tenant, web_client_for: Any
) -> None:
    response = web_client_for(tenant_a.admin).get(url(tenant_a))
    assert response.status_code == 200
    body = response.content.decode()
    assert "m_AQZyLM0Q1tQyQ2hFVmtXSldrUGRKVUNpZWNoYWt1MHdMSm5FbXJQd1ZOb2x3TnlfaGpZ" in body
    assert "The channel is disabled" in body  # what was dropped, and why
    assert "Unknown kind of event" in body
    assert "m_bravo" not in body and "bravo secret" not in body
    # Raw payloads are shown escaped.
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert" in body


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ({"outcome": "duplicate"}, ["m_AQZyLM0Q"], ["m_spam", "m_dropped"]),
        ({"outcome": "ignored"}, ["m_dropped", "brand_new_kind"], ["m_spam"]),
        ({"kind": "unknown"}, ["brand_new_kind"], ["m_spam", "m_dropped"]),
        ({"q": "m_spa"}, ["m_spam"], ["m_dropped", "m_AQZyLM0Q"]),
        ({"q": "NOBODY WILL"}, ["m_dropped"], ["m_spam", "m_AQZyLM0Q"]),
    ],
)
def test_the_admin_filters_by_outcome_kind_and_mid_or_text(
    log: None, tenant_a: Tenant, web_client_for: Any, query: dict[str, str], shown: list[str], hidden: list[str]
) -> None:
    body = web_client_for(tenant_a.admin).get(url(tenant_a), query).content.decode()
    for text in shown:
        assert text in body
    for text in hidden:
        assert text not in body


def test_an_agent_may_not_see_the_event_log(log: None, tenant_a: Tenant, web_client_for: Any) -> None:
    assert web_client_for(tenant_a.agent).get(url(tenant_a)).status_code == 403


def test_the_page_takes_a_fixed_number_of_queries(
    log: None, tenant_a: Tenant, web_client_for: Any, django_assert_max_num_queries: Any
) -> None:
    client = web_client_for(tenant_a.admin)
    client.get(url(tenant_a))
    with django_assert_max_num_queries(8):
        assert client.get(url(tenant_a)).status_code == 200


def test_older_events_are_one_click_away(page: FacebookPage, tenant_a: Tenant, web_client_for: Any) -> None:
    now = timezone.now()
    WebhookEvent.objects.bulk_create(
        WebhookEvent(
            organization=tenant_a.organization,
            page_id=PAGE_ID,
            kind="message",
            mid=f"m_page_{n:03}",
            payload={},
            outcome=WebhookOutcome.STORED,
            received_at=now - timedelta(seconds=n),
        )
        for n in range(EVENT_LOG_PAGE_SIZE + 5)
    )
    client = web_client_for(tenant_a.admin)
    first = client.get(url(tenant_a)).content.decode()
    assert "m_page_000" in first and f"m_page_{EVENT_LOG_PAGE_SIZE:03}" not in first
    oldest_shown = WebhookEvent.objects.get(mid=f"m_page_{EVENT_LOG_PAGE_SIZE - 1:03}")
    assert f"before={oldest_shown.pk}" in first
    older = client.get(url(tenant_a), {"before": oldest_shown.pk}).content.decode()
    assert f"m_page_{EVENT_LOG_PAGE_SIZE:03}" in older and "m_page_000" not in older


# --- The API -----------------------------------------------------------------------------------


def test_the_api_lists_the_organizations_events_for_admins(log: None, tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).get("/api/v1/webhook-events/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert {r["mid"] for r in results} >= {"m_spam", "m_dropped"}
    assert "m_bravo" not in {r["mid"] for r in results}
    dropped = next(r for r in results if r["mid"] == "m_dropped")
    assert (dropped["outcome"], dropped["reason"], dropped["kind"]) == ("ignored", "channel_disabled", "message")
    assert dropped["payload"]["message"]["text"] == "nobody will see this"


def test_the_api_filters_like_the_page(log: None, tenant_a: Tenant) -> None:
    api = api_client_for(tenant_a.admin)
    assert [r["mid"] for r in api.get("/api/v1/webhook-events/", {"q": "m_spam"}).json()["results"]] == ["m_spam"]
    outcomes = {r["outcome"] for r in api.get("/api/v1/webhook-events/", {"outcome": "duplicate"}).json()["results"]}
    assert outcomes == {"duplicate"}


def test_a_nul_character_in_the_filters_is_dropped_rather_than_failing(
    log: None, tenant_a: Tenant, web_client_for: Any
) -> None:
    api = api_client_for(tenant_a.admin)
    response = api.get("/api/v1/webhook-events/?q=m_sp%00am&kind=mess%00age")
    assert response.status_code == 200
    assert [r["mid"] for r in response.json()["results"]] == ["m_spam"]
    page = web_client_for(tenant_a.admin).get("/o/alpha/settings/webhook-events/?q=m_sp%00am")
    assert page.status_code == 200 and "m_spam" in page.content.decode()


def test_the_api_is_for_admins_only(log: None, tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.agent).get("/api/v1/webhook-events/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_another_organizations_event_is_not_found(log: None, tenant_a: Tenant, tenant_b: Tenant) -> None:
    theirs = WebhookEvent.objects.get(mid="m_bravo")
    assert api_client_for(tenant_a.admin).get(f"/api/v1/webhook-events/{theirs.pk}/").status_code == 404
    assert api_client_for(tenant_b.admin).get(f"/api/v1/webhook-events/{theirs.pk}/").status_code == 200


def test_the_api_list_takes_a_fixed_number_of_queries(
    log: None, tenant_a: Tenant, django_assert_max_num_queries: Any
) -> None:
    api = api_client_for(tenant_a.admin)
    api.get("/api/v1/webhook-events/")
    with django_assert_max_num_queries(5):
        assert api.get("/api/v1/webhook-events/").status_code == 200
