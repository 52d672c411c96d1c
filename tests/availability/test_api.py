"""The REST API: the caller's own status, and everyone's for admins."""

from __future__ import annotations

from typing import Any

import pytest

from availability import selectors, services
from availability.models import AvailabilityChange, ChangeReason, Status
from tests import factories
from tests.conftest import Tenant, api_client_for


def test_a_member_reads_their_own_status(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.agent).get("/api/v1/me/availability/")

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("status", "capacity", "effective_capacity")} == {
        "status": "offline",
        "capacity": None,
        "effective_capacity": 5,
    }
    assert body["status_since"]


@pytest.mark.parametrize("status", ["online", "away", "offline"])
def test_a_member_sets_their_own_status(tenant_a: Tenant, status: str) -> None:
    services.availability_set(membership=tenant_a.agent, status=Status.AWAY, reason=ChangeReason.CHOSEN)

    response = api_client_for(tenant_a.agent).patch("/api/v1/me/availability/", {"status": status}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == status
    assert selectors.availability_of(membership=tenant_a.agent).status == status


@pytest.mark.parametrize("status", ["busy", "", "Online", 1, None])
def test_an_unknown_status_is_400_invalid_status(tenant_a: Tenant, status: Any) -> None:
    response = api_client_for(tenant_a.agent).patch("/api/v1/me/availability/", {"status": status}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_status"
    assert not AvailabilityChange.objects.exists()


def test_admins_list_everyones_status_in_their_organization_only(tenant_a: Tenant, tenant_b: Tenant) -> None:
    services.availability_set(membership=tenant_a.agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN)
    services.availability_capacity_set(membership=tenant_a.agent, capacity=9)

    response = api_client_for(tenant_a.admin).get("/api/v1/availability/")

    assert response.status_code == 200
    rows = {row["membership_id"]: row for row in response.json()}
    assert set(rows) == {tenant_a.admin.pk, tenant_a.agent.pk}
    assert (rows[tenant_a.agent.pk]["status"], rows[tenant_a.agent.pk]["effective_capacity"]) == ("online", 9)
    assert (rows[tenant_a.admin.pk]["status"], rows[tenant_a.admin.pk]["capacity"]) == ("offline", None)


def test_the_list_takes_a_fixed_number_of_queries(tenant_a: Tenant, django_assert_num_queries: Any) -> None:
    client = api_client_for(tenant_a.admin)
    for _ in range(3):
        member = factories.make_member(tenant_a.organization)
        services.availability_set(membership=member, status=Status.ONLINE, reason=ChangeReason.CHOSEN)
    client.get("/api/v1/availability/")
    with django_assert_num_queries(3):
        client.get("/api/v1/availability/")


def test_agents_cannot_list_or_change_others(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.agent)

    assert client.get("/api/v1/availability/").status_code == 403
    response = client.patch(f"/api/v1/availability/{tenant_a.admin.pk}/", {"status": "offline"}, format="json")
    assert response.status_code == 403


def test_an_admin_sets_a_members_status_and_capacity(tenant_a: Tenant) -> None:
    services.availability_set(membership=tenant_a.agent, status=Status.ONLINE, reason=ChangeReason.CHOSEN)

    response = api_client_for(tenant_a.admin).patch(
        f"/api/v1/availability/{tenant_a.agent.pk}/", {"status": "offline", "capacity": 12}, format="json"
    )

    assert response.status_code == 200
    assert {k: response.json()[k] for k in ("status", "capacity", "effective_capacity")} == {
        "status": "offline",
        "capacity": 12,
        "effective_capacity": 12,
    }
    assert AvailabilityChange.objects.get(membership=tenant_a.agent, ended_at__isnull=True).reason == ChangeReason.ADMIN


def test_an_admin_clears_a_members_capacity_with_null(tenant_a: Tenant) -> None:
    services.availability_capacity_set(membership=tenant_a.agent, capacity=3)

    response = api_client_for(tenant_a.admin).patch(
        f"/api/v1/availability/{tenant_a.agent.pk}/", {"capacity": None}, format="json"
    )

    assert response.json()["capacity"] is None
    assert response.json()["effective_capacity"] == 5


@pytest.mark.parametrize("capacity", [0, 101, -3, "ten", 2.5, True])
def test_a_capacity_outside_1_to_100_is_400_invalid_capacity(tenant_a: Tenant, capacity: Any) -> None:
    response = api_client_for(tenant_a.admin).patch(
        f"/api/v1/availability/{tenant_a.agent.pk}/", {"capacity": capacity}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_capacity"


def test_an_admin_setting_an_unknown_status_gets_invalid_status(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).patch(
        f"/api/v1/availability/{tenant_a.agent.pk}/", {"status": "lunch"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_status"


def test_another_organizations_member_is_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = api_client_for(tenant_b.admin)

    assert client.get(f"/api/v1/availability/{tenant_a.agent.pk}/").status_code == 404
    response = client.patch(f"/api/v1/availability/{tenant_a.agent.pk}/", {"status": "online"}, format="json")
    assert response.status_code == 404
    assert not AvailabilityChange.objects.exists()


def test_anonymous_callers_get_nothing(tenant_a: Tenant, client: Any) -> None:
    assert client.get("/api/v1/me/availability/").status_code in (401, 403, 404)
    assert client.get("/api/v1/availability/").status_code in (401, 403, 404)


def test_the_endpoints_are_in_the_openapi_schema(tenant_a: Tenant, client: Any) -> None:
    paths = client.get("/api/schema/?format=json").json()["paths"]

    assert set(paths["/api/v1/me/availability/"]) >= {"get", "patch"}
    assert "get" in paths["/api/v1/availability/"]
    assert set(paths["/api/v1/availability/{membership_id}/"]) >= {"get", "patch"}
