"""Channel icons are served by the product's own views to members of the organization, never
from MEDIA_URL: in the settings pages, the inbox and the API alike."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from channels import services
from channels.icons import icon_url
from channels.models import Channel
from helpdesk.files import FILE_CSP
from helpdesk.models import Role
from tests import factories
from tests.channels import images
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings.MEDIA_ROOT


def channel_with_icon(tenant: Tenant, name: str = "Support chat") -> Channel:
    return services.channel_create(
        organization=tenant.organization,
        acting_user=tenant.admin.user,
        name=name,
        department_id=tenant.department.pk,
        icon=images.png(),
    )


def icon_path(tenant: Tenant, channel: Channel) -> str:
    return f"/o/{tenant.organization.slug}/settings/channels/{channel.pk}/icon/"


def test_any_member_of_the_organization_gets_the_icon_as_a_png(tenant_a: Tenant, web_client_for: Any) -> None:
    channel = channel_with_icon(tenant_a)
    # An agent not associated with the channel still sees its icon (the inbox shows every channel's).
    outsider_agent = factories.make_member(tenant_a.organization, role=Role.AGENT, username="alpha-other")
    for member in (tenant_a.admin, tenant_a.agent, outsider_agent):
        response = web_client_for(member).get(icon_path(tenant_a, channel))
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response["Content-Disposition"].startswith("inline")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == FILE_CSP
        assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_a_member_of_another_organization_gets_404_for_the_icon(
    tenant_a: Tenant, tenant_b: Tenant, web_client_for: Any
) -> None:
    channel = channel_with_icon(tenant_a)
    client = web_client_for(tenant_b.admin)
    assert client.get(icon_path(tenant_a, channel)).status_code == 404
    assert client.get(icon_path(tenant_b, channel)).status_code == 404
    assert api_client_for(tenant_b.admin).get(f"/api/v1/channels/{channel.pk}/icon/").status_code == 404


def test_anonymous_visitors_are_sent_to_the_login_page_and_the_api_refuses_them(tenant_a: Tenant) -> None:
    channel = channel_with_icon(tenant_a)
    response = Client().get(icon_path(tenant_a, channel))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert Client().get(f"/api/v1/channels/{channel.pk}/icon/").status_code in (401, 403)


def test_the_icon_is_not_at_its_media_address(tenant_a: Tenant, web_client_for: Any) -> None:
    channel = channel_with_icon(tenant_a)
    assert web_client_for(tenant_a.admin).get(f"/media/{channel.icon.name}").status_code == 404


def test_a_channel_without_an_icon_answers_404(tenant_a: Tenant, web_client_for: Any) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    assert web_client_for(tenant_a.admin).get(icon_path(tenant_a, channel)).status_code == 404
    assert api_client_for(tenant_a.admin).get(f"/api/v1/channels/{channel.pk}/icon/").status_code == 404


def test_a_deleted_channels_icon_is_still_served_for_its_old_conversations(
    tenant_a: Tenant, web_client_for: Any
) -> None:
    channel = channel_with_icon(tenant_a)
    services.channel_delete(organization=tenant_a.organization, acting_user=tenant_a.admin.user, channel=channel)
    assert web_client_for(tenant_a.agent).get(icon_path(tenant_a, channel)).status_code == 200


def test_the_api_gives_an_icon_url_that_the_token_opens(tenant_a: Tenant) -> None:
    channel = channel_with_icon(tenant_a)
    factories.associate(tenant_a.agent, channel)
    api = api_client_for(tenant_a.agent)
    icon_url = api.get(f"/api/v1/channels/{channel.pk}/").json()["icon_url"]
    assert icon_url.startswith(f"http://testserver/api/v1/channels/{channel.pk}/icon/?v=")
    response = api.get(icon_url)
    assert (response.status_code, response["Content-Type"]) == (200, "image/png")


def test_the_inbox_shows_the_icon_from_the_view(tenant_a: Tenant, web_client_for: Any) -> None:
    channel = channel_with_icon(tenant_a)
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel)
    conversation = factories.make_conversation(page, factories.make_contact(page))
    factories.make_message(conversation, text="Hello")
    client = web_client_for(tenant_a.agent)
    for path in ("/o/alpha/inbox/", f"/o/alpha/inbox/{conversation.pk}/"):
        body = client.get(path).content.decode()
        assert f'src="{icon_path(tenant_a, channel)}?v=' in body, path
        assert "/media/" not in body
    listing = api_client_for(tenant_a.agent).get("/api/v1/conversations/").json()["results"]
    assert listing[0]["channel"]["icon_url"].startswith(f"/api/v1/channels/{channel.pk}/icon/?v=")


def test_a_new_icon_gets_a_new_address_so_browsers_do_not_keep_the_old_one(tenant_a: Tenant) -> None:
    channel = channel_with_icon(tenant_a)
    before = icon_url(channel, organization_slug="alpha")
    channel = services.channel_update(
        organization=tenant_a.organization, acting_user=tenant_a.admin.user, channel=channel, icon=images.jpeg()
    )
    assert icon_url(channel, organization_slug="alpha") != before
