"""/api/v1/sla-policies/: members read, admins write; a target of 0 or over 30 days is a 400
with the code `invalid_sla_target`; another organization's policy is a 404."""

from __future__ import annotations

from typing import Any

import pytest

from sla.models import SlaPolicy
from tests import factories
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/sla-policies/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_an_admin_creates_reads_changes_and_deletes_a_policy(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    created = client.post(
        URL,
        {"department": tenant_a.department.pk, "first_response_minutes": 30, "clock": "wall_clock"},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["department"], body["channel"], body["first_response_minutes"], body["resolution_minutes"]) == (
        tenant_a.department.pk,
        None,
        30,
        None,
    )
    url = f"{URL}{body['id']}/"
    changed = client.patch(url, {"resolution_minutes": 480}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["first_response_minutes"], changed.json()["resolution_minutes"]) == (30, 480)
    assert [row["id"] for row in api_client_for(tenant_a.agent).get(URL).json()] == [body["id"]]
    assert client.delete(url).status_code == 204
    assert not SlaPolicy.objects.exists()


@pytest.mark.parametrize("minutes", [0, 43201, 1.5, "soon"])
def test_a_target_of_zero_or_over_thirty_days_is_a_400_with_a_stable_code(tenant_a: Tenant, minutes: Any) -> None:
    response = api_client_for(tenant_a.admin).post(
        URL, {"department": tenant_a.department.pk, "next_response_minutes": minutes}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_sla_target"


def test_a_channel_policy_and_a_second_one_refused(tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    client = api_client_for(tenant_a.admin)
    payload = {"channel": channel.pk, "first_response_minutes": 5}
    assert client.post(URL, payload, format="json").json()["channel"] == channel.pk
    again = client.post(URL, payload, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (400, "sla_policy_exists")


def test_an_agent_may_not_write(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.agent).post(
        URL, {"department": tenant_a.department.pk, "first_response_minutes": 5}, format="json"
    )
    assert response.status_code == 403


def test_another_organization_gets_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    policy = SlaPolicy.objects.create(
        organization=tenant_a.organization, department=tenant_a.department, first_response_minutes=5
    )
    client = api_client_for(tenant_b.admin)
    assert client.get(f"{URL}{policy.pk}/").status_code == 404
    assert client.patch(f"{URL}{policy.pk}/", {"first_response_minutes": 9}, format="json").status_code == 404
    assert client.delete(f"{URL}{policy.pk}/").status_code == 404
    created = client.post(URL, {"department": tenant_a.department.pk, "first_response_minutes": 5}, format="json")
    assert created.status_code == 404
    assert client.get(URL).json() == []
