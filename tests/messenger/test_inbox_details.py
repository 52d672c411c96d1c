# The graph fixture is imported from tests.graph_stub; its name is a parameter below.
# ruff: noqa: F811
"""The inbox's details an agent notices: confirmations as toasts, failed sends in words an
agent understands (the raw error for admins only), and the open conversation staying read."""

from __future__ import annotations

import json
import re
from typing import Any
from unittest import mock

import pytest
from django.db.models import F

from messenger.models import Conversation, Direction, Message, MessageStatus
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.conftest import Tenant, api_client_for
from tests.graph_stub import GraphStub, graph  # noqa: F401 (fixture)
from tests.messenger.test_sending import graph_error, queue_reply, run_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_sender_actions() -> Any:
    # Marking read tells Facebook (mark_seen) once committed; no worker here.
    with mock.patch.object(sending_tasks.send_sender_action, "delay", autospec=True):
        yield


@pytest.fixture
def conversation(tenant_a: Tenant) -> Conversation:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel)
    contact = factories.make_contact(page, display_name="Aiko Tanaka")
    conversation = factories.make_conversation(page, contact)
    factories.make_message(conversation, text="Where is my parcel?")
    return conversation


def _url(path: str = "") -> str:
    return f"/o/alpha/inbox/{path}"


def _failed(conversation: Conversation, **fields: Any) -> Message:
    return factories.make_message(
        conversation, text="Tomorrow, Aiko.", direction=Direction.OUTBOUND, status=MessageStatus.FAILED, **fields
    )


# --- Toasts ----------------------------------------------------------------------------------


def test_closing_a_conversation_is_confirmed_by_a_toast_outside_the_page_layout(
    tenant_a: Tenant, web_client_for: Any, conversation: Conversation
) -> None:
    client = web_client_for(tenant_a.agent)
    page = client.post(_url(f"{conversation.pk}/close/"), follow=True).content.decode()
    toasts = page.split('id="toasts"', 1)[1]
    assert re.search(
        r'class="alert alert-success[^"]*hd-toast"[^>]*role="status">\s*<span data-toast-text>'
        r"Conversation closed\.</span>",
        toasts,
    )
    main = page.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    assert "Conversation closed." not in main


def test_a_refused_action_is_an_error_toast_that_is_an_alert(
    tenant_a: Tenant, web_client_for: Any, conversation: Conversation
) -> None:
    client = web_client_for(tenant_a.agent)
    page = client.post(_url(f"{conversation.pk}/assign/"), {"assignee": "999999"}, follow=True).content.decode()
    toasts = page.split('id="toasts"', 1)[1]
    assert re.search(r'class="alert alert-danger[^"]*hd-toast"[^>]*role="alert">', toasts)


def test_an_htmx_retry_asks_the_page_for_a_toast_in_the_readers_language(
    tenant_a: Tenant, web_client_for: Any, conversation: Conversation
) -> None:
    failed = _failed(conversation, error_code="graph_timeout")
    tenant_a.agent.language = "ja"
    tenant_a.agent.save(update_fields=["language"])
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        response = web_client_for(tenant_a.agent).post(_url(f"messages/{failed.pk}/retry/"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    header = response["HX-Trigger"]
    assert header.isascii()  # a header is Latin-1: JSON escapes carry the Japanese
    toast = json.loads(header)["helpdesk:toast"]
    assert toast["level"] == "success"
    assert toast["message"] == "メッセージを再送しています。"


# --- The open conversation stays read ------------------------------------------------------


def test_the_polled_list_of_an_open_conversation_marks_what_arrived_in_it_read(
    tenant_a: Tenant, web_client_for: Any, conversation: Conversation
) -> None:
    client = web_client_for(tenant_a.agent)
    factories.make_message(conversation, text="Are you there?")
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=F("unread_count") + 1)

    html = client.get(_url(f"list/?active={conversation.pk}")).content.decode()
    row = html.split(f'id="conversation-link-{conversation.pk}"', 1)[1].split("</li>", 1)[0]
    assert "Are you there?" in row
    assert "unread" not in row
    conversation.refresh_from_db()
    assert conversation.unread_count == 0


def test_the_polled_list_of_the_inbox_leaves_conversations_unread(
    tenant_a: Tenant, web_client_for: Any, conversation: Conversation
) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=2)
    html = web_client_for(tenant_a.agent).get(_url("list/")).content.decode()
    assert '2<span class="visually-hidden"> unread</span>' in html
    conversation.refresh_from_db()
    assert conversation.unread_count == 2


def test_an_open_conversation_of_another_organization_is_not_marked_read(
    tenant_a: Tenant, tenant_b: Tenant, web_client_for: Any, conversation: Conversation
) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=2)
    response = web_client_for(tenant_b.admin).get(f"/o/bravo/inbox/list/?active={conversation.pk}")
    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.unread_count == 2


# --- Failed sends in an agent's words ----------------------------------------------------------

FACEBOOK_WINDOW_TEXT = (
    "(#10) This message is sent outside of allowed window. Learn more about the new policy here: "
    "https://developers.facebook.com/docs/messenger-platform/policy-overview"
)


def _send_refused_by_facebook(tenant: Tenant, conversation: Conversation, graph: GraphStub) -> Message:
    """A reply Facebook refuses with error 10/2018278, through the real sending path."""
    message = queue_reply(tenant, conversation, text="Tomorrow, Aiko.")
    graph.answer(400, graph_error(10, 2018278, FACEBOOK_WINDOW_TEXT))
    return run_task(message)


