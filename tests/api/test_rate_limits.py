"""Rate limits of the API per token and per session user (helpdesk.ratelimit)."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from helpdesk import ratelimit
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen_clock() -> Any:
    """Half a second past the start of a window (windows start at multiples of their length)."""
    with mock.patch.object(ratelimit, "clock", return_value=6_000_000.5) as clock:
        yield clock


def test_every_answer_carries_the_rate_limit_headers(tenant_a: Tenant, settings: Any, frozen_clock: Any) -> None:
    settings.API_RATE_LIMIT = 5
    settings.API_RATE_LIMIT_WINDOW_SECONDS = 60
    client = api_client_for(tenant_a.agent)
    ok = client.get("/api/v1/departments/")
    assert ok.status_code == 200
    assert (ok["RateLimit-Limit"], ok["RateLimit-Remaining"], ok["RateLimit-Reset"]) == ("5", "4", "60")
    refused = client.post("/api/v1/departments/", {"name": "x"}, format="json")  # agents may not
    assert refused.status_code == 403
    assert refused["RateLimit-Remaining"] == "3"
    missing = client.get("/api/v1/tickets/999999/")
    assert missing.status_code == 404
    assert missing["RateLimit-Remaining"] == "2"


def test_past_the_limit_a_429_with_retry_after(tenant_a: Tenant, settings: Any, frozen_clock: Any) -> None:
    settings.API_RATE_LIMIT = 2
    settings.API_RATE_LIMIT_WINDOW_SECONDS = 60
    client = api_client_for(tenant_a.agent)
    assert client.get("/api/v1/departments/").status_code == 200
    assert client.get("/api/v1/departments/").status_code == 200
    refused = client.get("/api/v1/departments/")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused["Retry-After"] == "60"
    assert refused["RateLimit-Remaining"] == "0"
    # The next window lets it through again.
    frozen_clock.return_value += 60
    assert client.get("/api/v1/departments/").status_code == 200


def test_each_token_has_a_limit_of_its_own(tenant_a: Tenant, settings: Any, frozen_clock: Any) -> None:
    settings.API_RATE_LIMIT = 1
    first = api_client_for(tenant_a.agent)
    second = api_client_for(tenant_a.agent)
    assert first.get("/api/v1/departments/").status_code == 200
    assert first.get("/api/v1/departments/").status_code == 429
    other = second.get("/api/v1/departments/")
    assert other.status_code == 200
    assert other["RateLimit-Remaining"] == "0"


def test_a_session_user_is_limited_too(tenant_a: Tenant, client: Any, settings: Any, frozen_clock: Any) -> None:
    settings.API_RATE_LIMIT = 1
    client.force_login(tenant_a.agent.user)
    assert client.get("/api/v1/departments/")["RateLimit-Limit"] == "1"
    assert client.get("/api/v1/departments/").status_code == 429


def test_a_refused_post_is_not_run_and_claims_no_idempotency_key(
    tenant_a: Tenant, settings: Any, frozen_clock: Any
) -> None:
    from helpdesk.models import IdempotencyKey
    from labels.models import Label

    settings.API_RATE_LIMIT = 1
    client = api_client_for(tenant_a.admin)
    client.get("/api/v1/labels/")
    refused = client.post("/api/v1/labels/", {"name": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert refused.status_code == 429
    assert not Label.objects.exists()
    assert not IdempotencyKey.objects.exists()


def test_while_the_cache_is_down_requests_go_through(tenant_a: Tenant, settings: Any, caplog: Any) -> None:
    settings.API_RATE_LIMIT = 1
    client = api_client_for(tenant_a.agent)
    with mock.patch.object(ratelimit.cache, "add", side_effect=ConnectionError("redis down")):
        for _ in range(3):
            response = client.get("/api/v1/departments/")
            assert response.status_code == 200
            assert "RateLimit-Limit" not in response
    assert "the cache is unavailable" in caplog.text


def test_an_unauthenticated_request_is_not_counted(tenant_a: Tenant) -> None:
    from rest_framework.test import APIClient

    response = APIClient().get("/api/v1/departments/")
    assert response.status_code == 401
    assert "RateLimit-Limit" not in response
