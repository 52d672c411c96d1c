# The sandbox fixtures are imported from tests.channels.facebook; their names are parameters below.
# ruff: noqa: F811
"""An agent's file from the inbox to the customer, end to end: against the Graph sandbox over
real HTTP in development, and with the production profile's URL map (no sandbox, no media
route, DEBUG off) against a scripted Graph API, where icons and downloads still work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from channels import services as channel_services
from messenger.models import Contact, Conversation, Direction, Message, MessageStatus
from messenger.sandbox import customers, people, selectors, webhooks
from messenger.services.sending import delivery, replies
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.channels import images
from tests.channels.facebook import DEMO_PAGE, Facebook, facebook  # noqa: F401 (fixtures)
from tests.conftest import Tenant
from tests.graph_stub import GraphStub, graph  # noqa: F401 (fixture)
from tests.urlconf import urls_of

ROOT = Path(__file__).resolve().parents[2]
PNG = images.image_bytes("PNG")


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings.MEDIA_ROOT


# --- Development: the Graph sandbox over real HTTP ------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_agents_file_reaches_the_customer_as_an_upload_without_any_address_of_ours(
    facebook: Facebook, tenant_a: Tenant, settings: Any
) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Demo Messenger")
    factories.make_page(channel, page_id=DEMO_PAGE, token=people.sandbox_page_token_issue(page_id=DEMO_PAGE))
    customer = customers.sandbox_customer_create(page_id=DEMO_PAGE, first_name="Hana", last_name="Sato")
    written = customers.sandbox_customer_message(page_id=DEMO_PAGE, psid=customer.psid, text="Send me the receipt")
    assert written["status"] == 200
    conversation = Conversation.objects.get(contact=Contact.objects.get(psid=customer.psid))

    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        message = replies.message_send(
            organization=tenant_a.organization,
            acting_user=tenant_a.admin.user,
            conversation=conversation,
            upload=SimpleUploadedFile("receipt.png", PNG, content_type="image/png"),
        )
    assert delivery.message_deliver(message_id=message.pk) is None
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT

    [upload] = selectors.sandbox_uploads(page_id=DEMO_PAGE)
    assert bytes(upload.data) == PNG  # the bytes arrived in the upload itself
    assert (upload.attachment_type, upload.file_name, upload.content_type) == ("image", "receipt.png", "image/png")
    assert message.attachments[0]["attachment_id"] == upload.attachment_id
    [call] = selectors.sandbox_sent_messages(page_id=DEMO_PAGE, psid=customer.psid)
    assert call.request_body["message"] == {
        "attachment": {"type": "image", "payload": {"attachment_id": upload.attachment_id}}
    }
    sent = json.dumps(call.request_body)
    assert "url" not in sent and facebook.url not in sent and "/media/" not in sent

    # The echo (carrying the sandbox's CDN address) settles the message; no second row appears.
    assert webhooks.outbound_flush() == 2
    outbound = Message.objects.filter(conversation=conversation, direction=Direction.OUTBOUND)
    assert list(outbound.values_list("pk", "status")) == [(message.pk, MessageStatus.DELIVERED)]


# --- Production: DEBUG off, no sandbox, no media route --------------------------------------------


def test_the_production_url_map_has_no_media_and_no_sandbox_route_but_serves_files_by_view() -> None:
    """The production profile, read from the environment in a process of its own."""
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "HELPDESK_"))},
        "HELPDESK_ENV": "production",
        "SECRET_KEY": "k3y-" + "abcdefghij" * 6,
        "ALLOWED_HOSTS": "helpdesk.example",
        "PUBLIC_URL": "https://helpdesk.example",
        "DATABASE_URL": "postgres://u:p@db/hd",
        "REDIS_URL": "redis://cache:6379/0",
        "FB_APP_ID": "1",
        "FB_APP_SECRET": "s",
        "FB_VERIFY_TOKEN": "v",
        "TOKEN_ENCRYPTION_KEYS": "ZGV2LW9ubHktdG9rZW4ta2V5LTAxMjM0NTY3ODlhYmM=",
    }
    code = """
