from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from helpdesk.models import Membership, Role
from tests import factories
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


def test_an_invalid_token_gets_401_in_the_error_format(tenant_a: Tenant) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token hd_not-a-real-token")
    response = client.get("/api/v1/departments/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert response["WWW-Authenticate"] == "Token"


def test_no_credentials_gets_401(tenant_a: Tenant) -> None:
    response = APIClient().get("/api/v1/members/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_revoked_token_stops_working(tenant_a: Tenant) -> None:
    from helpdesk.services import api_token_create, api_token_revoke

    token, key = api_token_create(membership=tenant_a.admin, name="script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/departments/").status_code == 200
    api_token_revoke(membership=tenant_a.admin, token_id=token.pk)
    assert client.get("/api/v1/departments/").status_code == 401


def test_departments_list_only_the_callers_organization(tenant_a: Tenant, tenant_b: Tenant) -> None:
    factories.make_department(tenant_b.organization, "Bravo only")
    names = [d["name"] for d in api_client_for(tenant_a.agent).get("/api/v1/departments/").json()["results"]]
    assert names == ["Support"]


def test_an_admin_creates_renames_and_deletes_a_department(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    created = client.post("/api/v1/departments/", {"name": "Billing"}, format="json")
    assert created.status_code == 201
    department_id = created.json()["id"]
    renamed = client.patch(f"/api/v1/departments/{department_id}/", {"name": "Invoices"}, format="json")
    assert renamed.json()["name"] == "Invoices"
    assert client.delete(f"/api/v1/departments/{department_id}/").status_code == 204
    assert client.get(f"/api/v1/departments/{department_id}/").status_code == 404


def test_a_duplicate_department_name_is_a_conflict(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).post("/api/v1/departments/", {"name": "Support"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_an_empty_department_name_is_invalid_with_details(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).post("/api/v1/departments/", {"name": ""}, format="json")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid" and "name" in body["details"]


def test_a_department_with_channels_cannot_be_deleted(tenant_a: Tenant) -> None:
    factories.make_channel(tenant_a.organization, tenant_a.department)
    response = api_client_for(tenant_a.admin).delete(f"/api/v1/departments/{tenant_a.department.pk}/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "department_in_use"


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("post", "/api/v1/departments/", {"name": "X"}),
        ("patch", "/api/v1/departments/{dept}/", {"name": "X"}),
        ("delete", "/api/v1/departments/{dept}/", None),
        ("post", "/api/v1/members/", {"username": "zed", "password": "a-long-enough-pass"}),
        ("patch", "/api/v1/members/{member}/", {"role": "admin"}),
    ],
)
def test_an_agent_cannot_write_admin_resources(tenant_a: Tenant, method: str, path: str, payload: Any) -> None:
    url = path.format(dept=tenant_a.department.pk, member=tenant_a.agent.pk)
    response = getattr(api_client_for(tenant_a.agent), method)(url, payload, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_an_admin_adds_an_agent_who_can_then_use_the_api(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    response = client.post(
        "/api/v1/members/",
        {"username": "newbie", "password": "a-long-enough-pass", "department_ids": [tenant_a.department.pk]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["role"] == "agent"
    assert response.json()["department_ids"] == [tenant_a.department.pk]
    membership = Membership.objects.get(pk=response.json()["id"])
    assert api_client_for(membership).get("/api/v1/departments/").status_code == 200


def test_a_weak_password_is_refused_with_a_reason(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).post(
        "/api/v1/members/", {"username": "weak", "password": "123"}, format="json"
    )
    assert response.status_code == 400
    assert "password" in response.json()["error"]["details"]


def test_a_department_of_another_organization_is_not_found(tenant_a: Tenant, tenant_b: Tenant) -> None:
    response = api_client_for(tenant_a.admin).post(
        "/api/v1/members/",
        {"username": "cross", "password": "a-long-enough-pass", "department_ids": [tenant_b.department.pk]},
        format="json",
    )
    assert response.status_code == 404


def test_the_last_admin_cannot_be_demoted_or_deactivated(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    response = client.patch(f"/api/v1/members/{tenant_a.admin.pk}/", {"role": "agent"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_admin"
    tenant_a.admin.refresh_from_db()
    assert tenant_a.admin.role == Role.ADMIN


def test_deactivating_a_member_revokes_their_api_access(tenant_a: Tenant) -> None:
    agent_client = api_client_for(tenant_a.agent)
    assert agent_client.get("/api/v1/departments/").status_code == 200
    api_client_for(tenant_a.admin).patch(f"/api/v1/members/{tenant_a.agent.pk}/", {"is_active": False}, format="json")
    assert agent_client.get("/api/v1/departments/").status_code == 401


def test_lists_use_cursor_pagination(tenant_a: Tenant) -> None:
    for n in range(30):
        factories.make_department(tenant_a.organization, f"D{n:02}")
    client = api_client_for(tenant_a.admin)
    first = client.get("/api/v1/departments/?page_size=20").json()
    assert len(first["results"]) == 20 and first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 11 and second["next"] is None
    ids = [d["id"] for d in first["results"] + second["results"]]
    assert len(set(ids)) == 31


def test_the_list_query_count_does_not_grow_with_the_rows(tenant_a: Tenant, django_assert_max_num_queries: Any) -> None:
    client = api_client_for(tenant_a.admin)
    for n in range(10):
        factories.make_member(tenant_a.organization, departments=[tenant_a.department], username=f"m{n}")
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/members/")
    assert len(response.json()["results"]) == 12


def test_an_unknown_api_path_answers_in_the_error_format(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_notifications_belong_to_their_user(tenant_a: Tenant) -> None:
    from helpdesk.services import notification_create

    notification_create(
        organization=tenant_a.organization, user_ids=[tenant_a.agent.user_id], kind="new_conversation", title="Hi"
    )
    assert len(api_client_for(tenant_a.admin).get("/api/v1/notifications/").json()["results"]) == 0
    agent = api_client_for(tenant_a.agent)
    assert [n["title"] for n in agent.get("/api/v1/notifications/").json()["results"]] == ["Hi"]
    assert agent.post("/api/v1/notifications/mark-read/", {}, format="json").json() == {"marked": 1}


def test_a_notice_with_a_dedupe_key_is_given_once(tenant_a: Tenant) -> None:
    from helpdesk.services import notification_create

    kwargs = dict(
        organization=tenant_a.organization,
        user_ids=[tenant_a.admin.user_id],
        kind="token_expiring",
        title="Expiring",
        dedupe_key="page:1:expiry:2026-01-01",
    )
    assert notification_create(**kwargs) == 1
    assert notification_create(**kwargs) == 0


def test_the_openapi_schema_and_docs_are_served(tenant_a: Tenant, client: Any) -> None:
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/departments/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
