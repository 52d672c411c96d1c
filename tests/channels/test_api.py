"""The channels REST API: admins write, agents read what they may see."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from channels.models import AgentChannel, Channel, DepartmentSettings
from messenger.models import FacebookPage, PageStatus, ReauthorizationReason
from tests import factories
from tests.channels import images
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def admin_api(tenant_a: Tenant) -> Any:
    return api_client_for(tenant_a.admin)


@pytest.fixture
def agent_api(tenant_a: Tenant) -> Any:
    return api_client_for(tenant_a.agent)


def test_an_admin_creates_a_channel_with_an_icon_in_multipart(admin_api: Any, tenant_a: Tenant) -> None:
    response = admin_api.post(
        "/api/v1/channels/",
        {"name": "Support chat", "department_id": tenant_a.department.pk, "icon": images.png()},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Support chat" and body["department_id"] == tenant_a.department.pk
    assert body["is_enabled"] is True and body["pages"] == []
    icon = f"http://testserver/api/v1/channels/{body['id']}/icon/?v="
    assert body["icon_url"].startswith(icon), body["icon_url"]
    served = admin_api.get(body["icon_url"])
    assert (served.status_code, served["Content-Type"]) == (200, "image/png")


def test_a_bad_icon_is_a_400_naming_the_rule(admin_api: Any, tenant_a: Tenant) -> None:
    response = admin_api.post(
        "/api/v1/channels/",
        {"name": "Support chat", "department_id": tenant_a.department.pk, "icon": images.upload("x.png", b"text")},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"icon": ["The file is not a JPEG or PNG image."]}


def test_the_channel_limit_is_a_409(admin_api: Any, tenant_a: Tenant) -> None:
    factories.make_channel(tenant_a.organization, tenant_a.department)
    response = admin_api.post(
        "/api/v1/channels/", {"name": "Two", "department_id": tenant_a.department.pk}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "channel_limit_reached"


def test_a_taken_name_is_a_409_and_another_organizations_department_a_404(
    admin_api: Any, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    factories.make_department(tenant_a.organization)
    factories.make_channel(tenant_a.organization, tenant_a.department, name="Taken")
    taken = admin_api.post(
        "/api/v1/channels/", {"name": "Taken", "department_id": tenant_a.department.pk}, format="json"
    )
    assert taken.status_code == 409 and taken.json()["error"]["details"] == {"name": ["Already in use."]}
    foreign = admin_api.post(
        "/api/v1/channels/", {"name": "New", "department_id": tenant_b.department.pk}, format="json"
    )
    assert foreign.status_code == 404


def test_agents_read_only_their_channels_and_cannot_write(agent_api: Any, tenant_a: Tenant) -> None:
    factories.make_department(tenant_a.organization)
    mine = factories.make_channel(tenant_a.organization, tenant_a.department, name="Mine")
    other = factories.make_channel(tenant_a.organization, tenant_a.department, name="Other")
    factories.associate(tenant_a.agent, mine)
    assert [c["name"] for c in agent_api.get("/api/v1/channels/").json()["results"]] == ["Mine"]
    assert agent_api.get(f"/api/v1/channels/{other.pk}/").status_code == 404
    for method, path, body in (
        ("post", "/api/v1/channels/", {"name": "x", "department_id": tenant_a.department.pk}),
        ("patch", f"/api/v1/channels/{mine.pk}/", {"name": "x"}),
        ("delete", f"/api/v1/channels/{mine.pk}/", None),
        ("post", f"/api/v1/channels/{mine.pk}/disable/", None),
        ("post", f"/api/v1/channels/{mine.pk}/enable/", None),
        ("put", f"/api/v1/channels/{mine.pk}/agents/", {"membership_ids": []}),
        ("patch", f"/api/v1/departments/{tenant_a.department.pk}/settings/", {"ticket_delay_minutes": 90}),
    ):
        response = getattr(agent_api, method)(path, body, format="json")
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "permission_denied"
    mine.refresh_from_db()
    assert mine.name == "Mine" and mine.is_live


def test_the_list_shows_pages_with_status_but_never_tokens(
    admin_api: Any, tenant_a: Tenant, django_assert_max_num_queries: Any
) -> None:
    for index in range(3):
        department = tenant_a.department if index == 0 else factories.make_department(tenant_a.organization)
        channel = factories.make_channel(tenant_a.organization, department, name=f"Channel {index}")
        factories.make_page(channel, token=f"EAAG-secret-{index}")
        factories.make_page(
            channel,
            status=PageStatus.REAUTHORIZATION_REQUIRED,
            reauthorization_reason=ReauthorizationReason.TOKEN_EXPIRED,
            token=f"EAAG-other-{index}",
        )
    admin_api.get("/api/v1/channels/")
    with django_assert_max_num_queries(6):
        response = admin_api.get("/api/v1/channels/")
    assert response.status_code == 200
    channels = response.json()["results"]
    assert len(channels) == 3 and all(len(c["pages"]) == 2 for c in channels)
    statuses = {(p["status"], p["reauthorization_reason"]) for c in channels for p in c["pages"]}
    assert statuses == {("active", ""), ("reauthorization_required", "token_expired")}
    assert "EAAG" not in response.content.decode() and 'token"' not in response.content.decode()
    assert "access_token" not in response.content.decode()


def test_patch_disable_enable_and_delete(admin_api: Any, tenant_a: Tenant) -> None:
    sales = factories.make_department(tenant_a.organization, "Sales")
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")
    patched = admin_api.patch(
        f"/api/v1/channels/{channel.pk}/", {"name": "Renamed", "department_id": sales.pk}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["name"] == "Renamed"
    assert patched.json()["department_name"] == "Sales"
    assert admin_api.post(f"/api/v1/channels/{channel.pk}/disable/").json()["is_enabled"] is False
    assert admin_api.post(f"/api/v1/channels/{channel.pk}/enable/").json()["is_enabled"] is True
    assert admin_api.delete(f"/api/v1/channels/{channel.pk}/").status_code == 204
    channel.refresh_from_db()
    assert channel.deleted_at is not None
    assert admin_api.get(f"/api/v1/channels/{channel.pk}/").status_code == 404
    assert admin_api.delete(f"/api/v1/channels/{channel.pk}/").status_code == 404


def test_patch_replaces_and_clears_the_icon(admin_api: Any, tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    with_icon = admin_api.patch(f"/api/v1/channels/{channel.pk}/", {"icon": images.jpeg()}, format="multipart")
    assert with_icon.json()["icon_url"]
    cleared = admin_api.patch(f"/api/v1/channels/{channel.pk}/", {"icon": ""}, format="multipart")
    assert cleared.json()["icon_url"] is None


def test_pages_are_listed_and_removed(admin_api: Any, tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    page = factories.make_page(channel, name="Shop page", token="EAAG-secret")
    listed = admin_api.get(f"/api/v1/channels/{channel.pk}/pages/").json()
    assert [(p["id"], p["name"], p["status"]) for p in listed] == [(page.pk, "Shop page", "active")]
    assert set(listed[0]) == {
        "id",
        "page_id",
        "name",
        "status",
        "reauthorization_reason",
        "authorized_at",
        "token_expires_at",
        "reauthorize_by",
        "unlinked_at",
        "health",
    }
    removed = admin_api.delete(f"/api/v1/channels/{channel.pk}/pages/{page.pk}/")
    assert removed.status_code == 200
    assert (removed.json()["status"], removed.json()["reauthorization_reason"]) == (
        "reauthorization_required",
        "page_removed",
    )
    assert admin_api.get(f"/api/v1/channels/{channel.pk}/pages/").json() == []
    with_removed = admin_api.get(f"/api/v1/channels/{channel.pk}/pages/?include_removed=true").json()
    assert with_removed[0]["unlinked_at"] is not None
    assert admin_api.delete(f"/api/v1/channels/{channel.pk}/pages/{page.pk}/").status_code == 404


def test_another_organizations_channel_pages_and_departments_are_404(
    admin_api: Any, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    foreign = factories.make_channel(tenant_b.organization, tenant_b.department)
    page = factories.make_page(foreign)
    for method, path in (
        ("get", f"/api/v1/channels/{foreign.pk}/"),
        ("patch", f"/api/v1/channels/{foreign.pk}/"),
        ("delete", f"/api/v1/channels/{foreign.pk}/"),
        ("post", f"/api/v1/channels/{foreign.pk}/disable/"),
        ("get", f"/api/v1/channels/{foreign.pk}/pages/"),
        ("delete", f"/api/v1/channels/{foreign.pk}/pages/{page.pk}/"),
        ("get", f"/api/v1/channels/{foreign.pk}/agents/"),
        ("put", f"/api/v1/channels/{foreign.pk}/agents/"),
        ("get", f"/api/v1/departments/{tenant_b.department.pk}/settings/"),
        ("patch", f"/api/v1/departments/{tenant_b.department.pk}/settings/"),
    ):
        assert getattr(admin_api, method)(path, {}, format="json").status_code == 404, (method, path)
    page.refresh_from_db()
    assert page.unlinked_at is None


def test_the_agents_of_a_channel_are_read_and_set(
    admin_api: Any, agent_api: Any, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    second = factories.make_member(tenant_a.organization, departments=[tenant_a.department])
    put = admin_api.put(
        f"/api/v1/channels/{channel.pk}/agents/", {"membership_ids": [tenant_a.agent.pk, second.pk]}, format="json"
    )
    assert put.status_code == 200
    assert sorted(m["id"] for m in put.json()) == sorted([tenant_a.agent.pk, second.pk])
    assert [m["username"] for m in agent_api.get(f"/api/v1/channels/{channel.pk}/agents/").json()].count(
        "alpha-agent"
    ) == 1
    admin_api.put(f"/api/v1/channels/{channel.pk}/agents/", {"membership_ids": [second.pk]}, format="json")
    assert list(AgentChannel.objects.values_list("membership_id", flat=True)) == [second.pk]
    foreign = admin_api.put(
        f"/api/v1/channels/{channel.pk}/agents/", {"membership_ids": [tenant_b.agent.pk]}, format="json"
    )
    assert foreign.status_code == 404
    bad = admin_api.put(f"/api/v1/channels/{channel.pk}/agents/", {"membership_ids": "nope"}, format="json")
    assert bad.status_code == 400


def test_department_settings_are_read_and_patched_within_range(
    admin_api: Any, agent_api: Any, tenant_a: Tenant
) -> None:
    url = f"/api/v1/departments/{tenant_a.department.pk}/settings/"
    assert agent_api.get(url).json() == {"department_id": tenant_a.department.pk, "ticket_delay_minutes": 60}
    assert admin_api.patch(url, {"ticket_delay_minutes": 240}, format="json").json()["ticket_delay_minutes"] == 240
    for bad in (59, 1441, "soon"):
        response = admin_api.patch(url, {"ticket_delay_minutes": bad}, format="json")
        assert response.status_code == 400
        assert "ticket_delay_minutes" in response.json()["error"]["details"]
    assert DepartmentSettings.objects.get().ticket_delay_minutes == 240


def test_deleted_pages_of_a_deleted_channel_stay_out_of_the_list(admin_api: Any, tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    factories.make_page(channel, unlinked_at=timezone.now())
    assert admin_api.get(f"/api/v1/channels/{channel.pk}/").json()["pages"] == []
    assert FacebookPage.objects.count() == 1
    assert Channel.objects.count() == 1


def test_the_pages_and_agents_lists_cost_a_fixed_number_of_queries(
    admin_api: Any, tenant_a: Tenant, django_assert_max_num_queries: Any
) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    for _ in range(5):
        factories.make_page(channel)
        factories.associate(factories.make_member(tenant_a.organization, departments=[tenant_a.department]), channel)
    admin_api.get(f"/api/v1/channels/{channel.pk}/pages/")
    with django_assert_max_num_queries(5):
        assert len(admin_api.get(f"/api/v1/channels/{channel.pk}/pages/").json()) == 5
    with django_assert_max_num_queries(5):
        assert len(admin_api.get(f"/api/v1/channels/{channel.pk}/agents/").json()) == 5
