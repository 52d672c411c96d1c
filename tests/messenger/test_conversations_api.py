"""The conversations REST API: visibility, ordering, filters, replies and their refusals, actions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from channels.models import Channel
from helpdesk.models import Notification
from messenger.models import (
    Contact,
    Conversation,
    ConversationEvent,
    Direction,
    FacebookPage,
    Message,
    MessageStatus,
    PageStatus,
)
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_broker() -> Any:
    with (
        mock.patch.object(sending_tasks.send_message, "delay", autospec=True) as delay,
        mock.patch.object(sending_tasks.send_sender_action, "delay", autospec=True),
    ):
        yield delay


@pytest.fixture
def world(tenant_a: Tenant) -> dict[str, Any]:
    """Two channels of A: the agent is associated with `mine` only."""
    org = tenant_a.organization
    mine = factories.make_channel(org, tenant_a.department, name="Mine")
    other_department = factories.make_department(org, "Sales")
    theirs = factories.make_channel(org, other_department, name="Theirs")
    factories.associate(tenant_a.agent, mine)
    page_mine, page_theirs = factories.make_page(mine), factories.make_page(theirs)
    now = timezone.now()
    conversations = {}
    for name, page, ago in [("ann", page_mine, 3), ("bob", page_mine, 1), ("cid", page_theirs, 2)]:
        conversation = factories.make_conversation(page, factories.make_contact(page, display_name=name.title()))
        factories.make_message(conversation, text=f"hello from {name}", sent_at=now - timedelta(minutes=ago))
        conversations[name] = conversation
    return {"mine": mine, "theirs": theirs, "conversations": conversations, "page": page_mine}


def _names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["contact"]["display_name"] for row in response.json()["results"]]


# --- Visibility --------------------------------------------------------------------------------------


def test_an_agent_lists_only_the_conversations_of_their_channels_newest_first(
    tenant_a: Tenant, world: dict[str, Any]
) -> None:
    assert _names(api_client_for(tenant_a.agent).get("/api/v1/conversations/")) == ["Bob", "Ann"]


def test_an_admin_lists_every_channel_of_the_organization(tenant_a: Tenant, world: dict[str, Any]) -> None:
    assert _names(api_client_for(tenant_a.admin).get("/api/v1/conversations/")) == ["Bob", "Cid", "Ann"]


def test_another_channels_conversation_is_404_for_an_agent_on_every_route(
    tenant_a: Tenant, world: dict[str, Any]
) -> None:
    client = api_client_for(tenant_a.agent)
    theirs = world["conversations"]["cid"]
    message = theirs.messages.get()
    Message.objects.filter(pk=message.pk).update(direction=Direction.OUTBOUND, status=MessageStatus.FAILED)
    base = f"/api/v1/conversations/{theirs.pk}"
    assert client.get(f"{base}/").status_code == 404
    assert client.get(f"{base}/messages/").status_code == 404
    assert client.post(f"{base}/messages/", {"text": "hi"}, format="json").status_code == 404
    for action in ("assign", "forward", "close", "reopen", "block", "unblock"):
        response = client.post(f"{base}/{action}/", {}, format="json")
        assert response.status_code == 404, action
        assert response.json()["error"]["code"] == "not_found"
    assert client.post(f"/api/v1/messages/{message.pk}/retry/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == "open"


def test_a_conversation_detail_carries_the_reply_window_and_why_a_reply_would_be_refused(
    tenant_a: Tenant, world: dict[str, Any]
) -> None:
    bob = world["conversations"]["bob"]
    data = api_client_for(tenant_a.agent).get(f"/api/v1/conversations/{bob.pk}/").json()
    assert data["reply_window"]["state"] == "standard"
    assert data["reply_window"]["messaging_type"] == "RESPONSE"
    assert data["reply_window"]["label"].startswith("Reply window: 23 h left")
    assert data["reply_refusal"] is None
    Contact.objects.filter(pk=bob.contact_id).update(is_blocked=True)
    data = api_client_for(tenant_a.agent).get(f"/api/v1/conversations/{bob.pk}/").json()
    assert data["reply_refusal"]["code"] == "contact_blocked"


# --- Ordering, pages, filters --------------------------------------------------------------------------


def test_pages_follow_the_cursor_without_repeating_or_skipping(tenant_a: Tenant, world: dict[str, Any]) -> None:
    page = world["page"]
    same_time = timezone.now() - timedelta(hours=1)
    for n in range(7):
        conversation = factories.make_conversation(page, factories.make_contact(page, display_name=f"Same {n}"))
        factories.make_message(conversation, sent_at=same_time)  # ties are broken by id
    fresh = factories.make_conversation(page, factories.make_contact(page, display_name="No message yet"))
    client = api_client_for(tenant_a.agent)
    seen: list[str] = []
    url: str | None = "/api/v1/conversations/?page_size=3"
    while url:
        body = client.get(url).json()
        seen += [row["contact"]["display_name"] for row in body["results"]]
        url = body["next"]
    assert seen == ["No message yet", "Bob", "Ann", *[f"Same {n}" for n in reversed(range(7))]]
    assert fresh.last_message_at is None


def test_filters_by_channel_state_and_assignee(tenant_a: Tenant, world: dict[str, Any]) -> None:
    client = api_client_for(tenant_a.admin)
    ann, bob = world["conversations"]["ann"], world["conversations"]["bob"]
    Conversation.objects.filter(pk=ann.pk).update(state="closed", assignee=tenant_a.admin.user)
    assert _names(client.get(f"/api/v1/conversations/?channel={world['theirs'].pk}")) == ["Cid"]
    assert _names(client.get("/api/v1/conversations/?state=closed")) == ["Ann"]
    assert _names(client.get("/api/v1/conversations/?state=open")) == ["Bob", "Cid"]
    assert _names(client.get("/api/v1/conversations/?assignee=me")) == ["Ann"]
    assert _names(client.get("/api/v1/conversations/?assignee=none")) == ["Bob", "Cid"]
    assert bob.assignee_id is None


def test_an_agent_cannot_widen_the_list_with_another_channels_filter(tenant_a: Tenant, world: dict[str, Any]) -> None:
    client = api_client_for(tenant_a.agent)
    assert _names(client.get(f"/api/v1/conversations/?channel={world['theirs'].pk}")) == []


def test_search_matches_contact_names_and_visible_message_text(tenant_a: Tenant, world: dict[str, Any]) -> None:
    client = api_client_for(tenant_a.admin)
    bob = world["conversations"]["bob"]
    factories.make_message(bob, text="荷物が届きません")
    factories.make_message(world["conversations"]["ann"], text="secret 荷物", is_hidden=True)
    assert _names(client.get("/api/v1/conversations/?q=ANN")) == ["Ann"]
    assert _names(client.get("/api/v1/conversations/?q=荷物")) == ["Bob"]
    assert _names(client.get("/api/v1/conversations/?q=hello from c")) == ["Cid"]


def test_a_nul_character_in_the_search_is_dropped_rather_than_failing(tenant_a: Tenant, world: dict[str, Any]) -> None:
    # PostgreSQL text cannot hold NUL; a query string can carry one (%00).
    client = api_client_for(tenant_a.admin)
    assert _names(client.get("/api/v1/conversations/?q=A%00nn")) == ["Ann"]


@pytest.mark.parametrize("page_size", [5, 25])
def test_the_list_costs_the_same_queries_whatever_the_page_size(
    tenant_a: Tenant, world: dict[str, Any], page_size: int, django_assert_num_queries: Any
) -> None:
    page = world["page"]
    for n in range(30):
        conversation = factories.make_conversation(page, factories.make_contact(page, display_name=f"C{n}"))
        factories.make_message(conversation)
        Conversation.objects.filter(pk=conversation.pk).update(assignee=tenant_a.admin.user)
    client = api_client_for(tenant_a.agent)
    # the token with its membership, the token's last-used stamp, the page's conversations
    # with their contacts and assignees, its channels, its labels
    with django_assert_num_queries(5):
        response = client.get(f"/api/v1/conversations/?page_size={page_size}")
    assert len(response.json()["results"]) == page_size


# --- Replies -------------------------------------------------------------------------------------------


def _post(client: APIClient, conversation: Conversation, text: str) -> Any:
    return client.post(f"/api/v1/conversations/{conversation.pk}/messages/", {"text": text}, format="json")


def test_a_reply_is_accepted_queued_and_sent_after_commit(
    tenant_a: Tenant, world: dict[str, Any], _no_broker: Any, django_capture_on_commit_callbacks: Any
) -> None:
    bob = world["conversations"]["bob"]
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(api_client_for(tenant_a.agent), bob, "Thanks, we're on it 🙂")
    assert response.status_code == 202
    data = response.json()
    assert (data["status"], data["direction"], data["messaging_type"], data["tag"]) == (
        "queued",
        "out",
        "RESPONSE",
        "",
    )
    assert data["author"]["user_id"] == tenant_a.agent.user_id
    _no_broker.assert_called_once_with(data["id"])
    listed = api_client_for(tenant_a.agent).get(f"/api/v1/conversations/{bob.pk}/messages/").json()["results"]
    assert listed[0]["id"] == data["id"]


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("😀" * 1600, 202),
        ("😀" * 1601, 400),
        ("a" * 1597 + "日本語", 202),
        ("a" * 1598 + "日本語", 400),
        ("\r\n".join(["x"] * 800), 202),  # 800 letters and 799 line breaks, each one character
        ("", 400),
        ("   \n ", 400),
    ],
    ids=["1600-emoji", "1601-emoji", "1600-with-japanese", "1601-with-japanese", "crlf", "empty", "blank"],
)
def test_replies_are_counted_in_unicode_code_points_up_to_1600(
    tenant_a: Tenant, world: dict[str, Any], text: str, status: int
) -> None:
    response = _post(api_client_for(tenant_a.agent), world["conversations"]["bob"], text)
    assert response.status_code == status, response.content
    if status == 400:
        expected = "message_too_long" if text.strip() else "invalid"
        assert response.json()["error"]["code"] == expected
        assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def _refuse_by(change: str, conversation: Conversation) -> None:
    now = timezone.now()
    if change == "window_closed":
        Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=now - timedelta(days=7, minutes=1))
    elif change == "channel_disabled":
        Channel.objects.filter(pk=conversation.channel_id).update(is_enabled=False)
    elif change == "channel_deleted":
        Channel.objects.filter(pk=conversation.channel_id).update(deleted_at=now, is_enabled=False)
    elif change == "page_reauthorization":
        FacebookPage.objects.filter(pk=conversation.page_id).update(status=PageStatus.REAUTHORIZATION_REQUIRED)
    elif change == "page_unlinked":
        FacebookPage.objects.filter(pk=conversation.page_id).update(unlinked_at=now)
    elif change == "contact_blocked":
        Contact.objects.filter(pk=conversation.contact_id).update(is_blocked=True)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("window_closed", "reply_window_closed"),
        ("channel_disabled", "channel_disabled"),
        ("channel_deleted", "channel_deleted"),
        ("page_reauthorization", "page_reauthorization_required"),
        ("page_unlinked", "page_reauthorization_required"),
        ("contact_blocked", "contact_blocked"),
    ],
)
def test_replies_are_refused_with_409_and_a_stable_code(
    tenant_a: Tenant, world: dict[str, Any], change: str, code: str
) -> None:
    bob = world["conversations"]["bob"]
    _refuse_by(change, bob)
    response = _post(api_client_for(tenant_a.agent), bob, "Hello?")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == code
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_hidden_messages_of_a_blocked_customer_are_not_listed(tenant_a: Tenant, world: dict[str, Any]) -> None:
    bob = world["conversations"]["bob"]
    factories.make_message(bob, text="hidden one", is_hidden=True)
    texts = [
        m["text"]
        for m in api_client_for(tenant_a.agent).get(f"/api/v1/conversations/{bob.pk}/messages/").json()["results"]
    ]
    assert texts == ["hello from bob"]


def test_a_failed_message_is_retried_and_anything_else_is_refused(tenant_a: Tenant, world: dict[str, Any]) -> None:
    bob = world["conversations"]["bob"]
    failed = factories.make_message(
        bob, direction=Direction.OUTBOUND, status=MessageStatus.FAILED, mid=None, error_code="recipient_unavailable"
    )
    client = api_client_for(tenant_a.agent)
    response = client.post(f"/api/v1/messages/{failed.pk}/retry/")
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["error_code"]) == ("queued", "")
    again = client.post(f"/api/v1/messages/{failed.pk}/retry/")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "invalid_transition")


# --- Actions -------------------------------------------------------------------------------------------


def test_an_agent_assigns_to_an_agent_of_the_channel_and_a_system_line_is_written(
    tenant_a: Tenant, world: dict[str, Any]
) -> None:
    bob = world["conversations"]["bob"]
    client = api_client_for(tenant_a.agent)
    response = client.post(f"/api/v1/conversations/{bob.pk}/assign/", {"assignee_id": tenant_a.agent.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["assignee"]["user_id"] == tenant_a.agent.user_id
    event = ConversationEvent.objects.get(conversation=bob)
    assert (event.kind, event.actor_id, event.data["to_user_id"]) == (
        "assigned",
        tenant_a.agent.user_id,
        tenant_a.agent.user_id,
    )
    outsider = factories.make_member(tenant_a.organization)
    refused = client.post(f"/api/v1/conversations/{bob.pk}/assign/", {"assignee_id": outsider.pk}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid")
    unassigned = client.post(f"/api/v1/conversations/{bob.pk}/assign/", {"assignee_id": None}, format="json")
    assert unassigned.json()["assignee"] is None
    assert ConversationEvent.objects.filter(conversation=bob, kind="unassigned").exists()


def test_forwarding_to_an_agent_notifies_them_with_the_note(tenant_a: Tenant, world: dict[str, Any]) -> None:
    bob = world["conversations"]["bob"]
    colleague = factories.make_member(
        tenant_a.organization, first_name="Kenji", last_name="Sato", departments=[tenant_a.department]
    )
    factories.associate(colleague, world["mine"])
    response = api_client_for(tenant_a.agent).post(
        f"/api/v1/conversations/{bob.pk}/forward/",
        {"to_membership_id": colleague.pk, "note": "VIP customer"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["assignee"]["name"] == "Kenji Sato"
    notification = Notification.objects.get(user=colleague.user)
    assert notification.kind == "conversation_forwarded"
    assert notification.body == "VIP customer"
    assert notification.url == f"/o/alpha/inbox/{bob.pk}/"
    event = ConversationEvent.objects.get(conversation=bob, kind="forwarded")
    # The name's parts are kept, so that each reader sees it in their own order.
    assert event.data["to"] == {"first_name": "Kenji", "last_name": "Sato", "username": colleague.user.username}
    assert event.data["note"] == "VIP customer"


def test_forwarding_to_another_departments_channel_moves_it_there(tenant_a: Tenant, world: dict[str, Any]) -> None:
    bob = world["conversations"]["bob"]
    client = api_client_for(tenant_a.agent)
    response = client.post(
        f"/api/v1/conversations/{bob.pk}/forward/",
        {"to_channel_id": world["theirs"].pk, "note": "billing"},
        format="json",
    )
    assert response.status_code == 200
    bob.refresh_from_db()
    assert (bob.channel_id, bob.department_id, bob.page_id) == (
        world["theirs"].pk,
        world["theirs"].department_id,
        world["page"].pk,
    )
    # It left the agent's channels: they no longer see it.
    assert client.get(f"/api/v1/conversations/{bob.pk}/").status_code == 404


def test_forward_needs_exactly_one_target(tenant_a: Tenant, world: dict[str, Any]) -> None:
    bob = world["conversations"]["bob"]
    response = api_client_for(tenant_a.agent).post(f"/api/v1/conversations/{bob.pk}/forward/", {}, format="json")
    assert response.status_code == 400


def test_close_and_reopen_write_system_lines_and_refuse_repeats(tenant_a: Tenant, world: dict[str, Any]) -> None:
    bob = world["conversations"]["bob"]
    client = api_client_for(tenant_a.agent)
    assert client.post(f"/api/v1/conversations/{bob.pk}/close/").json()["state"] == "closed"
    assert client.post(f"/api/v1/conversations/{bob.pk}/close/").json()["error"]["code"] == "invalid_transition"
    assert client.post(f"/api/v1/conversations/{bob.pk}/reopen/").json()["state"] == "open"
    kinds = list(ConversationEvent.objects.filter(conversation=bob).order_by("id").values_list("kind", flat=True))
    assert kinds == ["closed", "reopened"]


def test_block_and_unblock_the_customer(tenant_a: Tenant, world: dict[str, Any]) -> None:
    bob = world["conversations"]["bob"]
    client = api_client_for(tenant_a.agent)
    assert client.post(f"/api/v1/conversations/{bob.pk}/block/").json()["contact"]["is_blocked"] is True
    assert client.post(f"/api/v1/conversations/{bob.pk}/block/").status_code == 409
    assert client.post(f"/api/v1/conversations/{bob.pk}/unblock/").json()["contact"]["is_blocked"] is False
    kinds = list(ConversationEvent.objects.filter(conversation=bob).order_by("id").values_list("kind", flat=True))
    assert kinds == ["blocked", "unblocked"]


@pytest.mark.parametrize(
    ("action", "payload"),
    [("messages", {"text": "hi"}), ("forward", {"to_membership_id": 1}), ("block", {})],
)
def test_a_deleted_channels_conversation_refuses_reply_forward_and_block(
    tenant_a: Tenant, world: dict[str, Any], action: str, payload: dict[str, Any]
) -> None:
    bob = world["conversations"]["bob"]
    Channel.objects.filter(pk=bob.channel_id).update(deleted_at=timezone.now())
    response = api_client_for(tenant_a.agent).post(f"/api/v1/conversations/{bob.pk}/{action}/", payload, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "channel_deleted")


# --- The schema ----------------------------------------------------------------------------------------


def test_the_openapi_schema_documents_the_conversation_routes(tenant_a: Tenant) -> None:
    client = APIClient()
    client.force_login(tenant_a.agent.user)
    schema = client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path in [
        "/api/v1/conversations/",
        "/api/v1/conversations/{id}/",
        "/api/v1/conversations/{id}/messages/",
        "/api/v1/conversations/{id}/assign/",
        "/api/v1/conversations/{id}/forward/",
        "/api/v1/conversations/{id}/close/",
        "/api/v1/conversations/{id}/reopen/",
        "/api/v1/conversations/{id}/block/",
        "/api/v1/conversations/{id}/unblock/",
        "/api/v1/messages/{id}/retry/",
    ]:
        assert path in paths, path
    post = paths["/api/v1/conversations/{id}/messages/"]["post"]
    assert "202" in post["responses"] and "409" in post["responses"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    params = {p["name"] for p in paths["/api/v1/conversations/"]["get"]["parameters"]}
    assert {"cursor", "page_size", "channel", "state", "assignee", "q"} <= params


def test_the_query_count_does_not_depend_on_the_data(tenant_a: Tenant, world: dict[str, Any]) -> None:
    client = api_client_for(tenant_a.agent)
    client.get("/api/v1/conversations/")  # the token's last-used stamp is written once
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/conversations/")
    page = world["page"]
    for _ in range(10):
        factories.make_message(factories.make_conversation(page))
    with CaptureQueriesContext(connection) as many:
        client.get("/api/v1/conversations/")
    assert len(few.captured_queries) == len(many.captured_queries)


def test_a_reply_with_seen_at_is_refused_when_a_colleague_replied_since(
    tenant_a: Tenant, world: dict[str, Any], _no_broker: Any
) -> None:
    """The API's collision check, as the composer's: 409 `colleague_replied` with who and when,
    nothing queued; a later `seen_at` (the client showed the colleague's reply) sends."""
    bob = world["conversations"]["bob"]
    shown = timezone.now() - timedelta(seconds=5)
    assert _post(api_client_for(tenant_a.admin), bob, "On it.").status_code == 202
    agent = api_client_for(tenant_a.agent)
    url = f"/api/v1/conversations/{bob.pk}/messages/"

    refused = agent.post(url, {"text": "Me too", "seen_at": shown.isoformat()}, format="json")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "colleague_replied"
    assert error["details"]["name"] in {tenant_a.admin.user.get_full_name(), tenant_a.admin.user.username}
    assert error["details"]["name"] in error["message"]
    assert 0 <= error["details"]["seconds"] <= 5
    assert bob.messages.filter(text="Me too").count() == 0

    later = agent.post(url, {"text": "Me too", "seen_at": timezone.now().isoformat()}, format="json")
    assert later.status_code == 202
    assert agent.post(url, {"text": "And again"}, format="json").status_code == 202
    assert agent.post(url, {"text": "x", "seen_at": "yesterday"}, format="json").status_code == 400
