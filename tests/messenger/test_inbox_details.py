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
from tests.conftest import Tenant

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
