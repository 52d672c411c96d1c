"""The inbox search's copy of message texts: the periodic job, and searches that find what
is copied and what is not yet, never a hidden message, and an edited message by its new text."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from messenger.models import Conversation, FacebookPage, Message, MessageSearchText
from messenger.services.search import INDEX_LAG, message_search_index
from tests import factories
from tests.conftest import Tenant, api_client_for
from tests.messenger.fixtures import (
    PSID,
    fast_password_hashing,
    page,
    post_webhook,
    queued_followups,
    webhook_fixture,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_followups")]
__all__ = ["fast_password_hashing", "page", "queued_followups"]


def _message(conversation: Conversation, text: str, *, age: timedelta, **fields: Any) -> Message:
    message = factories.make_message(conversation, text=text, **fields)
    Message.objects.filter(pk=message.pk).update(received_at=timezone.now() - age)
    return message


def _copied() -> list[str]:
    return list(MessageSearchText.objects.order_by("message_id").values_list("text", flat=True))


def test_the_job_copies_texts_a_minute_behind_in_id_order(page: FacebookPage) -> None:
    conversation = factories.make_conversation(page)
    _message(conversation, "first", age=timedelta(hours=1))
    _message(conversation, "", age=timedelta(hours=1), kind="attachment")  # nothing to search
    _message(conversation, "second", age=timedelta(minutes=2))
    _message(conversation, "too recent", age=INDEX_LAG / 2)
    _message(conversation, "older, behind a recent one", age=timedelta(hours=2))

    assert message_search_index() == 5  # read; the fourth one stops the copy
    assert _copied() == ["first", "second"]
    message_search_index()
    assert _copied() == ["first", "second"]  # nothing copied twice
    later = timezone.now() + INDEX_LAG
    message_search_index(now=later)
    assert _copied() == ["first", "second", "too recent", "older, behind a recent one"]


def test_the_job_reads_a_batch_at_a_time(page: FacebookPage) -> None:
    conversation = factories.make_conversation(page)
    for n in range(5):
        _message(conversation, f"message {n}", age=timedelta(hours=1))
    assert message_search_index(batch_size=2) == 2
    assert message_search_index(batch_size=2) == 2
    assert message_search_index(batch_size=2) == 1
    assert len(_copied()) == 5


def test_search_finds_copied_and_not_yet_copied_texts_but_never_hidden_ones(
    tenant_a: Tenant, page: FacebookPage, web_client_for: Any
) -> None:
    def contact(name: str) -> Conversation:
        return factories.make_conversation(page, factories.make_contact(page, display_name=name))

    _message(contact("Copied Carla"), "where is my parcel", age=timedelta(hours=1))
    _message(contact("Hidden Hana"), "parcel secret", age=timedelta(hours=1), is_hidden=True)
    message_search_index()
    _message(contact("Recent Rui"), "PARCEL arrived broken", age=timedelta(seconds=5))
    _message(contact("Recent hidden"), "parcel again", age=timedelta(seconds=5), is_hidden=True)
    assert _copied() == ["where is my parcel", "parcel secret"]

    html = web_client_for(tenant_a.admin).get(f"/o/{tenant_a.organization.slug}/inbox/?q=parcel").content.decode()
    assert "Copied Carla" in html and "Recent Rui" in html
    assert "Hidden Hana" not in html and "Recent hidden" not in html
    api = api_client_for(tenant_a.admin).get("/api/v1/conversations/?q=parcel")
    assert {row["contact"]["display_name"] for row in api.json()["results"]} == {"Copied Carla", "Recent Rui"}


def test_an_edited_message_is_found_by_its_new_text(tenant_a: Tenant, page: FacebookPage, client: Client) -> None:
    edit = webhook_fixture("message_edit")
    mid = edit["entry"][0]["messaging"][0]["message_edit"]["mid"]
    conversation = factories.make_conversation(page, factories.make_contact(page, psid=PSID, display_name="Edith"))
    _message(conversation, "Hello, my order has not arrived yet.", age=timedelta(hours=1), mid=mid)
    message_search_index()
    assert post_webhook(client, edit).status_code == 200
    assert _copied() == ["Hello, my order #1043 has not arrived yet."]

    client.force_login(tenant_a.admin.user)
    inbox = f"/o/{tenant_a.organization.slug}/inbox/"
    assert "Edith" in client.get(inbox, {"q": "#1043"}).content.decode()
