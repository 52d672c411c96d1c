"""The longest reply is one rule: the service's constant feeds its error, the API's schema
and the inbox composer (the ticket page's hint: tests/tickets/test_web.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from channels import message_text
from messenger.models import Direction, Message
from messenger.services.sending import reply_rules
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db

# The limit spelled out anywhere (1600, 1,600, 1 600, 1.600), but not inside a longer number.
_LITERAL_LIMIT = re.compile(r"(?<![\d.,])1[,. \u00a0\u202f]?600(?![\d])")
_APP_DIRS = ("helpdesk", "channels", "messenger", "tickets", "settings", "locale")
_SUFFIXES = {".py", ".html", ".js", ".po", ".txt"}


@pytest.fixture(autouse=True)
def _no_broker() -> Any:
    with (
        mock.patch.object(sending_tasks.send_message, "delay", autospec=True),
        mock.patch.object(sending_tasks.send_sender_action, "delay", autospec=True),
    ):
        yield


@pytest.fixture
def shorter_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(reply_rules, "MAX_TEXT_LENGTH", 1200)
    return 1200


@pytest.fixture
def open_conversation(tenant_a: Tenant) -> Any:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel)
    conversation = factories.make_conversation(page, factories.make_contact(page, display_name="Hanako"))
    factories.make_message(conversation, text="Where is my parcel?")
    return conversation


def test_the_limit_is_written_as_a_number_in_one_place_only() -> None:
    base = Path(settings.BASE_DIR)
    found = [
        f"{path.relative_to(base)}:{number}: {line.strip()}"
        for directory in _APP_DIRS
        for path in (base / directory).rglob("*")
        if path.suffix in _SUFFIXES and "migrations" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if _LITERAL_LIMIT.search(line)
    ]
    assert found == ["channels/message_text.py:" + _constant_line(base) + ": MAX_TEXT_LENGTH = 1600"]


def _constant_line(base: Path) -> str:
    lines = (base / "channels/message_text.py").read_text(encoding="utf-8").splitlines()
    return str(lines.index("MAX_TEXT_LENGTH = 1600") + 1)


def test_the_replies_and_the_out_of_hours_texts_read_the_one_limit() -> None:
    assert reply_rules.MAX_TEXT_LENGTH == message_text.MAX_TEXT_LENGTH
    assert reply_rules.normalize_text is message_text.normalize_text


def test_a_shorter_limit_changes_the_api_answer_and_its_error_text(
    tenant_a: Tenant, open_conversation: Any, shorter_limit: int
) -> None:
    client = api_client_for(tenant_a.agent)
    url = f"/api/v1/conversations/{open_conversation.pk}/messages/"
    refused = client.post(url, {"text": "a" * (shorter_limit + 1)}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "message_too_long"
    assert refused.json()["error"]["message"] == "A message can be at most 1,200 characters."
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()
    assert client.post(url, {"text": "a" * shorter_limit}, format="json").status_code == 202


def test_a_shorter_limit_changes_the_api_schema(tenant_a: Tenant, shorter_limit: int) -> None:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    help_texts = [
        component["properties"]["text"]["description"]
        for name, component in schema["components"]["schemas"].items()
        if name.startswith("MessageCreate")
    ]
    assert help_texts and all(text.startswith("At most 1,200 characters") for text in help_texts)


def test_a_shorter_limit_changes_the_composer_counter_and_its_refusal(
    tenant_a: Tenant, open_conversation: Any, web_client_for: Any, shorter_limit: int
) -> None:
    client = web_client_for(tenant_a.agent)
    page = client.get(f"/o/alpha/inbox/{open_conversation.pk}/").content.decode()
    assert 'data-max-length="1200"' in page
    assert "/ 1,200" in page
    refused = client.post(f"/o/alpha/inbox/{open_conversation.pk}/send/", {"text": "é" * (shorter_limit + 1)})
    assert refused.status_code == 400
    assert "A message can be at most 1,200 characters." in refused.content.decode()


def test_the_japanese_refusal_reads_the_same_limit(tenant_a: Tenant, open_conversation: Any) -> None:
    tenant_a.organization.language = "ja"
    tenant_a.organization.save(update_fields=["language"])
    refused = api_client_for(tenant_a.agent).post(
        f"/api/v1/conversations/{open_conversation.pk}/messages/", {"text": "a" * 1601}, format="json"
    )
    assert refused.json()["error"]["message"] == "メッセージは 1,600 文字以内にしてください。"
