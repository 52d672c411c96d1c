"""Walks every URL pattern and API route: a member of another organization gets 404,
an anonymous visitor 401/403 or the login page. New routes are picked up by themselves."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from rest_framework.test import APIClient

from helpdesk.services import invitation_create
from tests import factories
from tests.conftest import Tenant, api_client_for
from tests.routes import ROUTE_VALUES as ROUTE_VALUES  # re-exported for the tests that import it from here
from tests.routes import fill_route, iter_routes, route_params, route_text

MARKER = "ALPHASECRET"

# Routes anyone may reach, or that are not tenant-scoped (each for a stated reason).
PUBLIC_PREFIXES = (
    "accounts/",  # login, logout and password reset
    # An invitation's link: its secret token is the credential, not a session or an
    # organization (tests/helpdesk/test_invitations.py: an unknown token is a 404 page).
    "invitations/",
    "favicon.ico",  # the same icon for everyone, asked for by browsers before any login
    "healthz",
    "readyz",
    "api/schema/",
    "api/docs/",
    "webhooks/",  # Facebook calls them; verified by signature, routed by page id
    # Meta's data deletion callback (its signed request is the credential) and its status
    # page (an unguessable confirmation code; tests/privacy/test_data_deletion.py).
    "messenger/data-deletion/",
    "sandbox/",  # the local Graph API stand-in (development only)
    "static/",
    "media/",
)
# Pages that are not about one organization's data but about the logged-in user.
USER_ROUTES = {"", "organizations/"}
# App-level routes a third party must know in advance, so outside /o/<slug>/: the walk still
# visits them (nothing may leak, nothing may break), and each has a test of its own below
# that it acts only in the organization the server itself recorded.
APP_LEVEL_ROUTES = {
    # Facebook Login's one redirect URI: the organization comes from the state kept in the
    # session of the admin who started the linking.
    "messenger/oauth/callback/",
}
# Kept under their old names for the tests that import them from here.
_route_text, _params, _fill = route_text, route_params, fill_route


def _ids_of(slug: str) -> set[str]:
    ids: set[str] = set()
    for model in apps.get_models():
        if any(f.name == "organization" for f in model._meta.get_fields()):
            ids.update(str(pk) for pk in model.objects.filter(organization__slug=slug).values_list("pk", flat=True))
    return ids


def _alpha_ids() -> list[str]:
    """Every primary key of organization A's rows, in every tenant-owned model, except the
    numbers that are also keys of B's own rows (B may of course open those)."""
    return sorted(_ids_of("alpha") - _ids_of("bravo"), key=lambda v: (len(v), v))


@pytest.fixture
def populated_alpha(tenant_a: Tenant, settings: Any, tmp_path: Any) -> Tenant:
    """Organization A with one row of each kind, all carrying a marker that must never leak."""
    tenant_a.department.name = f"{MARKER} Support"
    tenant_a.department.save()
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name=f"{MARKER} channel")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel, name=f"{MARKER} page")
    conversation = factories.make_conversation(page, factories.make_contact(page, display_name=f"{MARKER} customer"))
    factories.make_message(conversation, text=f"{MARKER} message")
    invitation_create(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        email=f"{MARKER}@alpha.test",
        department_ids=[tenant_a.department.pk],
    )
    settings.MEDIA_ROOT = tmp_path / "media"
    stored_name = default_storage.save("messenger/inbound/alpha/photo.png", ContentFile(MARKER.encode()))
    factories.make_message(
        conversation,
        text="",
        kind="attachment",
        attachments=[
            {
                "type": "image",
                "url": "https://cdn.example/p.png",
                "stored_name": stored_name,
                "size": len(MARKER),
                "content_type": "image/png",
            }
        ],
    )
    return tenant_a


def _tenant_routes() -> list[str]:
    return [route for route in iter_routes() if not route.startswith(PUBLIC_PREFIXES) and route not in USER_ROUTES]


def test_the_walk_finds_the_tenant_routes() -> None:
    routes = _tenant_routes()
    assert any(route.startswith("o/<slug:org_slug>/") for route in routes)
    assert any(route.startswith("api/v1/") for route in routes)
    assert APP_LEVEL_ROUTES <= set(routes)


@pytest.mark.django_db
def test_the_app_level_oauth_callback_never_acts_in_another_organization(
    populated_alpha: Tenant, tenant_b: Tenant, client: Any
) -> None:
    from messenger.models import FacebookPage

    channel = populated_alpha.organization.channels.get()
    alpha_admin = Client()
    alpha_admin.force_login(populated_alpha.admin.user)
    start = alpha_admin.get(f"/o/alpha/messenger/channels/{channel.pk}/pages/link/")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]

    client.force_login(tenant_b.admin.user)
    for query in (f"state={state}&code=x", f"state={state}&code=x&org_slug=alpha", "state=&code=x"):
        response = client.get(f"/messenger/oauth/callback/?{query}", follow=True)
        assert response.redirect_chain[0][0] == "/o/bravo/settings/channels/messenger/", query
        assert MARKER not in response.content.decode()
    assert not FacebookPage.objects.filter(organization=tenant_b.organization).exists()


@pytest.mark.django_db
def test_a_member_of_another_organization_gets_404_everywhere(
    populated_alpha: Tenant, tenant_b: Tenant, client: Any
) -> None:
    alpha_ids = _alpha_ids()
    assert alpha_ids
    client.force_login(tenant_b.admin.user)
    api = api_client_for(tenant_b.admin)
    failures: list[str] = []
    for route in _tenant_routes():
        names = _params(route)
        id_names = [n for n in names if n != "org_slug"]
        candidates = alpha_ids if id_names else ["-"]
        for candidate in candidates:
            url = _fill(route, {n: "alpha" if n == "org_slug" else candidate for n in names})
            is_api = route.startswith("api/")
            for method in ("get", "post"):
                response = getattr(api if is_api else client, method)(url)
                body = response.content.decode(errors="replace")
                if MARKER in body:
                    failures.append(f"{method.upper()} {url} leaked organization A's data")
                elif (names and response.status_code not in (404, 405)) or (not names and response.status_code >= 500):
                    failures.append(f"{method.upper()} {url} answered {response.status_code}")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_login_or_refused(populated_alpha: Tenant, client: Any) -> None:
    alpha_ids = _alpha_ids()
    anonymous_api = APIClient()
    failures = []
    for route in _tenant_routes():
        names = _params(route)
        url = _fill(route, {n: "alpha" if n == "org_slug" else alpha_ids[0] for n in names})
        if route.startswith("api/"):
            response = anonymous_api.get(url)
            if response.status_code not in (401, 403):
                failures.append(f"GET {url} answered {response.status_code}")
        else:
            response = client.get(url)
            if response.status_code != 302 or "/accounts/login/" not in response["Location"]:
                failures.append(f"GET {url} answered {response.status_code}")
    assert not failures, "\n".join(failures)
