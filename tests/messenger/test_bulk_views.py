"""The bulk actions from the inbox (POST inbox/bulk/, its toolbar's menus) and the API
(POST /api/v1/conversations/bulk/): what the agent is told, the refusals as a whole, and the
cross-organization and visibility 404s."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from channels.models import Channel
from labels.models import Label
from messenger.models import Conversation, ConversationEvent, ConversationState
from tests import factories
from tests.conftest import Tenant, api_client_for


@pytest.fixture
def desk(tenant_a: Tenant) -> dict[str, Any]:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Shop")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel)
    aiko, ben, chie = (
        factories.make_conversation(page, factories.make_contact(page, display_name=name))
        for name in ("Aiko", "Ben", "Chie")
    )
    Conversation.objects.filter(pk=chie.pk).update(state=ConversationState.CLOSED)
    hidden_channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Hidden")
    hidden = factories.make_conversation(factories.make_page(hidden_channel))
    return {"channel": channel, "aiko": aiko, "ben": ben, "chie": chie, "hidden": hidden}


def _post(client: Any, data: dict[str, Any], *, htmx: bool = True, org: str = "alpha") -> Any:
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(f"/o/{org}/inbox/bulk/", data, **headers)


def _trigger(response: Any) -> dict[str, Any]:
    return json.loads(response["HX-Trigger"])


def _states(*conversations: Conversation) -> list[str]:
    return [Conversation.objects.get(pk=c.pk).state for c in conversations]


# --- The inbox ---------------------------------------------------------------------------------


def test_the_inbox_rows_have_labelled_checkboxes_and_the_page_a_toolbar_and_the_shortcuts_help(
    tenant_a: Tenant, desk: dict[str, Any], web_client_for: Any
) -> None:
    html = web_client_for(tenant_a.agent).get("/o/alpha/inbox/").content.decode()
    assert f'value="{desk["aiko"].pk}" id="bulk-check-{desk["aiko"].pk}" aria-label="Select Aiko"' in html
    assert 'role="toolbar" aria-label="Bulk actions"' in html
    assert 'id="bulk-select-page"' in html and "Select all on this page" in html
    assert 'id="shortcuts-help"' in html and 'data-bs-target="#shortcuts-help"' in html
    assert "messenger/bulk.js" in html and "messenger/shortcuts.js" in html


def test_the_toolbar_offers_the_members_and_labels(tenant_a: Tenant, desk: dict[str, Any], web_client_for: Any) -> None:
    Label.objects.create(organization=tenant_a.organization, name="VIP")
    html = web_client_for(tenant_a.agent).get("/o/alpha/inbox/bulk/").content.decode()
    assert 'data-bulk-assignee="me"' in html
    assert f'data-bulk-assignee="{tenant_a.admin.pk}"' in html  # an admin may hold every channel's
    assert html.count('data-bulk-label="') == 2 and "VIP" in html  # add and remove
    assert 'data-bulk-action="close"' in html and 'data-bulk-action="reopen"' in html


def test_bulk_close_answers_a_toast_and_asks_the_list_to_refresh(
    tenant_a: Tenant, desk: dict[str, Any], web_client_for: Any
) -> None:
    aiko, ben, chie = desk["aiko"], desk["ben"], desk["chie"]
    response = _post(web_client_for(tenant_a.agent), {"ids": [aiko.pk, ben.pk, chie.pk], "action": "close"})
    assert response.status_code == 200
    trigger = _trigger(response)
    assert trigger["helpdesk:toast"] == {"level": "success", "message": "Conversations closed: 2. Already closed: 1."}
    assert trigger["inbox:bulk-done"] == {"changed": [aiko.pk, ben.pk], "unchanged": [chie.pk]}
    assert _states(aiko, ben, chie) == ["closed", "closed", "closed"]


def test_bulk_assign_to_me_without_htmx_redirects_with_the_message(
    tenant_a: Tenant, desk: dict[str, Any], web_client_for: Any
) -> None:
    client = web_client_for(tenant_a.agent)
    tenant_a.agent.user.first_name = "Yui"
    tenant_a.agent.user.save()
    response = _post(client, {"ids": [desk["aiko"].pk], "action": "assign", "assignee": "me"}, htmx=False)
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Conversations assigned to Yui: 1." in page
    assert Conversation.objects.get(pk=desk["aiko"].pk).assignee_id == tenant_a.agent.user_id


def test_bulk_assign_needs_an_assignee_and_nobody_unassigns(
    tenant_a: Tenant, desk: dict[str, Any], web_client_for: Any
) -> None:
    client = web_client_for(tenant_a.agent)
    aiko = desk["aiko"]
    Conversation.objects.filter(pk=aiko.pk).update(assignee=tenant_a.agent.user)
    response = _post(client, {"ids": [aiko.pk], "action": "assign"})
    assert response.status_code == 400
    assert _trigger(response)["helpdesk:toast"]["level"] == "error"
    assert Conversation.objects.get(pk=aiko.pk).assignee_id == tenant_a.agent.user_id
    response = _post(client, {"ids": [aiko.pk], "action": "assign", "assignee": "none"})
    assert _trigger(response)["helpdesk:toast"]["message"] == "Conversations unassigned: 1."
    assert Conversation.objects.get(pk=aiko.pk).assignee_id is None


def test_a_refusal_is_a_toast_with_the_reason_and_nothing_changes(
    tenant_a: Tenant, desk: dict[str, Any], web_client_for: Any
) -> None:
    Channel.objects.filter(pk=desk["channel"].pk).update(deleted_at="2026-01-01T00:00:00Z")
    response = _post(web_client_for(tenant_a.agent), {"ids": [desk["chie"].pk], "action": "reopen"})
    assert response.status_code == 409
    toast = _trigger(response)["helpdesk:toast"]
    assert toast["level"] == "error"
    assert toast["message"].startswith("Nothing was changed. Chie: This channel was deleted")
    assert _states(desk["chie"]) == ["closed"]


def test_an_id_the_agent_does_not_see_is_a_404_and_nothing_changes(
    tenant_a: Tenant, desk: dict[str, Any], web_client_for: Any
) -> None:
    response = _post(web_client_for(tenant_a.agent), {"ids": [desk["aiko"].pk, desk["hidden"].pk], "action": "close"})
    assert response.status_code == 404
    assert _states(desk["aiko"], desk["hidden"]) == ["open", "open"]
    assert not ConversationEvent.objects.exists()


def test_a_member_of_another_organization_gets_404(
    tenant_a: Tenant, tenant_b: Tenant, desk: dict[str, Any], web_client_for: Any
) -> None:
    client = web_client_for(tenant_b.admin)
    assert _post(client, {"ids": [desk["aiko"].pk], "action": "close"}).status_code == 404
    assert client.get("/o/alpha/inbox/bulk/").status_code == 404
    # Through their own organization's URL, alpha's conversation is not found either.
    assert _post(client, {"ids": [desk["aiko"].pk], "action": "close"}, org="bravo").status_code == 404
    assert _states(desk["aiko"]) == ["open"]


# --- The API ---------------------------------------------------------------------------------------


def test_the_api_answers_changed_unchanged_and_warnings(tenant_a: Tenant, desk: dict[str, Any]) -> None:
    aiko, ben, chie = desk["aiko"], desk["ben"], desk["chie"]
    response = api_client_for(tenant_a.agent).post(
        "/api/v1/conversations/bulk/", {"ids": [chie.pk, aiko.pk, ben.pk], "action": "close"}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"changed": [aiko.pk, ben.pk], "unchanged": [chie.pk], "warnings": []}


def test_the_api_assigns_to_me_or_a_member_or_nobody(tenant_a: Tenant, desk: dict[str, Any]) -> None:
    client = api_client_for(tenant_a.agent)
    aiko = desk["aiko"]
    for assignee, expected in [
        ("me", tenant_a.agent.user_id),
        (tenant_a.admin.pk, tenant_a.admin.user_id),
        (None, None),
    ]:
        response = client.post(
            "/api/v1/conversations/bulk/", {"ids": [aiko.pk], "action": "assign", "assignee": assignee}, format="json"
        )
        assert response.status_code == 200, response.json()
        assert Conversation.objects.get(pk=aiko.pk).assignee_id == expected
    response = client.post("/api/v1/conversations/bulk/", {"ids": [aiko.pk], "action": "assign"}, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"action": "archive"}, 400, "invalid_action"),
        ({"action": "close", "ids": list(range(1, 102))}, 400, "too_many_conversations"),
        ({"action": "close", "ids": []}, 400, "invalid"),
        ({"action": "label_add"}, 400, "invalid"),
    ],
)
def test_the_api_refuses_bad_input(
    tenant_a: Tenant, desk: dict[str, Any], body: dict[str, Any], status: int, code: str
) -> None:
    body = {"ids": [desk["aiko"].pk], **body}
    response = api_client_for(tenant_a.agent).post("/api/v1/conversations/bulk/", body, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


def test_the_api_refuses_as_a_whole_with_the_reasons(tenant_a: Tenant, desk: dict[str, Any]) -> None:
    Channel.objects.filter(pk=desk["channel"].pk).update(deleted_at="2026-01-01T00:00:00Z")
    response = api_client_for(tenant_a.agent).post(
        "/api/v1/conversations/bulk/",
        {"ids": [desk["aiko"].pk, desk["ben"].pk], "action": "assign", "assignee": "me"},
        format="json",
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "bulk_refused"
    assert [(c["id"], c["code"]) for c in error["details"]["conversations"]] == [
        (desk["aiko"].pk, "channel_deleted"),
        (desk["ben"].pk, "channel_deleted"),
    ]
    assert not Conversation.objects.filter(assignee__isnull=False).exists()


def test_the_api_gives_404_for_a_foreign_or_hidden_conversation_and_an_admin_sees_it(
    tenant_a: Tenant, tenant_b: Tenant, desk: dict[str, Any]
) -> None:
    ids = [desk["aiko"].pk, desk["hidden"].pk]
    response = api_client_for(tenant_a.agent).post(
        "/api/v1/conversations/bulk/", {"ids": ids, "action": "close"}, format="json"
    )
    assert response.status_code == 404
    response = api_client_for(tenant_b.admin).post(
        "/api/v1/conversations/bulk/", {"ids": [desk["aiko"].pk], "action": "close"}, format="json"
    )
    assert response.status_code == 404
    assert _states(desk["aiko"], desk["hidden"]) == ["open", "open"]
    response = api_client_for(tenant_a.admin).post(
        "/api/v1/conversations/bulk/", {"ids": ids, "action": "close"}, format="json"
    )
    assert response.status_code == 200 and sorted(response.json()["changed"]) == sorted(ids)


def test_the_schema_documents_the_bulk_route(tenant_a: Tenant) -> None:
    client = APIClient()
    client.force_login(tenant_a.agent.user)
    schema = client.get("/api/schema/?format=json").json()
    post = schema["paths"]["/api/v1/conversations/bulk/"]["post"]
    assert {"200", "400", "404", "409"} <= set(post["responses"])
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(request["properties"]) == {"ids", "action", "assignee", "label"}


def test_the_toast_is_in_the_organizations_language(
    tenant_a: Tenant, desk: dict[str, Any], web_client_for: Any
) -> None:
    tenant_a.organization.language = "ja"
    tenant_a.organization.save(update_fields=["language"])
    ids = [desk["aiko"].pk, desk["chie"].pk]
    response = _post(web_client_for(tenant_a.agent), {"ids": ids, "action": "close"})
    assert _trigger(response)["helpdesk:toast"]["message"] == "クローズした会話：1件。 すでにクローズ済み：1件。"
