"""Files agents send: kept under a random name, never reachable at a public address, served
through the attachment views to members who may see the conversation, typed from their
bytes (only raster images inline), and sent to Facebook as uploads, never as a URL of ours."""

from __future__ import annotations

import importlib
import json
from datetime import timedelta
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import Resolver404, resolve
from django.utils import timezone

from helpdesk.files import FILE_CSP
from messenger.models import Conversation, Direction, Message, MessageStatus
from messenger.services.sending import replies, reply_rules
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.channels import images
from tests.conftest import Tenant, api_client_for
from tests.urlconf import urls_of

pytestmark = pytest.mark.django_db

HTML = b"<!doctype html><html><body><script>fetch('/api/v1/members/')</script></body></html>"
SVG = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(document.cookie)</script></svg>"


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def open_conversation(tenant: Tenant) -> Conversation:
    channel = factories.make_channel(tenant.organization, tenant.department, name="Support chat")
    factories.associate(tenant.agent, channel)
    page = factories.make_page(channel)
    conversation = factories.make_conversation(page, factories.make_contact(page))
    factories.make_message(conversation, text="Hi", sent_at=timezone.now() - timedelta(minutes=5))
    return conversation


def reply_with_file(tenant: Tenant, name: str, content: bytes, content_type: str) -> Message:
    conversation = open_conversation(tenant)
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        return replies.message_send(
            organization=tenant.organization,
            acting_user=tenant.agent.user,
            conversation=conversation,
            upload=SimpleUploadedFile(name, content, content_type=content_type),
        )


def file_url(tenant: Tenant, message: Message, index: int = 0) -> str:
    return f"/o/{tenant.organization.slug}/inbox/messages/{message.pk}/attachments/{index}/"


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content)


# --- Nothing at a public address ----------------------------------------------------------------


@pytest.mark.parametrize("debug", [True, False], ids=["development", "production"])
def test_an_html_reply_of_another_organization_is_not_served_at_any_media_address(
    tenant_a: Tenant, tenant_b: Tenant, web_client_for: Any, settings: Any, debug: bool
) -> None:
    message = reply_with_file(tenant_b, "invoice.html", HTML, "text/html")
    stored_name = message.attachments[0]["stored_name"]
    assert stored_name.startswith(f"messenger/outbound/{tenant_b.organization.pk}/")
    assert "invoice" not in stored_name  # a random storage name; the file name is only the title
    with urls_of(settings, debug=debug, sandbox=debug):
        for path in (f"/media/{stored_name}", f"/{django_settings.MEDIA_URL.strip('/')}/{stored_name}"):
            with pytest.raises(Resolver404):
                resolve(path)
            assert Client().get(path).status_code == 404
            assert web_client_for(tenant_a.admin).get(path).status_code == 404
            assert web_client_for(tenant_b.agent).get(path).status_code == 404


# --- Served by the view, typed from the bytes -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [("invoice.html", HTML, "text/html"), ("logo.svg", SVG, "image/svg+xml"), ("photo.png", SVG, "image/png")],
)
def test_html_and_svg_replies_are_a_neutral_download_with_nosniff_and_a_sandboxing_policy(
    tenant_b: Tenant, web_client_for: Any, name: str, content: bytes, content_type: str
) -> None:
    message = reply_with_file(tenant_b, name, content, content_type)
    assert message.attachments[0]["content_type"] == "application/octet-stream"
    response = web_client_for(tenant_b.admin).get(file_url(tenant_b, message))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'" == FILE_CSP
    assert body_of(response) == content


def test_a_png_is_shown_inline_as_a_png_whatever_name_and_type_it_was_uploaded_with(
    tenant_a: Tenant, web_client_for: Any
) -> None:
    png = images.image_bytes("PNG")
    message = reply_with_file(tenant_a, "x.html", png, "text/html")
    assert message.attachments[0]["type"] == "image"
    response = web_client_for(tenant_a.agent).get(file_url(tenant_a, message))
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="x.html"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert body_of(response) == png


def test_a_jpeg_named_png_is_served_as_a_jpeg(tenant_a: Tenant, web_client_for: Any) -> None:
    message = reply_with_file(tenant_a, "photo.png", images.image_bytes("JPEG"), "image/png")
    response = web_client_for(tenant_a.agent).get(file_url(tenant_a, message))
    assert (response["Content-Type"], response["Content-Disposition"]) == ("image/jpeg", 'inline; filename="photo.png"')


