"""/api/v1/canned-responses/ and rendering one in a conversation through the API."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from canned import services
from canned.models import CannedResponse, CannedResponseUse
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.canned.conftest import Desk
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/canned-responses/"


def render_url(conversation_id: int, canned_id: int) -> str:
    return f"/api/v1/conversations/{conversation_id}/canned-responses/{canned_id}/render/"


def test_an_admin_creates_a_shared_one_and_a_duplicate_shortcut_is_409(desk: Desk) -> None:
    client = api_client_for(desk.tenant.admin)
    body = {"scope": "organization", "shortcut": "/Refund", "title": "Refund", "body_en": "Hi {{contact.first_name}}"}
    created = client.post(URL, body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["shortcut"] == "Refund" and created.json()["can_manage"] is True
    taken = client.post(URL, {**body, "shortcut": "refund"}, format="json")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "shortcut_taken"
    department = {**body, "scope": "department", "department_id": desk.tenant.department.pk}
    assert client.post(URL, department, format="json").status_code == 201


def test_an_unknown_variable_is_400_naming_it(desk: Desk) -> None:
    client = api_client_for(desk.tenant.agent)
    body = {"scope": "personal", "shortcut": "x", "title": "X", "body_ja": "{{ contact.phone }}様"}
    refused = client.post(URL, body, format="json")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "unknown_variable" and error["details"]["variable"] == "contact.phone"


def test_an_agent_may_create_their_own_only(desk: Desk) -> None:
    client = api_client_for(desk.tenant.agent)
    body = {"scope": "organization", "shortcut": "x", "title": "X", "body_en": "Hello"}
    assert client.post(URL, body, format="json").status_code == 403
    own = client.post(URL, {**body, "scope": "personal"}, format="json")
    assert own.status_code == 201 and own.json()["owner_id"] == desk.tenant.agent.pk


def test_the_list_is_what_the_member_may_use_or_manage_searched_in_one_page(
    desk: Desk, django_assert_num_queries: Any
) -> None:
    desk.canned(shortcut="org", title="返品について", body_ja="返品は30日以内です")
    desk.canned(shortcut="support", scope="department", department_id=desk.tenant.department.pk)
    desk.canned(shortcut="billing", scope="department", department_id=desk.other_department.pk)
    desk.canned(by=desk.tenant.agent, scope="personal", shortcut="mine")
    desk.canned(by=desk.tenant.admin, scope="personal", shortcut="admins-own")
    agent = api_client_for(desk.tenant.agent)
    shortcuts = sorted(row["shortcut"] for row in agent.get(URL).json()["results"])
    assert shortcuts == ["mine", "org", "support"]
    admin = api_client_for(desk.tenant.admin)
    with django_assert_num_queries(5):  # the token and member, the count, the page, their files
        rows = admin.get(URL).json()["results"]
    assert sorted(row["shortcut"] for row in rows) == ["admins-own", "billing", "org", "support"]
    assert [row["shortcut"] for row in agent.get(URL, {"q": "30日"}).json()["results"]] == ["org"]
    assert [row["shortcut"] for row in agent.get(URL, {"scope": "personal"}).json()["results"]] == ["mine"]
    assert agent.get(URL, {"scope": "everyone"}).status_code == 400


def test_update_and_delete_follow_the_same_rules(desk: Desk) -> None:
    shared = desk.canned(shortcut="shared")
    own = desk.canned(by=desk.tenant.agent, scope="personal", shortcut="own")
    agent = api_client_for(desk.tenant.agent)
    assert agent.patch(f"{URL}{shared.pk}/", {"title": "Mine"}, format="json").status_code == 403
    assert agent.delete(f"{URL}{shared.pk}/").status_code == 403
    changed = agent.patch(f"{URL}{own.pk}/", {"title": "Renamed", "body_ja": "どうも"}, format="json")
    assert changed.status_code == 200 and changed.json()["title"] == "Renamed"
    assert agent.patch(f"{URL}{own.pk}/", {"shortcut": "two words"}, format="json").status_code == 400
    assert agent.delete(f"{URL}{own.pk}/").status_code == 204
    assert not CannedResponse.objects.filter(pk=own.pk).exists()


def test_another_agents_own_is_404_to_read_change_or_delete(desk: Desk) -> None:
    colleague = factories.make_member(desk.tenant.organization, departments=[desk.tenant.department])
    theirs = desk.canned(by=colleague, scope="personal", shortcut="theirs")
    agent = api_client_for(desk.tenant.agent)
    assert agent.get(f"{URL}{theirs.pk}/").status_code == 404
    assert agent.patch(f"{URL}{theirs.pk}/", {"title": "x"}, format="json").status_code == 404
    assert agent.delete(f"{URL}{theirs.pk}/").status_code == 404
    assert agent.post(render_url(desk.conversation.pk, theirs.pk)).status_code == 404


def test_render_fills_in_flags_and_counts(desk: Desk) -> None:
    response = desk.canned(shortcut="hi", body_en="Hello {{contact.first_name}}", body_ja="{{contact.name}}様")
    client = api_client_for(desk.tenant.agent)
    rendered = client.post(render_url(desk.conversation.pk, response.pk))
    assert rendered.status_code == 200
    assert rendered.json() == {
        "text": "Hello Hanako",
        "language": "en",
        "length": 12,
        "too_long": False,
        "attachments": [],
    }
    assert CannedResponseUse.objects.filter(canned_response=response).count() == 1


def test_an_agent_cannot_render_in_a_conversation_they_cannot_see(desk: Desk) -> None:
    response = desk.canned(shortcut="hi")
    client = api_client_for(desk.tenant.agent)
    assert client.post(render_url(desk.other_conversation.pk, response.pk)).status_code == 404
    assert CannedResponseUse.objects.count() == 0


def test_another_organization_gets_404_everywhere(desk: Desk, tenant_b: Tenant) -> None:
    response = desk.canned(shortcut="hi")
    for membership in (tenant_b.admin, tenant_b.agent):
        client = api_client_for(membership)
        assert client.get(URL).json()["results"] == []
        assert client.get(f"{URL}{response.pk}/").status_code == 404
        assert client.patch(f"{URL}{response.pk}/", {"title": "x"}, format="json").status_code == 404
        assert client.delete(f"{URL}{response.pk}/").status_code == 404
        assert client.post(render_url(desk.conversation.pk, response.pk)).status_code == 404
    channel_b = factories.make_channel(tenant_b.organization, tenant_b.department)
    conversation_b = factories.make_conversation(factories.make_page(channel_b))
    assert api_client_for(tenant_b.admin).post(render_url(conversation_b.pk, response.pk)).status_code == 404
    assert CannedResponse.objects.filter(pk=response.pk, title="Title of hi").exists()


def test_a_reply_through_the_api_carries_kept_files(desk: Desk, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    response = desk.canned(shortcut="doc", body_en="See attached")
    services.canned_attachment_add(
        organization=desk.tenant.organization,
        membership=desk.tenant.admin,
        canned_response=response,
        upload=SimpleUploadedFile("guide.pdf", b"%PDF-1.4 guide"),
    )
    client = api_client_for(desk.tenant.agent)
    rendered = client.post(render_url(desk.conversation.pk, response.pk)).json()
    [attachment] = rendered["attachments"]
    assert attachment["title"] == "guide.pdf"
    messages_url = f"/api/v1/conversations/{desk.conversation.pk}/messages/"
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        sent = client.post(
            messages_url, {"text": rendered["text"], "kept_files": [attachment["kept_file"]]}, format="json"
        )
        assert sent.status_code == 202, sent.json()
        assert sent.json()["attachments"][0]["title"] == "guide.pdf"
        refused = client.post(messages_url, {"text": "Hi", "kept_files": ["not a token"]}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_attachment"
