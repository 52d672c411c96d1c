"""The audit log: who changed channels, pages, members, roles, departments, SLA policies,
invitations and API tokens, with the time, the actor and the client's address; scoped to
the organization, searchable, never holding a secret."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from helpdesk.models import ApiToken, Membership, Role
from helpdesk.services import api_token_create, invitation_create, member_update
from messenger.models import FacebookPage, PageStatus
from messenger.pages.sweeps import token_expiry_sweep
from privacy.audit import AUDITED_MODELS, M2M_FIELDS, NOT_SHOWN_FIELDS, entry_change_lines, field_label
from privacy.models import AuditEntry
from tests import factories
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


def _entries(tenant: Tenant, model: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(organization=tenant.organization, content_type__model=model).order_by("pk"))


def test_changes_made_through_the_api_name_the_actor_and_the_address(tenant_a: Tenant, settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    client = api_client_for(tenant_a.admin)
    headers = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}

    channel = client.post(
        "/api/v1/channels/", {"name": "Shop chat", "department_id": tenant_a.department.pk}, **headers
    )
    assert channel.status_code == 201, channel.content
    department = client.post("/api/v1/departments/", {"name": "Sales"}, format="json", **headers)
    assert department.status_code == 201
    policy = client.post(
        "/api/v1/sla-policies/",
        {"department": tenant_a.department.pk, "first_response_minutes": 30},
        format="json",
        **headers,
    )
    assert policy.status_code == 201, policy.content
    role = client.patch(f"/api/v1/members/{tenant_a.agent.pk}/", {"role": "admin"}, format="json", **headers)
    assert role.status_code == 200, role.content
    sales = department.json()["id"]
    moved = client.patch(f"/api/v1/members/{tenant_a.agent.pk}/", {"department_ids": [sales]}, format="json", **headers)
    assert moved.status_code == 200, moved.content

    for model in ("channel", "department", "slapolicy"):
        entry = _entries(tenant_a, model)[-1]
        assert entry.action == AuditEntry.Action.CREATE
        assert (entry.actor_id, entry.remote_addr) == (tenant_a.admin.user_id, "198.51.100.7")
    [role_change] = [
        e for e in _entries(tenant_a, "membership") if e.action == AuditEntry.Action.UPDATE and "role" in e.changes
    ]
    assert role_change.changes["role"] == ["agent", "admin"] and role_change.actor_id == tenant_a.admin.user_id
    department_changes = [
        e.changes["departments"] for e in _entries(tenant_a, "membership") if "departments" in e.changes
    ]
    assert {"type": "m2m", "operation": "add", "objects": ["Sales"]} in department_changes


def test_invitations_api_tokens_and_pages_are_logged_without_their_secrets(tenant_a: Tenant) -> None:
    _invitation, invitation_token = invitation_create(
        organization=tenant_a.organization, acting_user=tenant_a.admin.user, email="new@example.com"
    )
    token, key = api_token_create(membership=tenant_a.admin, name="CI")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    page = factories.make_page(channel, token="EAAG-secret-page-token", authorized_by_facebook_user="770077007700")
    page.name = "Renamed page"
    page.save()

    assert _entries(tenant_a, "invitation") and _entries(tenant_a, "facebookpage")
    assert [entry.action for entry in _entries(tenant_a, "apitoken")] == [
        AuditEntry.Action.CREATE,
        AuditEntry.Action.UPDATE,
    ]
    everything = json.dumps(list(AuditEntry.objects.values()), default=str)
    for secret in (
        invitation_token,
        key,
        token.key_hash,
        "access_token_encrypted",
        "token_hash",
        "key_hash",
        "770077007700",
    ):
        assert secret not in everything
    assert FacebookPage.objects.get(pk=page.pk).access_token_encrypted not in everything


def test_an_admin_sees_only_their_organizations_entries(tenant_a: Tenant, tenant_b: Tenant, client: Client) -> None:
    factories.make_channel(tenant_a.organization, tenant_a.department, name="Alpha only channel")
    factories.make_channel(tenant_b.organization, tenant_b.department, name="Bravo only channel")

    listing = api_client_for(tenant_a.admin).get("/api/v1/audit-log/", {"q": "only channel"})
    assert listing.status_code == 200
    assert [row["object"] for row in listing.json()["results"]] == ["Channel: Alpha only channel"]

    client.force_login(tenant_b.admin.user)
    page = client.get("/o/bravo/settings/audit-log/", {"q": "only channel"}).content.decode()
    assert "Bravo only channel" in page and "Alpha only channel" not in page


def test_the_log_is_searched_by_actor_action_object_and_text_and_filtered_by_date(
    tenant_a: Tenant, client: Client
) -> None:
    member_update(
        organization=tenant_a.organization, acting_user=tenant_a.admin.user, membership=tenant_a.agent, role=Role.ADMIN
    )
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Weekend desk")
    AuditEntry.objects.filter(content_type__model="channel", object_pk=str(channel.pk)).update(
        actor=tenant_a.admin.user
    )
    api = api_client_for(tenant_a.admin)

    def objects(**params: Any) -> list[str]:
        response = api.get("/api/v1/audit-log/", params)
        assert response.status_code == 200
        return [row["object"] for row in response.json()["results"]]

    assert objects(q="Weekend") == ["Channel: Weekend desk"]
    assert "Channel: Weekend desk" in objects(q=tenant_a.admin.user.username)
    assert any(name.startswith("Member: ") for name in objects(q="admin"))  # the role's new value
    today = timezone.localdate()
    assert "Channel: Weekend desk" in objects(date_from=today.isoformat(), date_to=today.isoformat())
    assert objects(date_to="2000-01-01") == []
    assert api.get("/api/v1/audit-log/", {"date_from": "yesterday"}).status_code == 400

    client.force_login(tenant_a.admin.user)
    page = client.get("/o/alpha/settings/audit-log/", {"q": "Weekend"}, HTTP_ACCEPT_LANGUAGE="ja")
    assert page.status_code == 200 and "Weekend desk" in page.content.decode()


def test_agents_may_not_read_the_audit_log(tenant_a: Tenant, client: Client) -> None:
    assert api_client_for(tenant_a.agent).get("/api/v1/audit-log/").status_code == 403
    client.force_login(tenant_a.agent.user)
    assert client.get("/o/alpha/settings/audit-log/").status_code == 403
    assert Membership.objects.filter(pk=tenant_a.agent.pk, role=Role.AGENT).exists()


def test_an_entry_reads_as_values_without_reverse_relations_or_empty_fields(tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Night desk")
    [made] = _entries(tenant_a, "channel")
    # Only the channel's own columns are recorded, not its conversations, tickets or pages.
    assert "name" in made.changes and not {"conversations", "tickets", "facebook_pages"} & set(made.changes)
    lines = {line.field: line.text for line in entry_change_lines(made)}
    assert lines["name"] == "Night desk" and lines["is_enabled"] == "Yes"
    assert "deleted_at" not in lines and "organization" not in lines  # empty, and the reader's own
    channel.name = "Night and weekend desk"
    channel.save()
    changed = _entries(tenant_a, "channel")[-1]
    assert [(line.field, line.text) for line in entry_change_lines(changed)] == [
        ("name", "Night desk → Night and weekend desk")
    ]
    [joined] = [
        e
        for e in _entries(tenant_a, "membership")
        if "departments" in e.changes and e.object_pk == str(tenant_a.agent.pk)
    ]
    with translation.override("ja"):
        assert [(line.field, line.text) for line in entry_change_lines(joined)] == [("departments", "Support を追加")]


def _change_cells(html: str) -> list[str]:
    """The text of each line of the log's Changes column, tags stripped."""
    return [re.sub(r"<[^>]+>", "", line).strip() for line in re.findall(r"<li data-field=[^>]*>(.*?)</li>", html)]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            [
                "Status: Active → Re-authorization required",
                "Re-authorization reason: — → Token expired",
                "Reason: Token expired",
                "Department: Support",
                "Enabled: Yes",
                "Automatic assignment: Off (agents pick conversations)",
            ],
        ),
        (
            "ja",
            [
                "ステータス: 有効 → 再認証が必要です",
                "再認証の理由: — → トークンの有効期限切れ",
                "理由: トークンの有効期限切れ",
                "部署: Support",
                "有効: はい",
                "自動割り当て: オフ（エージェントが会話を選ぶ）",
            ],
        ),
    ],
)
def test_the_log_page_shows_fields_by_their_names_and_values_in_words(
    tenant_a: Tenant, client: Client, language: str, expected: list[str]
) -> None:
    Membership.objects.filter(pk=tenant_a.admin.pk).update(language=language)
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Shop chat")
    page = factories.make_page(channel, name="Shop page", token_expires_at=timezone.now() - timedelta(hours=1))
    token_expiry_sweep(check_limit=0)
    assert FacebookPage.objects.get(pk=page.pk).status == PageStatus.REAUTHORIZATION_REQUIRED

    client.force_login(tenant_a.admin.user)
    html = client.get("/o/alpha/settings/audit-log/").content.decode()
    lines = _change_cells(html)
    for line in expected:
        assert line in lines, (line, lines)
    # No field's code and no stored value's code reaches the reader.
    assert not any(re.match(r"^[a-z_]+:", line) for line in lines), lines
    assert "reauthorization_required" not in html and "token_expired" not in html and "<code>" not in html


