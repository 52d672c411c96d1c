"""/api/v1/labels/: every member reads the organization's labels; admins create, change and
delete them (agents 403); 409 label_name_taken whatever the case; other organizations 404."""

from __future__ import annotations

from typing import Any

import pytest

from labels.models import Label
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


def _label(tenant: Tenant, name: str, color: str = "blue") -> Label:
    return Label.objects.create(organization=tenant.organization, name=name, color=color)


def test_every_member_lists_the_labels_by_name(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _label(tenant_a, "VIP", "purple")
    refund = _label(tenant_a, "Refund", "red")
    _label(tenant_b, "Theirs")
    response = api_client_for(tenant_a.agent).get("/api/v1/labels/")
    assert response.status_code == 200
    body = response.json()
    assert [(item["name"], item["color"]) for item in body] == [("Refund", "red"), ("VIP", "purple")]
    assert body[0]["id"] == refund.pk


def test_the_list_costs_the_same_queries_for_one_or_twenty_labels(
    tenant_a: Tenant, django_assert_num_queries: Any
) -> None:
    client = api_client_for(tenant_a.agent)
    client.get("/api/v1/labels/")  # the token's last use is written once a minute
    for count in (1, 20):
        Label.objects.all().delete()
        for n in range(count):
            _label(tenant_a, f"L{n}")
        # the token with its membership, the labels
        with django_assert_num_queries(2):
            assert len(client.get("/api/v1/labels/").json()) == count


def test_an_admin_creates_changes_and_deletes_a_label(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    created = client.post("/api/v1/labels/", {"name": " Refund ", "color": "red"}, format="json")
    assert created.status_code == 201
    label_id = created.json()["id"]
    assert created.json()["name"] == "Refund"
    changed = client.patch(f"/api/v1/labels/{label_id}/", {"color": "teal"}, format="json")
    assert (changed.status_code, changed.json()["color"], changed.json()["name"]) == (200, "teal", "Refund")
    assert client.get(f"/api/v1/labels/{label_id}/").json()["color"] == "teal"
    assert client.delete(f"/api/v1/labels/{label_id}/").status_code == 204
    assert not Label.objects.exists()


def test_the_colour_defaults_to_blue(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).post("/api/v1/labels/", {"name": "Refund"}, format="json")
    assert response.json()["color"] == "blue"


def test_a_taken_name_in_another_case_is_409(tenant_a: Tenant) -> None:
    _label(tenant_a, "Refund")
    vip = _label(tenant_a, "VIP")
    client = api_client_for(tenant_a.admin)
    response = client.post("/api/v1/labels/", {"name": "rEfUnD"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "label_name_taken"
    renamed = client.patch(f"/api/v1/labels/{vip.pk}/", {"name": "REFUND"}, format="json")
    assert (renamed.status_code, renamed.json()["error"]["code"]) == (409, "label_name_taken")
    assert Label.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": ""}, "invalid"),
        ({"name": "   "}, "invalid"),
        ({"name": "x" * 51}, "invalid"),
        ({"name": "Refund", "color": "chartreuse"}, "invalid_label_color"),
        ({"color": "red"}, "invalid"),
    ],
)
def test_bad_input_is_400_with_a_stable_code(tenant_a: Tenant, body: dict[str, Any], code: str) -> None:
    response = api_client_for(tenant_a.admin).post("/api/v1/labels/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert not Label.objects.exists()


def test_an_agent_cannot_manage_labels(tenant_a: Tenant) -> None:
    label = _label(tenant_a, "Refund")
    client = api_client_for(tenant_a.agent)
    assert client.post("/api/v1/labels/", {"name": "Mine"}, format="json").status_code == 403
    assert client.patch(f"/api/v1/labels/{label.pk}/", {"name": "Mine"}, format="json").status_code == 403
    response = client.delete(f"/api/v1/labels/{label.pk}/")
    assert (response.status_code, response.json()["error"]["code"]) == (403, "permission_denied")
    assert list(Label.objects.values_list("name", flat=True)) == ["Refund"]


def test_another_organizations_label_is_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    label = _label(tenant_a, "Refund")
    client = api_client_for(tenant_b.admin)
    assert client.get(f"/api/v1/labels/{label.pk}/").status_code == 404
    assert client.patch(f"/api/v1/labels/{label.pk}/", {"name": "Theirs"}, format="json").status_code == 404
    assert client.delete(f"/api/v1/labels/{label.pk}/").status_code == 404
    assert client.get("/api/v1/labels/").json() == []
    assert Label.objects.get().name == "Refund"


def test_the_schema_documents_the_labels_and_their_conflict(tenant_a: Tenant) -> None:
    schema = api_client_for(tenant_a.agent).get("/api/schema/?format=json").json()
    assert "409" in schema["paths"]["/api/v1/labels/"]["post"]["responses"]
    assert "403" in schema["paths"]["/api/v1/labels/{id}/"]["delete"]["responses"]
    assert "/api/v1/conversations/{id}/labels/" in schema["paths"]
    assert "/api/v1/conversations/{id}/labels/{label_id}/" in schema["paths"]
    assert "/api/v1/tickets/{id}/labels/" in schema["paths"]
    conversation = schema["components"]["schemas"]["Conversation"]["properties"]
    assert conversation["labels"]["type"] == "array"