@pytest.fixture
def linked_conversation(tenant_a: Tenant) -> Conversation:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel, page_id="111222333", token="EAAG-page-token")
    contact = factories.make_contact(page, psid="PSID-42", display_name="Aiko Tanaka")
    conversation = factories.make_conversation(page, contact)
    factories.make_message(conversation, text="Where is my parcel?")
    return conversation


def test_an_agent_reads_why_facebook_refused_a_reply_and_what_to_do_without_facebooks_text(
    tenant_a: Tenant, web_client_for: Any, linked_conversation: Conversation, graph: GraphStub
) -> None:
    message = _send_refused_by_facebook(tenant_a, linked_conversation, graph)
    assert message.status == MessageStatus.FAILED
    html = web_client_for(tenant_a.agent).get(_url(f"{linked_conversation.pk}/")).content.decode()
    failure = html.split(f'id="message-{message.pk}"', 1)[1].split("</li>", 1)[0]
    assert "The reply window is closed: the customer must write first." in failure
    assert "You can answer as soon as the customer writes again." in failure
    assert "Retry" in failure
    assert "developers.facebook.com" not in html
    assert "(#10)" not in html
    assert "<details" not in failure


def test_an_admin_finds_facebooks_own_text_behind_details(
    tenant_a: Tenant, web_client_for: Any, linked_conversation: Conversation, graph: GraphStub
) -> None:
    message = _send_refused_by_facebook(tenant_a, linked_conversation, graph)
    html = web_client_for(tenant_a.admin).get(_url(f"{linked_conversation.pk}/")).content.decode()
    failure = html.split(f'id="message-{message.pk}"', 1)[1].split("</li>", 1)[0]
    assert "The reply window is closed: the customer must write first." in failure
    details = failure.split("<details", 1)[1].split("</details>", 1)[0]
    assert "Details (for admins)" in details
    assert "reply_window_closed" in details
    assert "(#10) This message is sent outside of allowed window." in details


@pytest.mark.parametrize(
    ("error_code", "error_message", "reason", "advice"),
    [
        (
            "graph_error",
            '(#100) Param recipient[id] must be a valid ID string (e.g., "123")',
            "Facebook refused the message.",
            "Retry in a moment; if it fails again, tell an admin.",
        ),
        (
            "page_reauthorization_required",
            "Error validating access token: Session has expired",
            "The Facebook Page needs to be re-authorized by an admin before messages can be sent.",
            "An admin must re-authorize the Facebook Page in Settings → Channels; then retry.",
        ),
        ("rate_limited", "(#613) Calls to this api have exceeded the rate limit.", "rate limits", "Wait a few"),
        ("unknown_outcome", "", "it is not known whether Facebook received", "Check the conversation on Facebook"),
    ],
)
def test_every_stored_failure_reads_as_a_reason_and_an_advice(
    tenant_a: Tenant,
    web_client_for: Any,
    conversation: Conversation,
    error_code: str,
    error_message: str,
    reason: str,
    advice: str,
) -> None:
    message = _failed(conversation, error_code=error_code, error_message=error_message)
    html = web_client_for(tenant_a.agent).get(_url(f"{conversation.pk}/")).content.decode()
    failure = html.split(f'id="message-{message.pk}"', 1)[1].split("</li>", 1)[0]
    assert reason in failure and advice in failure
    assert not error_message or error_message.split(" ")[0] not in html


def test_a_japanese_agent_reads_the_failure_in_japanese(
    tenant_a: Tenant, web_client_for: Any, conversation: Conversation
) -> None:
    tenant_a.agent.language = "ja"
    tenant_a.agent.save(update_fields=["language"])
    message = _failed(conversation, error_code="reply_window_closed", error_message=FACEBOOK_WINDOW_TEXT)
    html = web_client_for(tenant_a.agent).get(_url(f"{conversation.pk}/")).content.decode()
    failure = html.split(f'id="message-{message.pk}"', 1)[1].split("</li>", 1)[0]
    assert "返信期限が過ぎています。" in failure
    assert "You can answer" not in failure


def test_the_api_gives_the_agents_words_beside_facebooks_code_and_text(
    tenant_a: Tenant, conversation: Conversation
) -> None:
    _failed(conversation, error_code="reply_window_closed", error_message=FACEBOOK_WINDOW_TEXT)
    body = api_client_for(tenant_a.agent).get(f"/api/v1/conversations/{conversation.pk}/messages/").json()
    failed = next(m for m in body["results"] if m["status"] == "failed")
    assert failed["failure_reason"] == (
        "The reply window is closed: the customer must write first. "
        "You can answer as soon as the customer writes again."
    )
    assert failed["error_message"] == FACEBOOK_WINDOW_TEXT


def test_the_inbox_row_of_a_conversation_whose_last_reply_failed_says_so_in_words(
    tenant_a: Tenant, web_client_for: Any, conversation: Conversation
) -> None:
    client = web_client_for(tenant_a.agent)
    _failed(conversation, error_code="graph_timeout")
    html = client.get(_url("list/")).content.decode()
    row = html.split(f'id="conversation-link-{conversation.pk}"', 1)[1].split("</li>", 1)[0]
    assert re.search(r'<span class="badge text-bg-danger"><i [^>]*aria-hidden="true"></i> Reply not sent</span>', row)

    # The customer wrote after it: the last message is no failure any more.
    factories.make_message(conversation, text="Never mind, it arrived.")
    html = client.get(_url("list/")).content.decode()
    row = html.split(f'id="conversation-link-{conversation.pk}"', 1)[1].split("</li>", 1)[0]
    assert "Reply not sent" not in row