def test_related_objects_are_named_with_a_query_per_kind_not_per_entry(
    tenant_a: Tenant, client: Client, django_assert_num_queries: Any
) -> None:
    Membership.objects.filter(pk=tenant_a.admin.pk).update(language="en")
    client.force_login(tenant_a.admin.user)
    factories.make_channel(tenant_a.organization, tenant_a.department, name="Channel 0")
    client.get("/o/alpha/settings/audit-log/")  # sessions, content types: cached from here on

    def queries_of_the_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/o/alpha/settings/audit-log/").status_code == 200
        return len(queries)

    few = queries_of_the_page()
    sales = factories.make_department(tenant_a.organization, "Sales")
    for number in range(1, 8):
        department = sales if number % 2 else tenant_a.department
        factories.make_channel(tenant_a.organization, department, name=f"Channel {number}")
    assert queries_of_the_page() == few
    html = client.get("/o/alpha/settings/audit-log/").content.decode()
    assert "Department: Sales" in _change_cells(html) and "Department: Support" in _change_cells(html)
    # A member is named by their name, not their membership's number.
    member_lines = [line for line in _change_cells(html) if line.startswith("User: ")]
    assert all(not line.removeprefix("User: ").isdigit() for line in member_lines)


def test_every_recorded_field_has_a_japanese_name() -> None:
    untranslated = []
    for label, excluded in AUDITED_MODELS.items():
        model = apps.get_model(label)
        fields = [*model._meta.concrete_fields, *(model._meta.get_field(name) for name in M2M_FIELDS.get(label, ()))]
        for field in fields:
            if field.name in excluded or field.name in NOT_SHOWN_FIELDS:
                continue
            with translation.override("en"):
                english = field_label(model, field)
            with translation.override("ja"):
                japanese = field_label(model, field)
            if japanese == english:
                untranslated.append(f"{label}.{field.name}: {english}")
    assert untranslated == []
