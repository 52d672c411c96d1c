"""A customer's data on request: admins export it as a zip, or erase it; nothing of the
customer's words or files stays behind (in the database and in the storage), the
conversation stays as a stub that reports still count."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client

from contacts.models import ContactNote
from helpdesk.models import IdempotencyKey
from messenger.models import (
    Contact,
    Conversation,
    ConversationReferral,
    Message,
    MessageSearchText,
    Note,
    WebhookEvent,
)
from outgoing.models import OutgoingEvent
from privacy.models import AuditEntry
from tests import factories
from tests.conftest import Tenant, api_client_for
from tickets.models import Ticket
from tickets.services import ticket_create_from_conversation

pytestmark = pytest.mark.django_db

SECRET_WORDS = "my card number is 4242"


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def customer(tenant_a: Tenant, media: Path) -> dict[str, Any]:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    page = factories.make_page(channel, name="Alpha shop")
    contact = factories.make_contact(
        page, display_name="Hanako Yamada", first_name="Hanako", last_name="Yamada", avatar_url="https://x.test/a.jpg"
    )
    conversation = factories.make_conversation(page, contact)
    stored = default_storage.save(
        f"messenger/inbound/{tenant_a.organization.pk}/1/0-abc-receipt.png", ContentFile(b"\x89PNG receipt")
    )
    message = factories.make_message(conversation, text=SECRET_WORDS)
    Message.objects.filter(pk=message.pk).update(
        kind="attachment",
        attachments=[{"type": "image", "url": "https://cdn.test/r.png", "stored_name": stored, "size": 12}],
    )
    factories.make_message(conversation, text="Thanks, we will check", direction="out")
    MessageSearchText.objects.create(
        message=message, organization=tenant_a.organization, conversation=conversation, text=SECRET_WORDS
    )
    Note.objects.create(
        organization=tenant_a.organization, conversation=conversation, author_name="Admin", body=f"said {SECRET_WORDS}"
    )
    WebhookEvent.objects.create(
        organization=tenant_a.organization,
        page_id=page.page_id,
        kind="message",
        mid=message.mid or "",
        payload={"sender": {"id": contact.psid}, "message": {"text": SECRET_WORDS}},
        received_at=message.sent_at,
    )
    ticket = ticket_create_from_conversation(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        membership=tenant_a.admin,
        conversation_id=conversation.pk,
    )
    Ticket.objects.filter(pk=ticket.pk).update(subject=SECRET_WORDS, description=f"Customer wrote: {SECRET_WORDS}")
    # The kept picture, where the customer came from, what the team wrote about them, and the
    # body an outgoing webhook keeps for its retries.
    avatar = default_storage.save(
        f"messenger/avatars/{tenant_a.organization.pk}/{contact.pk}.png", ContentFile(b"\x89PNG Hanako's face")
    )
    Contact.objects.filter(pk=contact.pk).update(
        avatar_stored_name=avatar, avatar_fetched_at=message.sent_at, profile_retry_at=message.sent_at
    )
    ConversationReferral.objects.create(
        organization=tenant_a.organization,
        conversation=conversation,
        message=message,
        kind="link",
        ref="hanako-4242",
        occurred_at=message.sent_at,
    )
    ContactNote.objects.create(
        organization=tenant_a.organization, contact=contact, author=tenant_a.admin.user, text="Hanako's card 4242"
    )
    OutgoingEvent.objects.create(
        organization=tenant_a.organization,
        type="message.received",
        resource="message",
        resource_id=message.pk,
        conversation_id=conversation.pk,
        body=json.dumps({"data": {"text": SECRET_WORDS}}),
    )
    return {"contact": contact, "conversation": conversation, "stored": stored, "ticket": ticket, "page": page}


def test_the_export_is_a_zip_with_the_json_and_the_files(tenant_a: Tenant, customer: dict[str, Any]) -> None:
    response = api_client_for(tenant_a.admin).post(f"/api/v1/contacts/{customer['contact'].pk}/export/")

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(
        io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content)
    )
    document = json.loads(archive.read("contact.json"))
    assert document["profile"]["first_name"] == "Hanako" and document["profile"]["psid"] == customer["contact"].psid
    [conversation] = document["conversations"]
    texts = [message["text"] for message in conversation["messages"]]
    assert texts == [SECRET_WORDS, "Thanks, we will check"]
    assert conversation["notes"][0]["body"] == f"said {SECRET_WORDS}"
    assert document["tickets"][0]["subject"] == SECRET_WORDS
    [file_name] = conversation["messages"][0]["files"]
    assert archive.read(file_name) == b"\x89PNG receipt"
    entry = AuditEntry.objects.get(event="contact_exported")
    assert entry.organization_id == tenant_a.organization.pk and entry.actor_id == tenant_a.admin.user_id
    assert entry.remote_addr == "127.0.0.1" and "Hanako" not in entry.object_repr


def test_erasure_leaves_no_text_or_file_behind(
    tenant_a: Tenant, customer: dict[str, Any], media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    file_path = media / customer["stored"]
    assert file_path.exists()
    client = api_client_for(tenant_a.admin)

    refused = client.post(f"/api/v1/contacts/{customer['contact'].pk}/erase/", {"confirm": False}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "erase_not_confirmed"
    assert Message.objects.filter(text=SECRET_WORDS).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/contacts/{customer['contact'].pk}/erase/", {"confirm": True}, format="json")

    assert response.status_code == 200
    assert response.json() == {"conversations": 1, "messages": 2, "tickets": 1, "files": 2}
    assert not file_path.exists()
    assert not any(path.is_file() for path in media.rglob("*"))
    conversation = Conversation.objects.get(pk=customer["conversation"].pk)  # the stub stays
    assert conversation.last_message_preview == ""
    assert set(Message.objects.filter(conversation=conversation).values_list("text", flat=True)) == {""}
    assert list(Message.objects.filter(conversation=conversation).values_list("attachments", flat=True)) == [[], []]
    assert not MessageSearchText.objects.filter(conversation=conversation).exists()
    assert set(Note.objects.filter(conversation=conversation).values_list("body", flat=True)) == {""}
    ticket = Ticket.objects.get(pk=customer["ticket"].pk)
    assert (ticket.subject, ticket.description) == ("", "")
    assert not WebhookEvent.objects.filter(payload__icontains="4242").exists()
    contact = Contact.objects.get(pk=customer["contact"].pk)
    assert (contact.display_name, contact.first_name, contact.last_name, contact.avatar_url) == ("", "", "", "")
    # Nothing left for the profile jobs to fetch back from Facebook.
    assert (contact.avatar_stored_name, contact.avatar_fetched_at, contact.profile_retry_at) == ("", None, None)
    # Nowhere in the organization's rows is the customer's text or name left (the audit log included).
    for model in (
        Message,
        MessageSearchText,
        Note,
        Ticket,
        Contact,
        WebhookEvent,
        AuditEntry,
        ConversationReferral,
        ContactNote,
        OutgoingEvent,
    ):
        for row in model.objects.all().values():
            assert "4242" not in json.dumps(row, default=str) and "Hanako" not in json.dumps(row, default=str)
    entry = AuditEntry.objects.get(event="contact_erased")
    assert entry.actor_id == tenant_a.admin.user_id and entry.additional_data["messages"] == 2


def test_a_new_message_after_erasure_is_kept_as_usual(tenant_a: Tenant, customer: dict[str, Any]) -> None:
    api_client_for(tenant_a.admin).post(
        f"/api/v1/contacts/{customer['contact'].pk}/erase/", {"confirm": True}, format="json"
    )
    factories.make_message(customer["conversation"], text="Hello again")
    assert Message.objects.filter(conversation=customer["conversation"], text="Hello again").exists()


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the reports need PostgreSQL")
def test_reports_still_count_the_erased_conversation(tenant_a: Tenant, customer: dict[str, Any]) -> None:
    from reports.models import ConversationFact
    from reports.services import facts_refresh

    api_client_for(tenant_a.admin).post(
        f"/api/v1/contacts/{customer['contact'].pk}/erase/", {"confirm": True}, format="json"
    )
    facts_refresh(organization=tenant_a.organization)
    assert ConversationFact.objects.filter(
        organization=tenant_a.organization, conversation=customer["conversation"]
    ).exists()


def test_another_organizations_contact_is_not_found_and_agents_are_refused(
    tenant_a: Tenant, tenant_b: Tenant, customer: dict[str, Any]
) -> None:
    contact_id = customer["contact"].pk
    paths = (f"/api/v1/contacts/{contact_id}/export/", f"/api/v1/contacts/{contact_id}/erase/")
    for path in paths:
        assert api_client_for(tenant_b.admin).post(path, {"confirm": True}, format="json").status_code == 404
        # An agent who does not see the customer learns nothing; one who does is refused.
        assert api_client_for(tenant_a.agent).post(path, {"confirm": True}, format="json").status_code == 404
    factories.associate(tenant_a.agent, customer["page"].channel)
    for path in paths:
        assert api_client_for(tenant_a.agent).post(path, {"confirm": True}, format="json").status_code == 403
    assert Message.objects.filter(text=SECRET_WORDS).exists()
    assert not AuditEntry.objects.filter(event__startswith="contact_").exists()


def test_the_conversation_page_links_admins_to_the_customers_data(
    tenant_a: Tenant, tenant_b: Tenant, customer: dict[str, Any], client: Client
) -> None:
    data_url = f"/o/alpha/contacts/{customer['contact'].pk}/data/"
    client.force_login(tenant_a.admin.user)
    page = client.get(f"/o/alpha/inbox/{customer['conversation'].pk}/").content.decode()
    assert data_url in page
    assert "Export the data" in client.get(data_url).content.decode()

    wrong = client.post(data_url, {"typed_name": "Someone else"})
    assert wrong.status_code == 400 and Message.objects.filter(text=SECRET_WORDS).exists()
    typed = client.post(data_url, {"typed_name": "Hanako Yamada"})
    assert typed.status_code == 302 and not Message.objects.filter(text=SECRET_WORDS).exists()

    export = client.post(f"{data_url}export/")
    assert export.status_code == 200 and export["Content-Type"] == "application/zip"

    factories.associate(tenant_a.agent, customer["page"].channel)
    client.force_login(tenant_a.agent.user)
    agent_page = client.get(data_url)
    assert agent_page.status_code == 200 and "Only admins can export or erase" in agent_page.content.decode()
    assert "Export the data" not in agent_page.content.decode()
    assert client.post(data_url, {"confirm": "on"}).status_code == 403
    assert client.post(f"{data_url}export/").status_code == 403
    client.force_login(tenant_b.admin.user)
    assert client.get(f"/o/bravo/contacts/{customer['contact'].pk}/data/").status_code == 404


def test_an_export_sent_with_an_idempotency_key_is_not_kept(tenant_a: Tenant, customer: dict[str, Any]) -> None:
    """The zip is no answer to keep for a day (helpdesk.idempotency stores JSON only): the
    same key runs the export again."""
    client = api_client_for(tenant_a.admin)
    url = f"/api/v1/contacts/{customer['contact'].pk}/export/"
    first = client.post(url, HTTP_IDEMPOTENCY_KEY="export-1")
    again = client.post(url, HTTP_IDEMPOTENCY_KEY="export-1")
    assert first.status_code == again.status_code == 200
    assert "Idempotent-Replayed" not in again
    assert not IdempotencyKey.objects.exists()


def test_erasure_deletes_the_kept_api_answers_that_quote_the_customer(
    tenant_a: Tenant, customer: dict[str, Any]
) -> None:
    contact, conversation = customer["contact"], customer["conversation"]
    Conversation.objects.filter(pk=conversation.pk).update(last_message_preview=SECRET_WORDS[:12])
    other_page_contact = factories.make_contact(customer["page"], display_name="Taro Suzuki")
    other = factories.make_conversation(
        customer["page"], other_page_contact, last_message_preview="Where is my parcel?"
    )
    client = api_client_for(tenant_a.admin)

    def post(path: str, body: dict[str, Any], key: str) -> Any:
        return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    # Answers that quote the customer: their conversation (name, psid, the start of what they
    # wrote), a note on it (by its conversation's id), a note about them (by the contact's id).
    assert post(f"/api/v1/conversations/{conversation.pk}/close/", {}, "close").status_code == 200
    note = {"body": "Call back tomorrow morning"}
    assert post(f"/api/v1/conversations/{conversation.pk}/notes/", note, "note").status_code == 201
    assert post(f"/api/v1/contacts/{contact.pk}/notes/", {"text": "Prefers email"}, "contact-note").status_code == 201
    # Answers that do not: another customer's conversation, a department.
    assert post(f"/api/v1/conversations/{other.pk}/close/", {}, "other-close").status_code == 200
    assert post("/api/v1/departments/", {"name": "Billing"}, "department").status_code == 201
    identifying = [contact.psid.encode(), b"Hanako", b"Yamada", SECRET_WORDS[:12].encode()]
    bodies_before = b" ".join(bytes(row.response_body) for row in IdempotencyKey.objects.all())
    assert all(word in bodies_before for word in identifying)  # the answers did quote them

    response = client.post(f"/api/v1/contacts/{contact.pk}/erase/", {"confirm": True}, format="json")
    assert response.status_code == 200

    for row in IdempotencyKey.objects.all():
        body = bytes(row.response_body)
        assert not any(word in body for word in identifying), (row.key, body)
    kept = {row.key for row in IdempotencyKey.objects.filter(response_status__isnull=False)}
    assert kept == {"other-close", "department"}
    # A retry of an erased answer does nothing twice and says why; the others replay as before.
    retried = post(f"/api/v1/conversations/{conversation.pk}/notes/", note, "note")
    assert retried.status_code == 410 and retried.json()["error"]["code"] == "idempotency_reply_erased"
    assert Note.objects.filter(conversation=conversation).count() == 2  # the fixture's, and the API's
    replayed = post("/api/v1/departments/", {"name": "Billing"}, "department")
    assert replayed.status_code == 201 and replayed["Idempotent-Replayed"] == "true"
    assert b"Taro Suzuki" in bytes(IdempotencyKey.objects.get(key="other-close").response_body)


def test_erasure_leaves_another_organizations_kept_answers_alone(
    tenant_a: Tenant, tenant_b: Tenant, customer: dict[str, Any]
) -> None:
    contact = customer["contact"]
    channel = factories.make_channel(tenant_b.organization, tenant_b.department)
    namesake = factories.make_contact(factories.make_page(channel), display_name="Hanako Yamada")
    conversation = factories.make_conversation(namesake.page, namesake)
    bravo = api_client_for(tenant_b.admin)
    assert (
        bravo.post(f"/api/v1/conversations/{conversation.pk}/close/", {}, HTTP_IDEMPOTENCY_KEY="b").status_code == 200
    )
    api_client_for(tenant_a.admin).post(f"/api/v1/contacts/{contact.pk}/erase/", {"confirm": True}, format="json")
    assert IdempotencyKey.objects.get(organization=tenant_b.organization, key="b").response_status == 200
