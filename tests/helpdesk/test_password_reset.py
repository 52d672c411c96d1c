"""Password reset by email: the same answer for every address, throttled, linked from the login page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.test import Client, TestCase

from helpdesk import tasks
from tests import factories
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db

User = get_user_model()


def _signs_in(username: str, password: str) -> bool:
    """Through the login page (the lockout backend needs a request)."""
    response = Client().post("/accounts/login/", {"username": username, "password": password})
    return response.status_code == 302


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    # The tests' local-memory caches share one store within the process.
    cache.clear()


@pytest.fixture
def erin(tenant_a: Tenant) -> Any:
    User.objects.filter(pk=tenant_a.agent.user_id).update(email="erin@example.test")
    return User.objects.get(pk=tenant_a.agent.user_id)


@pytest.fixture(autouse=True)
def _worker_sends_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The email task runs as the worker would run it, as soon as it is queued."""
    monkeypatch.setattr(tasks.email_send, "delay", lambda *args: tasks.email_send.apply(args=args))


def _ask(client: Client, email: str, **extra: Any) -> Any:
    # The email is queued when the request's transaction commits.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/accounts/password-reset/", {"email": email}, **extra)


def test_the_email_is_sent_by_a_worker_not_within_the_request(
    erin: Any, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(tasks.email_send, "delay", lambda *args: queued.append(args))
    assert _ask(client, "erin@example.test").status_code == 302
    assert mail.outbox == []
    [(subject, body, to)] = queued
    assert to == ["erin@example.test"] and "/accounts/password-reset/" in body and subject


def test_when_the_broker_cannot_take_the_email_it_is_sent_within_the_request(
    erin: Any, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broker_down(*args: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.email_send, "delay", broker_down)
    assert _ask(client, "erin@example.test").status_code == 302
    [email] = mail.outbox
    assert email.to == ["erin@example.test"]


def _without_csrf(page: bytes) -> bytes:
    return re.sub(rb'X-CSRFToken": "[^"]+"', b"CSRF", page)


def test_the_login_page_links_to_the_password_reset(client: Client) -> None:
    page = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password-reset/"' in page
    assert client.get("/accounts/password-reset/").status_code == 200


def test_known_and_unknown_addresses_get_the_same_answer_and_only_the_known_one_an_email(
    erin: Any, client: Client
) -> None:
    known = _ask(client, "ERIN@example.test", follow=True)
    unknown = _ask(client, "nobody@example.test", follow=True)
    assert known.redirect_chain == unknown.redirect_chain == [("/accounts/password-reset/sent/", 302)]
    assert _without_csrf(known.content) == _without_csrf(unknown.content)
    [email] = mail.outbox
    assert email.to == ["erin@example.test"]
    assert "alpha-agent" in email.body  # their username, as a reminder


def test_the_emailed_link_sets_a_new_password(erin: Any, client: Client, settings: Any) -> None:
    _ask(client, "erin@example.test")
    link = re.search(r"(https?://\S+)", mail.outbox[0].body)
    assert link and link.group(1).startswith(settings.PUBLIC_URL + "/accounts/password-reset/")
    path = link.group(1)[len(settings.PUBLIC_URL) :]
    form = client.get(path, follow=True)
    assert b"Choose a new password" in form.content
    form_path = form.redirect_chain[-1][0]
    done = client.post(
        form_path, {"new_password1": "a-brand-new-secret", "new_password2": "a-brand-new-secret"}, follow=True
    )
    assert b"Your new password is set." in done.content
    assert _signs_in("alpha-agent", "a-brand-new-secret")
    assert not _signs_in("alpha-agent", factories.PASSWORD)
    # The link worked once.
    assert b"This link does not work" in Client().get(path, follow=True).content


def test_a_reset_lifts_a_login_lockout(erin: Any, client: Client, settings: Any) -> None:
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(2):
        client.post("/accounts/login/", {"username": "alpha-agent", "password": "guess"})
    assert client.post("/accounts/login/", {"username": "alpha-agent", "password": "x"}).status_code == 429
    _ask(client, "erin@example.test")
    path = re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[0].body).group(1)  # type: ignore[union-attr]
    form_path = client.get(path, follow=True).redirect_chain[-1][0]
    client.post(form_path, {"new_password1": "a-brand-new-secret", "new_password2": "a-brand-new-secret"})
    response = client.post("/accounts/login/", {"username": "alpha-agent", "password": "a-brand-new-secret"})
    assert response.status_code == 302


def test_requests_for_one_address_are_throttled_silently(erin: Any, settings: Any) -> None:
    settings.PASSWORD_RESET_LIMIT_PER_HOUR = 2
    answers = [_ask(Client(REMOTE_ADDR=f"10.0.0.{n}"), "erin@example.test") for n in range(4)]
    assert [a.status_code for a in answers] == [302] * 4
    assert {a["Location"] for a in answers} == {"/accounts/password-reset/sent/"}
    assert len(mail.outbox) == 2


def test_one_client_asking_too_often_is_refused(erin: Any, client: Client, settings: Any) -> None:
    settings.PASSWORD_RESET_LIMIT_PER_HOUR = 1
    for n in range(4):
        assert _ask(client, f"someone{n}@example.test").status_code == 302
    response = _ask(client, "erin@example.test")
    assert response.status_code == 429
    assert b"Too many password reset requests" in response.content
    assert mail.outbox == []


def test_a_user_without_an_address_or_inactive_gets_no_email(tenant_a: Tenant, client: Client) -> None:
    User.objects.filter(pk=tenant_a.admin.user_id).update(email="off@example.test", is_active=False)
    assert _ask(client, "off@example.test")["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []
