from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from unittest import mock

import pytest
from django.db.utils import OperationalError

from helpdesk.models import Membership, Role
from tests import factories
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


def test_login_with_the_right_password_lands_in_the_organization(tenant_a: Tenant, client: Any) -> None:
    response = client.post("/accounts/login/", {"username": "alpha-agent", "password": factories.PASSWORD}, follow=True)
    assert response.status_code == 200
    # The organization's home page.
    assert response.redirect_chain[-1][0] == "/o/alpha/"


def test_a_wrong_password_shows_the_form_again_with_an_error(tenant_a: Tenant, client: Any) -> None:
    response = client.post("/accounts/login/", {"username": "alpha-agent", "password": "nope"})
    assert response.status_code == 200
    assert b"alert-danger" in response.content


def test_an_agent_gets_403_on_admin_pages(tenant_a: Tenant, client: Any) -> None:
    client.force_login(tenant_a.agent.user)
    for path in (
        "/o/alpha/settings/departments/",
        "/o/alpha/settings/members/",
        f"/o/alpha/settings/members/{tenant_a.admin.pk}/",
    ):
        assert client.get(path).status_code == 403, path


def test_an_unknown_organization_slug_is_404(tenant_a: Tenant, client: Any) -> None:
    client.force_login(tenant_a.admin.user)
    assert client.get("/o/no-such-org/").status_code == 404


def test_a_page_that_is_not_there_keeps_the_helpdesks_look_and_a_way_back(
    tenant_a: Tenant, tenant_b: Tenant, client: Any
) -> None:
    client.force_login(tenant_a.agent.user)
    foreign = factories.make_conversation(factories.make_page(factories.make_channel(tenant_b.organization)))
    for path, way_back in (
        (f"/o/alpha/inbox/{foreign.pk}/", b'href="/o/alpha/inbox/">Back to the inbox<'),
        ("/o/bravo/inbox/", b'href="/">Go to the helpdesk<'),
        ("/nowhere/", b'href="/">Go to the helpdesk<'),
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b'<h1 class="h4 mt-2">Page not found</h1>' in response.content, path
        assert way_back in response.content, path
    # Another organization's name is not shown to someone who is not its member.
    assert b"Bravo" not in client.get("/o/bravo/inbox/").content


def test_a_deactivated_member_loses_the_organization(tenant_a: Tenant, client: Any) -> None:
    Membership.objects.filter(pk=tenant_a.agent.pk).update(is_active=False)
    client.force_login(tenant_a.agent.user)
    assert client.get("/o/alpha/").status_code == 404


def test_a_user_of_two_organizations_switches_between_them(tenant_a: Tenant, tenant_b: Tenant, client: Any) -> None:
    Membership.objects.create(organization=tenant_b.organization, user=tenant_a.agent.user, role=Role.AGENT)
    client.force_login(tenant_a.agent.user)
    page = client.get("/organizations/")
    assert b"/o/alpha/" in page.content and b"/o/bravo/" in page.content
    assert client.get("/o/bravo/inbox/").status_code == 200
    assert client.get("/").headers["Location"] == "/o/bravo/"


def test_a_form_error_names_the_problem(tenant_a: Tenant, client: Any) -> None:
    client.force_login(tenant_a.admin.user)
    response = client.post("/o/alpha/settings/departments/", {"name": "Support"})
    assert response.status_code == 200
    assert b"already exists" in response.content


def test_customer_text_in_names_is_escaped(tenant_a: Tenant, client: Any) -> None:
    factories.make_department(tenant_a.organization, "<script>alert(1)</script>")
    client.force_login(tenant_a.admin.user)
    content = client.get("/o/alpha/settings/departments/").content
    assert b"<script>alert(1)</script>" not in content
    assert b"&lt;script&gt;" in content


def test_api_tokens_are_created_once_shown_and_revoked(tenant_a: Tenant, client: Any) -> None:
    client.force_login(tenant_a.agent.user)
    response = client.post("/o/alpha/settings/api-tokens/", {"name": "script", "action": "create"})
    key = response.context["new_key"]
    assert key.startswith("hd_") and key.encode() in response.content
    token = tenant_a.agent.api_tokens.get()
    assert key.encode() not in client.get("/o/alpha/settings/api-tokens/").content
    client.post("/o/alpha/settings/api-tokens/", {"action": "revoke", "token_id": token.pk})
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_healthz_answers(client: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_ready_when_database_and_broker_answer(db: Any, client: Any) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": True, "broker": True}


def test_readyz_is_503_when_the_database_is_unreachable(db: Any, client: Any) -> None:
    from django.db import connections

    wrapper = type(connections["default"])
    with mock.patch.object(wrapper, "cursor", autospec=True, side_effect=OperationalError("down")):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] is False


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


def visible_text(html: str) -> str:
    """What a reader sees of a page: its text without tags, whitespace collapsed."""
    parser = _VisibleText()
    parser.feed(html)
    return " ".join("".join(parser.chunks).split())


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_api_tokens_page_shows_the_header_with_its_key_placeholder(
    tenant_a: Tenant, client: Any, language: str
) -> None:
    tenant_a.organization.language = language
    tenant_a.organization.save(update_fields=["language"])
    client.force_login(tenant_a.agent.user)
    text = visible_text(client.get("/o/alpha/settings/api-tokens/").content.decode())
    assert "Authorization: Token <key>" in text
    assert "Token ." not in text and "Token 」" not in text


def test_every_page_links_the_favicon_and_favicon_ico_answers(db: Any, client: Any) -> None:
    page = client.get("/accounts/login/").content.decode()
    icons = re.findall(r'<link rel="icon" href="([^"]+)"', page)
    assert any(href.endswith(".ico") for href in icons) and any(href.endswith(".svg") for href in icons)
    for href in icons:
        served = client.get(href)
        assert served.status_code == 200, href
        assert served["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon", "image/svg+xml"), href
    # Browsers ask for /favicon.ico by themselves, whatever the page links.
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"\x00\x00\x01\x00")  # an ICO file