import json, django
django.setup()
from django.conf import settings
from django.urls import Resolver404, resolve
def view(path):
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return f"{match.func.__module__}.{match.func.__name__}"
print(json.dumps({
    "debug": settings.DEBUG,
    "sandbox": settings.GRAPH_SANDBOX,
    "media": view("/media/messenger/outbound/1/0123456789abcdef"),
    "icon_media": view("/media/channel-icons/x.png"),
    "sandbox_graph": view("/sandbox/graph/v21.0/1/message_attachments"),
    "file": view("/o/acme/inbox/messages/1/attachments/0/"),
    "icon": view("/o/acme/settings/channels/1/icon/"),
}))
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**environ, "DJANGO_SETTINGS_MODULE": "settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    routes = json.loads(result.stdout.strip().splitlines()[-1])
    assert (routes["debug"], routes["sandbox"]) == (False, False)
    assert routes["media"] is None and routes["icon_media"] is None and routes["sandbox_graph"] is None
    assert routes["file"] == "messenger.views.attachments.message_attachment"
    assert routes["icon"] == "channels.views.channel_icon"


@pytest.mark.django_db
def test_with_the_production_profile_files_go_up_as_uploads_and_icons_and_downloads_are_served(
    tenant_a: Tenant, graph: GraphStub, settings: Any, web_client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with urls_of(settings, debug=False, sandbox=False):
        settings.PUBLIC_URL = "https://helpdesk.example"
        channel = channel_services.channel_create(
            organization=tenant_a.organization,
            acting_user=tenant_a.admin.user,
            name="Support chat",
            department_id=tenant_a.department.pk,
            icon=images.png(),
        )
        factories.associate(tenant_a.agent, channel)
        page = factories.make_page(channel, page_id="333444555")
        conversation = factories.make_conversation(page, factories.make_contact(page, psid="PSID-7"))
        factories.make_message(conversation, text="Hello")
        agent = web_client_for(tenant_a.agent)

        # The agent sends a file from the inbox's composer; the task sends it.
        with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
            response = agent.post(
                f"/o/alpha/inbox/{conversation.pk}/send/",
                {"text": "", "file": SimpleUploadedFile("invoice.html", b"<script>alert(1)</script>", "text/html")},
            )
        assert response.status_code in (200, 302)
        message = Message.objects.get(conversation=conversation, direction=Direction.OUTBOUND)
        delivery.message_deliver(message_id=message.pk)
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT

        [uploaded] = graph.uploads()
        assert uploaded.content_type.startswith("multipart/form-data")
        assert uploaded.files["filedata"].data == b"<script>alert(1)</script>"
        assert uploaded.json["message"]["attachment"]["type"] == "file"
        [sent] = graph.sends()
        assert "url" not in json.dumps(sent) and "helpdesk.example" not in json.dumps(sent)

        # Downloads and icons work through the views; nothing under /media/ or /sandbox/.
        download = agent.get(f"/o/alpha/inbox/messages/{message.pk}/attachments/0/")
        assert (download.status_code, download["Content-Type"]) == (200, "application/octet-stream")
        assert download["Content-Security-Policy"] == "sandbox; default-src 'none'"
        icon = agent.get(f"/o/alpha/settings/channels/{channel.pk}/icon/")
        assert (icon.status_code, icon["Content-Type"]) == (200, "image/png")
        inbox = agent.get("/o/alpha/inbox/").content.decode()
        assert f"/o/alpha/settings/channels/{channel.pk}/icon/?v=" in inbox and "/media/" not in inbox
        stored_name = message.attachments[0]["stored_name"]
        assert agent.get(f"/media/{stored_name}").status_code == 404
        assert Client().get(f"/media/{channel.icon.name}").status_code == 404
        assert Client().get("/sandbox/").status_code == 404
