"""The controls page for people, and the sandbox's guard when GRAPH_SANDBOX is off."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.urls import reverse

from messenger.sandbox import bootstrap, people
from messenger.sandbox.log_filters import RedactTokensFilter
from messenger.sandbox.models import SandboxSendFailure, SandboxToken, SandboxUser


@pytest.fixture
def admin_user(db: Any) -> SandboxUser:
    return bootstrap.sandbox_bootstrap()


def test_the_index_lists_people_pages_and_tokens_without_showing_them(
    client: Any, admin_user: SandboxUser, django_assert_max_num_queries: Any
) -> None:
    raw = people.sandbox_page_token_issue(page_id="100000000000101")
    with django_assert_max_num_queries(12):
        response = client.get(reverse("sandbox:index"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Facebook sandbox" in body
    assert "Sandbox Admin" in body and "Demo Page" in body and "Third Page" in body
    assert f"…{raw[-4:]}" in body
    assert raw not in body


def test_the_index_creates_the_default_person_on_first_visit(client: Any, db: Any) -> None:
    client.get(reverse("sandbox:index"))
    assert SandboxUser.objects.get().name == "Sandbox Admin"


def test_control_buttons_change_the_sandbox(client: Any, admin_user: SandboxUser) -> None:
    user = {"user": admin_user.facebook_id}
    client.post(reverse("sandbox:controls_password_change"), user)
    admin_user.refresh_from_db()
    assert admin_user.password_generation == 2

    client.post(reverse("sandbox:controls_permission_revoke"), {**user, "permission": "pages_messaging"})
    admin_user.refresh_from_db()
    assert "pages_messaging" not in admin_user.granted_permissions

    token = people.sandbox_page_token_issue(page_id="100000000000102")
    client.post(reverse("sandbox:controls_tokens_expire"), {"page": "100000000000102"})
    assert SandboxToken.objects.get(hint=token[-4:]).expires_at is not None

    client.post(reverse("sandbox:controls_app_remove"), user)
    admin_user.refresh_from_db()
    assert not admin_user.app_installed


def test_the_failure_select_scripts_the_next_sends_of_a_page(client: Any, admin_user: SandboxUser) -> None:
    page = reverse("sandbox:index")
    assert "613" in client.get(page).content.decode()
    response = client.post(
        reverse("sandbox:controls_failures_script"),
        {"page": "100000000000101", "preset": "unavailable", "times": "3"},
        follow=True,
    )
    assert "will fail" in response.content.decode()
    failure = SandboxSendFailure.objects.get()
    assert (failure.http_status, failure.code, failure.subcode, failure.remaining) == (400, 551, 1545041, 3)

    client.post(
        reverse("sandbox:controls_failures_script"), {"page": "100000000000101", "preset": "timeout", "times": "1"}
    )
    assert SandboxSendFailure.objects.order_by("id").last().delay_seconds > 10  # type: ignore[union-attr]

    client.post(reverse("sandbox:controls_failures_clear"), {"page": "100000000000101"})
    assert not SandboxSendFailure.objects.exists()


def test_an_invalid_control_says_why_and_changes_nothing(client: Any, admin_user: SandboxUser) -> None:
    response = client.post(reverse("sandbox:controls_tokens_expire"), {}, follow=True)
    assert "Choose a person or a page." in response.content.decode()


def test_every_sandbox_view_is_404_when_the_sandbox_is_off(client: Any, admin_user: SandboxUser, settings: Any) -> None:
    settings.GRAPH_SANDBOX = False
    urls = [
        reverse("sandbox:index"),
        reverse("sandbox:dialog_oauth", kwargs={"version": "v21.0"}),
        reverse("sandbox:graph_access_token", kwargs={"version": "v21.0"}),
        reverse("sandbox:graph_debug_token", kwargs={"version": "v21.0"}),
        reverse("sandbox:graph_messages", kwargs={"version": "v21.0", "node_id": "me"}),
        reverse("sandbox:graph_node", kwargs={"version": "v21.0", "node_id": "1"}),
        reverse("sandbox:simulator", kwargs={"page_id": "100000000000101"}),
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("sandbox:controls_reset")).status_code == 404
    assert SandboxUser.objects.exists()


def test_the_dialog_refuses_scopes_it_does_not_know(client: Any, admin_user: SandboxUser, settings: Any) -> None:
    url = reverse("sandbox:dialog_oauth", kwargs={"version": "v21.0"})
    query = {"client_id": settings.FB_APP_ID, "redirect_uri": "http://x.test/cb", "scope": "pages_messaging,root"}
    response = client.get(url, query)
    assert response.status_code == 400
    assert "Invalid Scopes: root" in response.content.decode()


def test_unknown_graph_paths_answer_a_graph_error(client: Any, db: Any) -> None:
    response = client.get("/sandbox/graph/v21.0/a/b/c")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 2500


def test_request_log_lines_do_not_carry_tokens() -> None:
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        ("GET /sandbox/graph/v21.0/debug_token?input_token=EAASsecret&access_token=1|s3 HTTP/1.1", "200", "10"),
        None,
    )
    RedactTokensFilter().filter(record)
    line = record.getMessage()
    assert "EAASsecret" not in line and "s3" not in line
    assert "input_token=[redacted]" in line
    assert any(isinstance(f, RedactTokensFilter) for f in logging.getLogger("django.server").filters)


def test_login_for_business_asks_for_the_configured_permissions(
    client: Any, admin_user: SandboxUser, settings: Any
) -> None:
    url = reverse("sandbox:dialog_oauth", kwargs={"version": "v21.0"})
    query = {"client_id": settings.FB_APP_ID, "redirect_uri": "http://x.test/cb", "config_id": "123", "state": "s"}
    body = client.get(url, query).content.decode()
    for scope in people.ALL_PERMISSIONS:
        assert f'value="{scope}" checked' in body
    assert 'name="config_id" value="123"' in body
