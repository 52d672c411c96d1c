"""The Content-Security-Policy: a strict one on every page, and pages that need nothing it forbids
(no inline script or style, no on* handler, no eval through htmx)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from csp.middleware import CSPMiddleware
from django.conf import settings as django_settings
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from channels.models import Channel
from helpdesk.models import Membership
from messenger.models import Conversation
from messenger.sandbox import bootstrap, customers
from tests import factories
from tests.conftest import Tenant
from tickets.services import ticket_create_from_conversation

pytestmark = pytest.mark.django_db

ROOT = Path(django_settings.BASE_DIR)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)(?![^>]*\snonce=)[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)
HANDLER_ATTRIBUTE = re.compile(r"<[^>]*\s(on[a-z]+|hx-on[:\w-]*)\s*=", re.IGNORECASE)
STYLE_BLOCK = re.compile(r"<style(?![^>]*\snonce=)[^>]*>", re.IGNORECASE)


def directives(response: Any) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    parsed: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def forbidden_markup(html: str) -> list[str]:
    return [
        match.group(0)[:120]
        for pattern in (INLINE_SCRIPT, STYLE_ATTRIBUTE, HANDLER_ATTRIBUTE, STYLE_BLOCK)
        for match in pattern.finditer(html)
    ]


@pytest.fixture
def pages(tenant_a: Tenant) -> dict[str, Any]:
    """Every main page of the product, with data on it, for the admin of A."""
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel)
    contact = factories.make_contact(page, avatar_url="https://platform-lookaside.fbsbx.com/p.png")
    conversation: Conversation = factories.make_conversation(page, contact)
    factories.make_message(conversation, text="Where is my order?")
    factories.make_message(
        conversation,
        text="",
        attachments=[{"type": "image", "url": "https://scontent.xx.fbcdn.net/v/a.jpg"}],
    )
    ticket = ticket_create_from_conversation(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        membership=tenant_a.admin,
        conversation_id=conversation.pk,
    )
    other = factories.make_conversation(page)
    factories.make_message(other, text="Hello?")
    return {"channel": channel, "conversation": other, "ticket": ticket, "member": tenant_a.agent}


def main_paths(slug: str, channel: Channel, conversation: Conversation, ticket: Any, member: Membership) -> list[str]:
    org = f"/o/{slug}"
    return [
        f"{org}/inbox/",
        f"{org}/inbox/{conversation.pk}/",
        f"{org}/tickets/",
        f"{org}/tickets/{ticket.pk}/",
        f"{org}/settings/departments/",
        f"{org}/settings/members/",
        f"{org}/settings/members/{member.pk}/",
        f"{org}/settings/api-tokens/",
        f"{org}/settings/channels/",
        f"{org}/settings/channels/messenger/",
        f"{org}/settings/channels/{channel.pk}/",
        f"{org}/settings/agents/",
        f"{org}/settings/tickets/",
        f"{org}/settings/webhook-events/",
        f"{org}/notifications/",
        f"{org}/preferences/",
        "/organizations/",
        "/api/docs/",
        "/nowhere/",  # the 404 page
    ]


def test_every_main_page_has_a_strict_policy_and_no_inline_code(
    tenant_a: Tenant, pages: dict[str, Any], client: Client
) -> None:
    anonymous = Client()
    login = anonymous.get("/accounts/login/")
    responses = {"/accounts/login/": login}
    client.force_login(tenant_a.admin.user)
    for path in main_paths(tenant_a.organization.slug, **pages):
        responses[path] = client.get(path)
    for path, response in responses.items():
        assert response.status_code in (200, 404), (path, response.status_code)
        policy = directives(response)
        for directive in ("script-src", "style-src"):
            assert "'self'" in policy[directive], path
            assert "'unsafe-inline'" not in policy[directive], path
            assert "'unsafe-eval'" not in policy[directive], path
        assert policy["default-src"] == ["'self'"], path
        assert policy["object-src"] == ["'none'"], path
        assert policy["base-uri"] == ["'none'"], path
        assert policy["frame-ancestors"] == ["'none'"], path
        assert forbidden_markup(response.content.decode()) == [], path


def test_the_api_docs_inline_script_runs_only_with_this_responses_nonce(client: Client) -> None:
    first, second = client.get("/api/docs/"), client.get("/api/docs/")
    nonces = []
    for response in (first, second):
        [nonce] = re.findall(r"'nonce-([^']+)'", " ".join(directives(response)["script-src"]))
        assert f'<script nonce="{nonce}">' in response.content.decode()
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    # Pages without inline code get no nonce at all.
    assert "nonce" not in client.get("/accounts/login/").headers["Content-Security-Policy"]


def test_the_sandbox_simulator_follows_the_same_policy(db: Any, client: Client) -> None:
    bootstrap.sandbox_bootstrap()
    page_id = "100000000000101"
    customer = customers.sandbox_customer_create(page_id=page_id, first_name="Dee", last_name="Ray")
    for path in (
        "/sandbox/",
        f"/sandbox/simulator/{page_id}/?psid={customer.psid}",
        f"/sandbox/simulator/{page_id}/thread/?psid={customer.psid}",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"], path
        assert directives(response)["script-src"] == ["'self'"], path
        assert forbidden_markup(response.content.decode()) == [], path


def test_no_template_has_inline_script_style_or_handlers() -> None:
    templates = [
        path
        for app in ("helpdesk", "channels", "messenger", "tickets")
        for path in (ROOT / app).rglob("templates/**/*.html")
    ]
    assert len(templates) > 30
    found = {
        str(path.relative_to(ROOT)): forbidden_markup(path.read_text())
        for path in templates
        if forbidden_markup(path.read_text())
    }
    assert found == {}


def test_htmx_runs_without_eval_and_injects_no_style(client: Client) -> None:
    html = client.get("/accounts/login/").content.decode()
    assert '"allowEval":false' in html
    assert '"includeIndicatorStyles":false' in html
    assert '"allowScriptTags":false' in html


def test_a_response_with_its_own_policy_keeps_it() -> None:
    own = "sandbox; default-src 'none'"

    def file_view(request: HttpRequest) -> HttpResponse:
        response = HttpResponse(b"%PDF-", content_type="application/pdf")
        response["Content-Security-Policy"] = own
        return response

    response = CSPMiddleware(file_view)(RequestFactory().get("/o/alpha/files/1/"))
    assert response["Content-Security-Policy"] == own


def test_linking_a_page_may_redirect_a_form_to_facebooks_dialog(client: Client, settings: Any) -> None:
    dialog = urlsplit(settings.FB_DIALOG_URL)
    assert directives(client.get("/accounts/login/"))["form-action"] == ["'self'", f"{dialog.scheme}://{dialog.netloc}"]
