"""Settings → SLA policies: admins add, change and delete the policies of departments and
channels; a target of 0 or over 30 days is a form error; agents get 403, members of another
organization 404; the page speaks Japanese."""

from __future__ import annotations

from typing import Any

import pytest

from sla.models import SlaClock, SlaPolicy
from tests import factories
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db

URL = "/o/alpha/settings/sla/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _policy(tenant: Tenant, **fields: Any) -> SlaPolicy:
    fields.setdefault("first_response_minutes", 30)
    return SlaPolicy.objects.create(organization=tenant.organization, department=tenant.department, **fields)


def test_the_settings_navigation_links_to_the_policies(tenant_a: Tenant, web_client_for: Any) -> None:
    response = web_client_for(tenant_a.admin).get("/o/alpha/settings/departments/")
    assert f'href="{URL}"'.encode() in response.content


def test_an_admin_adds_a_department_policy_in_business_hours(tenant_a: Tenant, web_client_for: Any) -> None:
    client = web_client_for(tenant_a.admin)
    response = client.post(
        URL,
        {
            "scope": f"department:{tenant_a.department.pk}",
            "first_response_minutes": "30",
            "next_response_minutes": "60",
            "resolution_minutes": "",
            "clock": SlaClock.BUSINESS_HOURS,
        },
    )
    assert response.status_code == 302
    policy = SlaPolicy.objects.get()
    assert (policy.department_id, policy.channel_id) == (tenant_a.department.pk, None)
    assert (policy.first_response_minutes, policy.next_response_minutes, policy.resolution_minutes) == (30, 60, None)
    page = client.get(URL).content.decode()
    assert "Department: Support" in page and 'value="30"' in page


def test_a_channel_policy_is_filed_under_the_channel_department(tenant_a: Tenant, web_client_for: Any) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Shop")
    response = web_client_for(tenant_a.admin).post(
        URL, {"scope": f"channel:{channel.pk}", "first_response_minutes": "5", "clock": SlaClock.WALL_CLOCK}
    )
    assert response.status_code == 302
    policy = SlaPolicy.objects.get()
    assert (policy.channel_id, policy.department_id, policy.clock) == (channel.pk, tenant_a.department.pk, "wall_clock")


@pytest.mark.parametrize("minutes", ["0", "43201", "-5"])
def test_a_target_of_zero_or_over_thirty_days_is_a_form_error(
    tenant_a: Tenant, web_client_for: Any, minutes: str
) -> None:
    response = web_client_for(tenant_a.admin).post(
        URL,
        {"scope": f"department:{tenant_a.department.pk}", "resolution_minutes": minutes, "clock": "business_hours"},
    )
    assert response.status_code == 400
    assert "A target runs from 1 minute to 30 days." in response.content.decode()
    assert not SlaPolicy.objects.exists()


def test_thirty_days_is_the_longest_target(tenant_a: Tenant, web_client_for: Any) -> None:
    response = web_client_for(tenant_a.admin).post(
        URL,
        {"scope": f"department:{tenant_a.department.pk}", "resolution_minutes": "43200", "clock": "wall_clock"},
    )
    assert response.status_code == 302
    assert SlaPolicy.objects.get().resolution_minutes == 43200


def test_a_second_policy_for_the_same_department_is_refused(tenant_a: Tenant, web_client_for: Any) -> None:
    _policy(tenant_a)
    response = web_client_for(tenant_a.admin).post(
        URL, {"scope": f"department:{tenant_a.department.pk}", "first_response_minutes": "10", "clock": "wall_clock"}
    )
    assert response.status_code == 400
    assert "already has a policy" in response.content.decode()
    assert SlaPolicy.objects.count() == 1


def test_an_admin_changes_and_deletes_a_policy(tenant_a: Tenant, web_client_for: Any) -> None:
    policy = _policy(tenant_a)
    client = web_client_for(tenant_a.admin)
    response = client.post(
        f"{URL}{policy.pk}/", {"first_response_minutes": "45", "next_response_minutes": "", "clock": "wall_clock"}
    )
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.first_response_minutes, policy.clock) == (45, "wall_clock")

    refused = client.post(f"{URL}{policy.pk}/", {"first_response_minutes": "0", "clock": "wall_clock"})
    assert refused.status_code == 400 and "A target runs from 1 minute to 30 days." in refused.content.decode()
    policy.refresh_from_db()
    assert policy.first_response_minutes == 45

    assert client.post(f"{URL}{policy.pk}/", {"action": "delete"}).status_code == 302
    assert not SlaPolicy.objects.exists()


def test_an_agent_may_not_open_the_page(tenant_a: Tenant, web_client_for: Any) -> None:
    assert web_client_for(tenant_a.agent).get(URL).status_code == 403


def test_another_organization_gets_404(tenant_a: Tenant, tenant_b: Tenant, web_client_for: Any) -> None:
    policy = _policy(tenant_a)
    client = web_client_for(tenant_b.admin)
    assert client.get(URL).status_code == 404
    assert client.post(f"/o/bravo/settings/sla/{policy.pk}/", {"action": "delete"}).status_code == 404
    # Nor may another organization's admin file a policy under this organization's department.
    response = client.post(
        "/o/bravo/settings/sla/",
        {"scope": f"department:{tenant_a.department.pk}", "first_response_minutes": "5", "clock": "wall_clock"},
    )
    assert response.status_code == 400
    assert SlaPolicy.objects.filter(organization=tenant_b.organization).count() == 0
    assert SlaPolicy.objects.filter(pk=policy.pk).exists()


def test_the_page_speaks_japanese(tenant_a: Tenant, web_client_for: Any) -> None:
    tenant_a.organization.language = "ja"
    tenant_a.organization.save(update_fields=["language"])
    _policy(tenant_a)
    page = web_client_for(tenant_a.admin).get(URL, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "SLAポリシー" in page and "初回応答" in page
