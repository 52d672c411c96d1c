"""The conversation list's line of the last message is one rule, whoever wrote the message."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from messenger.models import Conversation, MessageKind
from messenger.previews import message_preview
from messenger.services.sending import replies
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.channels import images
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(tenant_a: Tenant) -> Conversation:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")
    page = factories.make_page(channel)
    conversation = factories.make_conversation(page, factories.make_contact(page, display_name="Hanako"))
    factories.make_message(conversation, text="こんにちは", sent_at=timezone.now() - timedelta(hours=1))
    return conversation


def _reply(tenant: Tenant, conversation: Conversation, **content: Any) -> str:
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        replies.message_send(
            organization=tenant.organization, acting_user=tenant.agent.user, conversation=conversation, **content
        )
    conversation.refresh_from_db()
    return conversation.last_message_preview


def test_a_reply_over_several_lines_is_previewed_on_one_line_as_a_customers_message_is(
    tenant_a: Tenant, conversation: Conversation
) -> None:
    text = "Hello Hanako,\n\nyour parcel   left today."
    assert _reply(tenant_a, conversation, text=text) == "Hello Hanako, your parcel left today."
    assert message_preview(kind=MessageKind.TEXT, text=text) == "Hello Hanako, your parcel left today."


def test_an_agents_file_is_previewed_by_its_name(tenant_a: Tenant, conversation: Conversation) -> None:
    upload = images.png("parcel-label.png")
    assert _reply(tenant_a, conversation, upload=upload) == "📎 parcel-label.png"


def test_a_long_reply_is_cut_to_what_the_list_keeps(tenant_a: Tenant, conversation: Conversation) -> None:
    assert _reply(tenant_a, conversation, text="ア" * 300) == "ア" * 200


@pytest.mark.parametrize(
    ("content", "preview"),
    [
        ({"kind": MessageKind.ATTACHMENT, "attachments": [{"type": "image", "url": "https://cdn/x.jpg"}]}, "Photo"),
        ({"kind": MessageKind.ATTACHMENT, "attachments": [{"type": "file", "title": "invoice.pdf"}]}, "📎 invoice.pdf"),
        ({"kind": MessageKind.ATTACHMENT, "attachments": [{"type": "fallback", "title": "Track it"}]}, "Link"),
        ({"kind": MessageKind.ATTACHMENT, "attachments": [{"type": "location", "title": "Home"}]}, "Location"),
        ({"kind": MessageKind.STICKER, "sticker_id": "369239263222822"}, "👍"),
        ({"kind": MessageKind.POSTBACK}, "Pressed a button"),
    ],
    ids=["photo", "named-file", "link", "location", "like", "postback"],
)
def test_a_message_without_text_is_previewed_by_what_was_sent(content: dict[str, Any], preview: str) -> None:
    assert message_preview(text="", **content) == preview