def test_a_pdf_is_a_download_of_its_own_type(tenant_a: Tenant, web_client_for: Any) -> None:
    message = reply_with_file(tenant_a, "quote.pdf", b"%PDF-1.7\n%a quote", "text/html")
    response = web_client_for(tenant_a.agent).get(file_url(tenant_a, message))
    assert (response["Content-Type"], response["Content-Disposition"]) == (
        "application/pdf",
        'attachment; filename="quote.pdf"',
    )


def test_the_same_file_comes_through_the_api_with_the_same_headers(tenant_a: Tenant) -> None:
    message = reply_with_file(tenant_a, "invoice.html", HTML, "text/html")
    api = api_client_for(tenant_a.agent)
    listing = api.get(f"/api/v1/conversations/{message.conversation_id}/messages/").json()["results"]
    [shown] = [m for m in listing if m["id"] == message.pk]
    [attachment] = shown["attachments"]
    assert "stored_name" not in attachment and "url" not in attachment
    assert attachment["stored_url"].endswith(f"/api/v1/messages/{message.pk}/attachments/0/")
    response = api.get(attachment["stored_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_the_transcript_links_the_file_to_the_view_and_never_to_media(tenant_a: Tenant, web_client_for: Any) -> None:
    message = reply_with_file(tenant_a, "photo.png", images.image_bytes("PNG"), "image/png")
    page = web_client_for(tenant_a.agent).get(f"/o/{tenant_a.organization.slug}/inbox/{message.conversation_id}/")
    body = page.content.decode()
    assert f'src="{file_url(tenant_a, message)}"' in body
    assert "/media/" not in body and message.attachments[0]["stored_name"] not in body


# --- Who may see it ---------------------------------------------------------------------------------


def test_no_one_outside_the_conversation_gets_the_file(
    tenant_a: Tenant, tenant_b: Tenant, web_client_for: Any, client: Client
) -> None:
    message = reply_with_file(tenant_b, "invoice.html", HTML, "text/html")
    url = file_url(tenant_b, message)
    assert web_client_for(tenant_a.admin).get(url).status_code == 404
    assert web_client_for(tenant_a.admin).get(file_url(tenant_a, message)).status_code == 404
    not_on_channel = factories.make_member(tenant_b.organization, username="bravo-elsewhere")
    assert web_client_for(not_on_channel).get(url).status_code == 404
    api_url = f"/api/v1/messages/{message.pk}/attachments/0/"
    assert api_client_for(tenant_a.admin).get(api_url).status_code == 404
    assert api_client_for(not_on_channel).get(api_url).status_code == 404
    client.logout()
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert Client().get(api_url).status_code in (401, 403)


# --- The API takes a file --------------------------------------------------------------------------


def test_the_api_sends_a_file_in_multipart_and_the_message_carries_it(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = open_conversation(tenant_a)
    api = api_client_for(tenant_a.agent)
    png = images.image_bytes("PNG")
    with (
        mock.patch.object(sending_tasks.send_message, "delay", autospec=True) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api.post(
            f"/api/v1/conversations/{conversation.pk}/messages/",
            {"file": SimpleUploadedFile("receipt.png", png, content_type="image/png")},
            format="multipart",
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["kind"], body["status"], body["text"]) == ("attachment", "queued", "")
    [attachment] = body["attachments"]
    assert (attachment["type"], attachment["title"]) == ("image", "receipt.png")
    assert attachment["content_type"] == "image/png"
    assert attachment["size"] == len(png)
    assert body_of(api.get(attachment["stored_url"])) == png
    delay.assert_called_once_with(body["id"])
    listing = api.get(f"/api/v1/conversations/{conversation.pk}/messages/").json()["results"]
    assert listing[0]["id"] == body["id"] and listing[0]["attachments"][0]["title"] == "receipt.png"


def test_the_api_takes_text_as_a_form_too(tenant_a: Tenant) -> None:
    conversation = open_conversation(tenant_a)
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        response = api_client_for(tenant_a.agent).post(
            f"/api/v1/conversations/{conversation.pk}/messages/", {"text": "Hello"}, format="multipart"
        )
    assert response.status_code == 202, response.content
    assert response.json()["text"] == "Hello"


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        ({"file": SimpleUploadedFile("empty.txt", b"")}, 400, "invalid"),
        (
            {"file": SimpleUploadedFile("a.txt", b"data"), "text": "x" * (reply_rules.MAX_TEXT_LENGTH + 1)},
            400,
            "message_too_long",
        ),
    ],
)
def test_the_api_refuses_an_empty_file_and_a_file_with_a_text_too_long(
    tenant_a: Tenant, data: dict[str, Any], status: int, code: str
) -> None:
    conversation = open_conversation(tenant_a)
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        response = api_client_for(tenant_a.agent).post(
            f"/api/v1/conversations/{conversation.pk}/messages/", data, format="multipart"
        )
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def _send_from(surface: str, tenant: Tenant, client: Client, conversation: Conversation, text: str) -> int:
    data = {"text": text, "file": images.png("label.png")}
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        if surface == "api":
            url = f"/api/v1/conversations/{conversation.pk}/messages/"
            return api_client_for(tenant.agent).post(url, data, format="multipart").status_code
        client.force_login(tenant.agent.user)
        return client.post(f"/o/alpha/inbox/{conversation.pk}/send/", data, HTTP_HX_REQUEST="true").status_code


@pytest.mark.parametrize("surface", ["api", "inbox"])
def test_a_text_with_a_file_goes_as_the_file_then_the_text_from_the_api_and_the_inbox_alike(
    tenant_a: Tenant, client: Client, surface: str
) -> None:
    conversation = open_conversation(tenant_a)
    assert _send_from(surface, tenant_a, client, conversation, "Here is your label") in (200, 202)
    sent = Message.objects.filter(direction=Direction.OUTBOUND).order_by("id")
    assert [(m.kind, m.text, m.status) for m in sent] == [
        ("attachment", "", MessageStatus.QUEUED),
        ("text", "Here is your label", MessageStatus.QUEUED),
    ]
    assert sent[0].attachments[0]["title"] == "label.png"


@pytest.mark.parametrize("surface", ["api", "inbox"])
def test_a_text_too_long_with_a_file_refuses_both_from_the_api_and_the_inbox_alike(
    tenant_a: Tenant, client: Client, surface: str
) -> None:
    conversation = open_conversation(tenant_a)
    assert _send_from(surface, tenant_a, client, conversation, "x" * (reply_rules.MAX_TEXT_LENGTH + 1)) == 400
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_the_api_refuses_an_image_over_8_mb(tenant_a: Tenant) -> None:
    conversation = open_conversation(tenant_a)
    big = images.image_bytes("PNG") + b"\0" * (8 * 1024 * 1024)
    response = api_client_for(tenant_a.agent).post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"file": SimpleUploadedFile("big.png", big, content_type="image/png")},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "attachment_too_large"


def test_the_schema_documents_the_multipart_reply_with_its_file_field(tenant_a: Tenant) -> None:
    schema = api_client_for(tenant_a.agent).get("/api/schema/?format=json")
    operation = schema.json()["paths"]["/api/v1/conversations/{id}/messages/"]["post"]
    multipart = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    ref = multipart["$ref"].rsplit("/", 1)[-1]
    component = schema.json()["components"]["schemas"][ref]
    assert component["properties"]["file"]["format"] == "binary"


def test_no_stored_attachment_carries_an_address_of_ours(tenant_a: Tenant) -> None:
    message = reply_with_file(tenant_a, "a.pdf", b"%PDF-1.4", "application/pdf")
    assert "http" not in json.dumps(message.attachments)
    assert Message.objects.get(pk=message.pk).status == MessageStatus.QUEUED


# --- Files sent before: their /media/ address becomes a storage name ------------------------------


def test_files_sent_with_a_media_address_are_served_by_the_view_after_the_migration(
    tenant_a: Tenant, web_client_for: Any
) -> None:
    migration = importlib.import_module("messenger.migrations.0009_outbound_files_by_view")
    conversation = open_conversation(tenant_a)
    stored_name = default_storage.save(
        f"messenger/outbound/{tenant_a.organization.pk}/0a1b2c/old invoice.pdf", ContentFile(b"%PDF-1.4")
    )
    legacy = factories.make_message(
        conversation,
        text="",
        direction=Direction.OUTBOUND,
        kind="attachment",
        attachments=[
            {
                "type": "file",
                "url": f"https://desk.example.com/media/{quote(stored_name)}",
                "title": "old invoice.pdf",
                "size": 8,
                "content_type": "application/pdf",
            }
        ],
    )
    inbound = factories.make_message(
        conversation, text="", kind="attachment", attachments=[{"type": "image", "url": "https://cdn.example/p.jpg"}]
    )
    migration.outbound_urls_to_stored_names(apps, None)
    migration.outbound_urls_to_stored_names(apps, None)  # a second run changes nothing

    legacy.refresh_from_db()
    inbound.refresh_from_db()
    assert legacy.attachments == [
        {
            "type": "file",
            "stored_name": stored_name,
            "title": "old invoice.pdf",
            "size": 8,
            "content_type": "application/pdf",
        }
    ]
    assert inbound.attachments == [{"type": "image", "url": "https://cdn.example/p.jpg"}]
    response = web_client_for(tenant_a.agent).get(file_url(tenant_a, legacy))
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
