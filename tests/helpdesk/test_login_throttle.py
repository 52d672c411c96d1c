"""Sign-in throttling: an account is locked after a few failures, from whatever address; an
address is never locked for everyone behind it, only made to wait seconds."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.utils import timezone

from helpdesk import throttle
from tests import factories
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
OFFICE = "203.0.113.7"  # one address shared by a whole office (NAT) or a load balancer


@pytest.fixture(autouse=True)
def _fresh_counters_and_fast_passwords(settings: Any) -> None:
    # The per-address counter lives in the cache, which one test must not leave to the next;
    # a quick hasher, since these tests sign in a few hundred times.
    cache.clear()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def sign_in(client: Client, username: str, password: str, address: str = OFFICE, **headers: Any) -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def signed_in(response: Any) -> bool:
    return response.status_code == 302 and response.headers["Location"] == "/"


def test_twenty_failures_from_one_address_do_not_lock_other_accounts_out_of_it(
    tenant_a: Tenant, client: Client
) -> None:
    for number in range(20):
        response = sign_in(Client(), f"guess-{number}", "wrong")
        assert response.status_code in (200, 429), response.status_code
    # The office's address waits seconds, not the minutes of a lockout...
    waiting = sign_in(client, "alpha-admin", factories.PASSWORD)
    assert waiting.status_code == 429
    assert 0 < int(waiting.headers["Retry-After"]) <= 10
    assert "Too many failed sign-ins from your network" in waiting.content.decode()
    assert "_auth_user_id" not in client.session
    # ...after which the admin's right password signs in from that same address.
    later = throttle.clock() + int(waiting.headers["Retry-After"]) + 1
    with mock.patch.object(throttle, "clock", return_value=later):
        assert signed_in(sign_in(client, "alpha-admin", factories.PASSWORD))


def test_below_the_address_limit_there_is_no_wait_at_all(tenant_a: Tenant, settings: Any) -> None:
    for number in range(settings.LOGIN_ADDRESS_FAILURE_LIMIT - 1):
        sign_in(Client(), f"guess-{number}", "wrong")
    assert signed_in(sign_in(Client(), "alpha-admin", factories.PASSWORD))


def test_five_failures_lock_the_account_from_every_address_even_with_the_right_password(
    tenant_a: Tenant, settings: Any
) -> None:
    assert settings.LOGIN_FAILURE_LIMIT == 5
    for number in range(5):
        response = sign_in(Client(), "alpha-agent", "guess", address=f"198.51.100.{number + 1}")
    # The fifth failure already says so.
    assert response.status_code == 429
    for address in ("198.51.100.99", OFFICE):
        client = Client()
        response = sign_in(client, "alpha-agent", factories.PASSWORD, address=address)
        assert response.status_code == 429
        page = response.content.decode()
        assert "This account is locked after too many failed sign-ins" in page
        assert "Reset your password to unlock it" in page
        assert '<form method="post"' in page  # the login page itself, in the product's look
        assert "_auth_user_id" not in client.session
    # Other accounts are not affected.
    assert signed_in(sign_in(Client(), "alpha-admin", factories.PASSWORD, address="198.51.100.1"))


def test_the_lock_ignores_the_case_of_the_username(tenant_a: Tenant) -> None:
    for spelling in ("Alpha-Agent", "ALPHA-AGENT", "alpha-Agent", "Alpha-agent", "alpha-agent"):
        sign_in(Client(), spelling, "guess")
    assert sign_in(Client(), "alpha-agent", factories.PASSWORD).status_code == 429


def test_a_success_before_the_limit_starts_the_count_again(tenant_a: Tenant) -> None:
    for _ in range(4):
        sign_in(Client(), "alpha-agent", "guess")
    assert signed_in(sign_in(Client(), "alpha-agent", factories.PASSWORD))
    for _ in range(4):
        sign_in(Client(), "alpha-agent", "guess")
    assert signed_in(sign_in(Client(), "alpha-agent", factories.PASSWORD))


def test_a_password_reset_unlocks_the_account(tenant_a: Tenant) -> None:
    for _ in range(5):
        sign_in(Client(), "alpha-agent", "guess")
    assert sign_in(Client(), "alpha-agent", factories.PASSWORD).status_code == 429
    throttle.login_unlock(username="Alpha-Agent")
    assert signed_in(sign_in(Client(), "alpha-agent", factories.PASSWORD))


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(tenant_a: Tenant, settings: Any) -> None:
    assert settings.TRUSTED_PROXY_COUNT == 0
    # An attacker who writes a new X-Forwarded-For each time is still one address.
    for number in range(20):
        sign_in(Client(), f"guess-{number}", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{number + 1}")
    assert sign_in(Client(), "alpha-admin", factories.PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200").status_code == 429
    # Nor can the header make the waiting address of someone else.
    assert signed_in(sign_in(Client(), "alpha-admin", factories.PASSWORD, address="198.51.100.5"))


def test_behind_one_proxy_the_last_forwarded_address_is_the_client(tenant_a: Tenant, settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "198.51.100.20"
    # The proxy appends the address it saw: what the client wrote before it does not count.
    for number in range(20):
        sign_in(Client(), f"guess-{number}", "wrong", address=proxy, HTTP_X_FORWARDED_FOR=f"192.0.2.{number}, {OFFICE}")
    assert (
        sign_in(Client(), "alpha-admin", factories.PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR=OFFICE).status_code
        == 429
    )
    # Another client behind the same proxy is not made to wait.
    assert signed_in(
        sign_in(Client(), "alpha-admin", factories.PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.5")
    )


def test_the_client_address_behind_proxies(settings: Any) -> None:
    factory = RequestFactory()
    request = factory.get(
        "/", REMOTE_ADDR="198.51.100.30", HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.7, 198.51.100.20"
    )
    settings.TRUSTED_PROXY_COUNT = 0
    assert throttle.client_address(request) == "198.51.100.30"
    settings.TRUSTED_PROXY_COUNT = 1
    assert throttle.client_address(request) == "198.51.100.20"
    settings.TRUSTED_PROXY_COUNT = 2
    assert throttle.client_address(request) == "203.0.113.7"
    # Fewer entries than proxies, or garbage: the address that connected.
    settings.TRUSTED_PROXY_COUNT = 4
    assert throttle.client_address(request) == "198.51.100.30"
    garbage = factory.get("/", REMOTE_ADDR="198.51.100.30", HTTP_X_FORWARDED_FOR="not-an-address")
    settings.TRUSTED_PROXY_COUNT = 1
    assert throttle.client_address(garbage) == "198.51.100.30"


def test_a_locked_sign_in_through_the_api_answers_the_api_error_shape() -> None:
    request = RequestFactory().post("/api/v1/session/", {"username": "alpha-agent"})
    response = throttle.lockout_response(request, None, {"username": "alpha-agent"})
    assert response.status_code == 429
    assert json.loads(response.content)["error"]["code"] == "login_locked"
    assert response["Retry-After"] == "900"


def test_when_the_cache_is_down_sign_in_still_works_and_the_account_lock_still_holds(
    tenant_a: Tenant, settings: Any
) -> None:
    settings.CACHES = {"default": {"BACKEND": "helpdesk.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    assert signed_in(sign_in(Client(), "alpha-admin", factories.PASSWORD))
    for _ in range(5):
        sign_in(Client(), "alpha-agent", "guess")
    assert sign_in(Client(), "alpha-agent", factories.PASSWORD).status_code == 429


def test_a_locked_account_opens_again_after_the_lockout_period(tenant_a: Tenant, settings: Any) -> None:
    for _ in range(5):
        sign_in(Client(), "alpha-agent", "guess")
    assert sign_in(Client(), "alpha-agent", factories.PASSWORD).status_code == 429
    later = timezone.now() + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS + 1)
    with mock.patch("axes.handlers.proxy.now", return_value=later):
        assert signed_in(sign_in(Client(), "alpha-agent", factories.PASSWORD))
