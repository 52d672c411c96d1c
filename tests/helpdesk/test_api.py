from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from helpdesk.models import Invitation, Membership, Role
from tests import factories
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db

User = get_user_model()


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
        ("patch", "/api/v1/members/{member}/", {"role": "admin"}),
        ("post", "/api/v1/invitations/", {"email": "zed@example.test"}),
        ("get", "/api/v1/invitations/", None),
    ],
)
def test_an_agent_cannot_write_admin_resources(tenant_a: Tenant, method: str, path: str, payload: Any) -> None:
    url = path.format(dept=tenant_a.department.pk, member=tenant_a.agent.pk)
    response = getattr(api_client_for(tenant_a.agent), method)(url, payload, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_adding_a_member_by_username_is_gone_from_the_api_and_its_schema(tenant_a: Tenant, client: Any) -> None:
    response = api_client_for(tenant_a.admin).post(
        "/api/v1/members/", {"username": "newbie", "password": "a-long-enough-pass"}, format="json"
    )
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert not Membership.objects.filter(user__username="newbie").exists()
    paths = client.get("/api/schema/?format=json").json()["paths"]
    assert "post" not in paths["/api/v1/members/"]
    assert "post" in paths["/api/v1/invitations/"]


# --- Invitations -------------------------------------------------------------------------


def _invite(client: APIClient, email: str, **fields: Any) -> Any:
    return client.post("/api/v1/invitations/", {"email": email, **fields}, format="json")


def test_an_admin_invites_by_email_and_the_answer_holds_no_link(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(
            api_client_for(tenant_a.admin), "new@example.test", role="admin", department_ids=[tenant_a.department.pk]
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"id", "email", "role", "department_ids", "status", "created_at", "expires_at"}
    assert (body["email"], body["role"], body["department_ids"], body["status"]) == (
        "new@example.test",
        "admin",
        [tenant_a.department.pk],
        "pending",
    )
    invitation = Invitation.objects.get(pk=body["id"])
    assert abs(invitation.expires_at - invitation.created_at - timedelta(days=7)) < timedelta(minutes=1)
    # The link goes to the invitee only: by email, never in the answer.
    [email] = mail.outbox
    assert email.to == ["new@example.test"]
    link = re.search(r"/invitations/([\w-]+)/", email.body)
    assert link and link.group(1) not in response.content.decode()
    assert not Membership.objects.filter(user__email="new@example.test").exists()


def test_inviting_another_organizations_user_answers_as_for_an_unknown_address(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    User.objects.filter(pk=tenant_a.agent.user_id).update(email="alice@alpha.test", first_name="Alice")
    client = api_client_for(tenant_b.admin)
    known = _invite(client, "Alice@alpha.test")
    unknown = _invite(client, "nobody@nowhere.test")
    assert known.status_code == unknown.status_code == 201

    def shape(body: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in body.items() if key not in ("id", "email", "created_at", "expires_at")}

    assert shape(known.json()) == shape(unknown.json())
    assert known.json()["email"] == "Alice@alpha.test"  # as typed, not the account's spelling
    for leak in ("alpha-agent", "alice@alpha.test", "Alice", "Alpha"):
        assert leak not in known.content.decode().replace("Alice@alpha.test", "")
    # Nobody joins without accepting.
    assert not Membership.objects.filter(organization=tenant_b.organization, user=tenant_a.agent.user).exists()
    members = client.get("/api/v1/members/").json()["results"]
    assert "alpha-agent" not in {m["username"] for m in members}


def test_the_list_holds_the_pending_invitations_of_the_callers_organization(tenant_a: Tenant, tenant_b: Tenant) -> None:
    alpha = api_client_for(tenant_a.admin)
    pending = _invite(alpha, "pending@example.test").json()
    revoked = _invite(alpha, "revoked@example.test").json()
    expired = _invite(alpha, "expired@example.test").json()
    _invite(api_client_for(tenant_b.admin), "bravo@example.test")
    alpha.post(f"/api/v1/invitations/{revoked['id']}/revoke/")
    Invitation.objects.filter(pk=expired["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    listed = alpha.get("/api/v1/invitations/").json()["results"]
    assert [i["email"] for i in listed] == ["pending@example.test"]
    assert listed[0]["id"] == pending["id"]
    assert alpha.get(f"/api/v1/invitations/{expired['id']}/").json()["status"] == "expired"


def test_an_admin_revokes_an_invitation_by_post_or_delete(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    first = _invite(client, "one@example.test").json()
    second = _invite(client, "two@example.test").json()
    revoked = client.post(f"/api/v1/invitations/{first['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert client.delete(f"/api/v1/invitations/{second['id']}/").status_code == 204
    assert client.get(f"/api/v1/invitations/{second['id']}/").json()["status"] == "revoked"
    again = client.post(f"/api/v1/invitations/{first['id']}/revoke/")
    assert again.status_code == 410 and again.json()["error"]["code"] == "invitation_closed"


def test_another_organizations_invitation_is_not_found(tenant_a: Tenant, tenant_b: Tenant) -> None:
    invitation = _invite(api_client_for(tenant_a.admin), "alpha-only@example.test").json()
    bravo = api_client_for(tenant_b.admin)
    for method, path in (
        ("get", f"/api/v1/invitations/{invitation['id']}/"),
        ("post", f"/api/v1/invitations/{invitation['id']}/revoke/"),
        ("delete", f"/api/v1/invitations/{invitation['id']}/"),
    ):
        response = getattr(bravo, method)(path)
        assert response.status_code == 404, path
        assert "alpha-only" not in response.content.decode()
    assert Invitation.objects.get(pk=invitation["id"]).status == "pending"
    assert bravo.get("/api/v1/invitations/").json()["results"] == []


def test_an_agent_can_neither_see_nor_send_nor_revoke_invitations(tenant_a: Tenant) -> None:
    invitation = _invite(api_client_for(tenant_a.admin), "x@example.test").json()
    agent = api_client_for(tenant_a.agent)
    for method, path in (
        ("get", "/api/v1/invitations/"),
        ("get", f"/api/v1/invitations/{invitation['id']}/"),
        ("post", "/api/v1/invitations/"),
        ("post", f"/api/v1/invitations/{invitation['id']}/revoke/"),
    ):
        response = getattr(agent, method)(path, {"email": "y@example.test"}, format="json")
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "permission_denied"
    assert Invitation.objects.count() == 1


@pytest.mark.parametrize("email", ["not-an-address", "", "a@b@c.test", "x" * 250 + "@example.test"])
def test_an_invalid_email_is_refused_with_its_own_code(tenant_a: Tenant, email: str) -> None:
    response = _invite(api_client_for(tenant_a.admin), email)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_email"
    assert "email" in response.json()["error"]["details"]


def test_inviting_an_active_member_of_this_organization_is_a_conflict(tenant_a: Tenant) -> None:
    User.objects.filter(pk=tenant_a.agent.user_id).update(email="agent@alpha.test")
    response = _invite(api_client_for(tenant_a.admin), "AGENT@alpha.test")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_member"


def test_a_second_invitation_to_a_pending_address_is_a_conflict_until_revoked(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    first = _invite(client, "twice@example.test").json()
    second = _invite(client, "Twice@Example.test")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "invitation_pending"
    client.post(f"/api/v1/invitations/{first['id']}/revoke/")
    assert _invite(client, "Twice@Example.test").status_code == 201


def test_an_expired_invitation_gives_way_to_a_new_one(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    first = _invite(client, "late@example.test").json()
    Invitation.objects.filter(pk=first["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _invite(client, "late@example.test").status_code == 201


def test_an_invitation_to_a_department_of_another_organization_is_not_found(tenant_a: Tenant, tenant_b: Tenant) -> None:
    response = _invite(api_client_for(tenant_a.admin), "cross@example.test", department_ids=[tenant_b.department.pk])
    assert response.status_code == 404
    assert not Invitation.objects.exists()


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
