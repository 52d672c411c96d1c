"""Inbound attachments kept in our storage: the download task against the sandbox's CDN over
real HTTP, the catch-up, the serving views (isolation and headers) and the transcripts."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
import urllib3.util.connection
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.utils import timezone

from helpdesk import netfetch
from helpdesk.models import Role
from messenger import tasks
from messenger.models import Direction, FacebookPage, Message, MessageKind, WebhookEvent, WebhookOutcome
from messenger.sandbox.views.simulator import SAMPLE_FILE_NAME, SAMPLE_FILE_TEXT
from messenger.services.attachments import fetching, storage
from messenger.services.attachments.catch_up import attachments_catch_up
from messenger.services.attachments.downloads import message_attachments_download
from tests import factories
from tests.channels.images import image_bytes
from tests.conftest import Tenant, api_client_for
from tests.messenger.fixtures import PAGE_ID, PSID, no_broker_pause, page, page_body, post_webhook

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# A whole PNG: what is served is decided from the bytes, which the magic alone is not.
PNG = image_bytes("PNG")
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement path is PostgreSQL's")


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


__all__ = ["no_broker_pause", "page"]
pytestmark = pytest.mark.usefixtures("no_broker_pause")


@pytest.fixture
def cdn(live_server: Any, settings: Any) -> str:
    """The sandbox's stand-in for Facebook's CDN, over real HTTP (the sandbox's own origin is
    the one plain-http, loopback address the downloader fetches)."""
    settings.ALLOWED_HOSTS = ["*"]
    settings.GRAPH_SANDBOX = True
    settings.PUBLIC_URL = live_server.url
    return f"{live_server.url}/sandbox/cdn"


def attachment_message(page: FacebookPage, *entries: dict[str, Any], **fields: Any) -> Message:
    conversation = factories.make_conversation(page, factories.make_contact(page))
    return factories.make_message(
        conversation, text="", kind=MessageKind.ATTACHMENT, attachments=list(entries), **fields
    )


def stored(organization: Any, name: str, content: bytes, content_type: str, **entry: Any) -> dict[str, Any]:
    stored_name = default_storage.save(f"messenger/inbound/{organization.pk}/1/0-abc-{name}", ContentFile(content))
    return {
        "type": "file",
        "url": "https://cdn.example/x",
        "stored_name": stored_name,
        "size": len(content),
        "content_type": content_type,
        **entry,
    }


# --- Downloading -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_image_and_a_file_are_downloaded_and_stored_under_the_organization_and_message(
    page: FacebookPage, cdn: str
) -> None:
    message = attachment_message(
        page,
        {"type": "image", "url": f"{cdn}/photo.png"},
        {"type": "file", "url": f"{cdn}/files/{SAMPLE_FILE_NAME}?_nc_cat=1"},
        {"type": "location", "lat": 35.6, "long": 139.7},
    )
    assert message_attachments_download(message_id=message.pk) == 2
    message.refresh_from_db()
    image, file, location = message.attachments
    prefix = f"messenger/inbound/{page.organization_id}/{message.pk}/"
    assert image["stored_name"].startswith(prefix) and image["stored_name"].endswith(".png")
    assert image["content_type"] == "image/png" and image["url"] == f"{cdn}/photo.png"
    with default_storage.open(image["stored_name"]) as handle:
        assert handle.read(8) == PNG_MAGIC
    assert image["size"] == default_storage.size(image["stored_name"])
    assert file["stored_name"].startswith(prefix) and file["stored_name"].endswith(SAMPLE_FILE_NAME)
    # Typed from its bytes: a text file is a neutral download whatever the CDN said.
    assert file["content_type"] == "application/octet-stream"
    assert file["size"] == len(SAMPLE_FILE_TEXT.encode())
    assert location == {"type": "location", "lat": 35.6, "long": 139.7}
    assert message.attachments_tried_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_second_run_downloads_nothing_again(page: FacebookPage, cdn: str) -> None:
    message = attachment_message(page, {"type": "image", "url": f"{cdn}/photo.png"})
    tasks.attachments_download.apply(args=(message.pk,))
    message.refresh_from_db()
    first = message.attachments
    with mock.patch.object(netfetch, "fetch", autospec=True) as fetch:
        tasks.attachments_download.apply(args=(message.pk,))
    fetch.assert_not_called()
    message.refresh_from_db()
    assert message.attachments == first
    assert len(default_storage.listdir(f"messenger/inbound/{page.organization_id}/{message.pk}")[1]) == 1


@pytest.mark.django_db(transaction=True)
def test_a_file_larger_than_the_limit_is_not_kept_and_says_why(page: FacebookPage, cdn: str, monkeypatch: Any) -> None:
    monkeypatch.setattr(fetching, "MAX_DOWNLOAD_BYTES", 100)
    message = attachment_message(page, {"type": "image", "url": f"{cdn}/photo.png"})
    with mock.patch.object(tasks.attachments_download, "retry", autospec=True) as retry:
        tasks.attachments_download.apply(args=(message.pk,))
    retry.assert_not_called()
    message.refresh_from_db()
    [entry] = message.attachments
    assert "stored_name" not in entry
    assert entry["download_error_code"] == "too_large"
    assert "25 MB" in entry["download_error"]


@pytest.mark.django_db(transaction=True)
def test_a_file_the_cdn_no_longer_has_is_recorded_and_not_retried(page: FacebookPage, cdn: str) -> None:
    message = attachment_message(page, {"type": "image", "url": f"{cdn}/expired.png"})
    with mock.patch.object(tasks.attachments_download, "retry", autospec=True) as retry:
        tasks.attachments_download.apply(args=(message.pk,))
    retry.assert_not_called()
    message.refresh_from_db()
    [entry] = message.attachments
    assert entry["download_error_code"] == "not_found"
    assert "404" in entry["download_error"]


@pytest.mark.django_db(transaction=True)
def test_a_timeout_is_retried_and_the_next_try_stores_the_file(page: FacebookPage, cdn: str) -> None:
    message = attachment_message(page, {"type": "image", "url": f"{cdn}/photo.png"})
    real_fetch = netfetch.fetch
    calls = []

    def slow_once(url: str, **kwargs: Any) -> Any:
        calls.append(url)
        if len(calls) == 1:
            raise netfetch.FetchUnavailable("ReadTimeoutError")
        return real_fetch(url, **kwargs)

    with mock.patch.object(netfetch, "fetch", autospec=True, side_effect=slow_once):
        # Applied eagerly, the retry runs at once (its countdown is not waited for).
        tasks.attachments_download.apply(args=(message.pk,), throw=False)
    assert len(calls) == 2
    message.refresh_from_db()
    assert message.attachments[0]["content_type"] == "image/png"


@pytest.mark.django_db
def test_a_server_error_asks_for_a_retry_with_backoff(page: FacebookPage) -> None:
    message = attachment_message(page, {"type": "video", "url": "https://cdn.example/v.mp4"})
    answer = netfetch.Fetched(status=503, headers={}, url="https://cdn.example/v.mp4", size=0)
    with (
        mock.patch.object(netfetch, "fetch", autospec=True, return_value=answer),
        mock.patch.object(
            tasks.attachments_download, "retry", autospec=True, side_effect=RuntimeError("retry")
        ) as retry,
        pytest.raises(RuntimeError, match="retry"),
    ):
        tasks.attachments_download.apply(args=(message.pk,), throw=True)
    assert retry.call_args.kwargs["countdown"] == 30
    message.refresh_from_db()
    assert "download_error" not in message.attachments[0]


@pytest.mark.django_db
def test_after_the_last_retry_the_file_is_marked_unavailable(page: FacebookPage) -> None:
    message = attachment_message(page, {"type": "audio", "url": "https://cdn.example/a.mp4"})
    with mock.patch.object(netfetch, "fetch", autospec=True, side_effect=netfetch.FetchUnavailable("no")):
        tasks.attachments_download.apply(args=(message.pk,), retries=tasks.ATTACHMENT_MAX_RETRIES)
    message.refresh_from_db()
    assert message.attachments[0]["download_error_code"] == "unavailable"


@pytest.mark.django_db
def test_stickers_links_and_non_web_addresses_are_not_downloaded(page: FacebookPage) -> None:
    message = attachment_message(
        page,
        {"type": "image", "url": "https://cdn.example/like.png", "sticker_id": "369239263222822"},
        {"type": "fallback", "url": "https://example.com", "title": "A link"},
        {"type": "file", "url": "ftp://cdn.example/x.bin"},
    )
    with mock.patch.object(netfetch, "fetch", autospec=True) as fetch:
        message_attachments_download(message_id=message.pk)
    fetch.assert_not_called()
    message.refresh_from_db()
    assert [a.get("download_error_code") for a in message.attachments] == [None, None, "bad_url"]


def test_customer_file_names_are_sanitized() -> None:
    name = storage.safe_file_name(
        {"type": "file", "url": "https://cdn.example/v/..%2F..%2Fetc%2Fpasswd", "title": "../../<script>.html"},
        content_type="text/html",
    )
    assert "/" not in name and ".." not in name and "<" not in name
    assert storage.safe_file_name({"type": "image", "url": "https://cdn.example/"}, content_type="image/png") in (
        "image.png",
    )


# --- Queued after the webhook, and the catch-up ----------------------------------------------

PHOTO_ITEM = {
    "sender": {"id": PSID},
    "recipient": {"id": PAGE_ID},
    "timestamp": 1767225600000,
    "message": {"mid": "m_photo", "attachments": [{"type": "image", "payload": {"url": "https://cdn.example/p.jpg"}}]},
}


@pytest.mark.django_db
def test_the_webhook_queues_the_download_after_commit(
    client: Client, page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    factories.make_conversation(page, factories.make_contact(page, psid=PSID))
    item = PHOTO_ITEM
    text = {**item, "message": {"mid": "m_text", "text": "hello"}}
    with (
        mock.patch.object(tasks.attachments_download, "delay", autospec=True) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert post_webhook(client, page_body((PAGE_ID, [item, text]))).status_code == 200
    delay.assert_called_once_with(Message.objects.get(mid="m_photo").pk)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_one_statement_path_queues_the_download_too(page: FacebookPage) -> None:
    """As in production: the one-statement path commits by itself, with no test transaction
    around it, and still tells which messages it inserted."""
    factories.make_conversation(page, factories.make_contact(page, psid=PSID))
    item = PHOTO_ITEM
    with mock.patch.object(tasks.attachments_download, "delay", autospec=True) as delay:
        assert post_webhook(Client(), page_body((PAGE_ID, [item]))).status_code == 200
        delay.assert_called_once_with(Message.objects.get(mid="m_photo").pk)
        delay.reset_mock()
        assert post_webhook(Client(), page_body((PAGE_ID, [item]))).status_code == 200  # a duplicate
        delay.assert_not_called()


@pytest.mark.django_db
def test_the_catch_up_queues_downloads_never_tried_once(page: FacebookPage) -> None:
    untried = attachment_message(page, {"type": "image", "url": "https://cdn.example/p.jpg"})
    location_only = attachment_message(page, {"type": "location", "lat": 1.0, "long": 2.0})
    tried = attachment_message(page, {"type": "image", "url": "https://cdn.example/q.jpg"})
    recent = attachment_message(page, {"type": "image", "url": "https://cdn.example/r.jpg"})
    earlier = timezone.now() - timedelta(minutes=5)
    Message.objects.filter(pk__in=[untried.pk, location_only.pk, tried.pk]).update(received_at=earlier)
    Message.objects.filter(pk=tried.pk).update(attachments_tried_at=earlier)
    with mock.patch.object(tasks.attachments_download, "delay", autospec=True) as delay:
        assert attachments_catch_up() == 1
        assert attachments_catch_up() == 0
    delay.assert_called_once_with(untried.pk)
    assert Message.objects.get(pk=location_only.pk).attachments_tried_at is not None
    assert Message.objects.get(pk=recent.pk).attachments_tried_at is None


@pytest.mark.django_db
def test_the_catch_up_leaves_the_messages_for_its_next_run_when_the_broker_is_down(page: FacebookPage) -> None:
    message = attachment_message(page, {"type": "image", "url": "https://cdn.example/p.jpg"})
    Message.objects.filter(pk=message.pk).update(received_at=timezone.now() - timedelta(minutes=5))
    with mock.patch.object(tasks.attachments_download, "delay", autospec=True, side_effect=OSError("down")):
        assert attachments_catch_up() == 0
    assert Message.objects.get(pk=message.pk).attachments_tried_at is None


# --- Only safe addresses are fetched (helpdesk.netfetch) ------------------------------------


@pytest.fixture
def no_connection() -> Any:
    """Every connection attempt is recorded and refused: nothing leaves the machine."""
    with mock.patch.object(
        urllib3.util.connection, "create_connection", autospec=True, side_effect=ConnectionRefusedError("test")
    ) as create_connection:
        yield create_connection


@pytest.mark.django_db(transaction=True)
def test_internal_addresses_are_not_fetched_and_the_transcript_says_why_without_linking_them(
    page: FacebookPage, cdn: str, live_server: Any, tenant_a: Tenant, web_client_for: Any
) -> None:
    internal = [
        "https://169.254.169.254/latest/meta-data/iam.png",
        "https://2130706433/x.png",
        "https://[::ffff:127.0.0.1]/x.png",
        f"{live_server.url}/o/{tenant_a.organization.slug}/settings/",  # the sandbox's host, not its CDN
        "http://127.0.0.1:9/sandbox/cdn/photo.png",  # plain http elsewhere than the sandbox
    ]
    message = attachment_message(
        page, {"type": "image", "url": f"{cdn}/photo.png"}, *({"type": "image", "url": url} for url in internal)
    )
    with mock.patch.object(tasks.attachments_download, "retry", autospec=True) as retry:
        tasks.attachments_download.apply(args=(message.pk,))
    retry.assert_not_called()
    message.refresh_from_db()
    kept, *refused = message.attachments
    assert kept["content_type"] == "image/png"
    assert [entry.get("download_error_code") for entry in refused] == ["blocked"] * len(internal)
    assert all("stored_name" not in entry for entry in refused)
    assert "not a public internet address" in refused[0]["download_error"]

    body = (
        web_client_for(tenant_a.agent)
        .get(f"/o/{tenant_a.organization.slug}/inbox/{message.conversation_id}/")
        .content.decode()
    )
    assert body.count("is not one of Facebook") == len(internal)
    assert "169.254.169.254" not in body and "2130706433" not in body


@pytest.mark.django_db
def test_in_production_only_facebook_cdn_hosts_are_fetched_at_the_address_checked(
    page: FacebookPage, settings: Any, no_connection: Any
) -> None:
    settings.GRAPH_SANDBOX = False
    message = attachment_message(
        page,
        {"type": "image", "url": "https://evilfbcdn.net/x.png"},
        {"type": "image", "url": "https://cdn.example.com/x.png"},
        {"type": "image", "url": "https://scontent.xx.fbcdn.net/v/x.png"},
    )
    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("157.240.22.35", 443))]
    with (
        mock.patch.object(socket, "getaddrinfo", autospec=True, return_value=public) as getaddrinfo,
        pytest.raises(fetching.TransientDownloadError),
    ):
        message_attachments_download(message_id=message.pk)
    getaddrinfo.assert_called_once()
    assert getaddrinfo.call_args.args[0] == "scontent.xx.fbcdn.net"
    no_connection.assert_called_once()
    assert no_connection.call_args.args[0] == ("157.240.22.35", 443)
    message.refresh_from_db()
    assert [entry.get("download_error_code") for entry in message.attachments] == ["blocked", "blocked", None]


def test_in_development_the_sandbox_is_fetched_under_any_loopback_name_of_its_address(settings: Any) -> None:
    settings.GRAPH_SANDBOX = True
    settings.PUBLIC_URL = "http://127.0.0.1:8000"
    policy = fetching.fetch_policy()
    for url in ("http://127.0.0.1:8000/sandbox/cdn/photo.png", "http://localhost:8000/sandbox/cdn/photo.png"):
        assert netfetch.vet_url(url, policy=policy).trusted
    for url in ("http://localhost:8001/sandbox/cdn/photo.png", "http://localhost:8000/admin/"):
        with pytest.raises(netfetch.FetchRefused):
            netfetch.vet_url(url, policy=policy)


def test_the_production_host_list_is_a_setting(settings: Any) -> None:
    settings.GRAPH_SANDBOX = False
    settings.ATTACHMENT_HOST_SUFFIXES = ["cdn.example.com"]
    policy = fetching.fetch_policy()
    assert policy.host_suffixes == ("cdn.example.com",)
    assert policy.trusted_prefixes == ()
    assert policy.max_bytes == 25 * 1024 * 1024


# --- At most 10 files of a message, 50 of a POST -----------------------------------------------


def photo_item(mid: str, files: int, *, timestamp: int = 1767225600000) -> dict[str, Any]:
    return {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE_ID},
        "timestamp": timestamp,
        "message": {
            "mid": mid,
            "attachments": [
                {"type": "image", "payload": {"url": f"https://cdn.example/{mid}/{n}.jpg"}} for n in range(files)
            ],
        },
    }


def fetch_answering_a_png() -> Any:
    def answer(url: str, *, policy: Any, into: Any) -> netfetch.Fetched:
        into.write(PNG_MAGIC)
        return netfetch.Fetched(status=200, headers={"content-type": "image/png"}, url=url, size=len(PNG_MAGIC))

    return mock.patch.object(netfetch, "fetch", autospec=True, side_effect=answer)


def post_and_download(page: FacebookPage, items: list[dict[str, Any]]) -> mock.MagicMock:
    """POST the items as Facebook would, then run every download the POST queued; returns the
    fetcher's mock."""
    with mock.patch.object(tasks.attachments_download, "delay", autospec=True) as delay:
        assert post_webhook(Client(), page_body((PAGE_ID, items))).status_code == 200
    with fetch_answering_a_png() as fetch:
        for call in delay.call_args_list:
            message_attachments_download(message_id=call.args[0])
    return fetch


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("customer", ["known", "new"])  # on PostgreSQL: the one-statement path, the step-by-step one
def test_of_a_message_with_12_files_10_are_kept_and_2_are_not_with_the_reason(
    page: FacebookPage, customer: str
) -> None:
    if customer == "known":
        factories.make_conversation(page, factories.make_contact(page, psid=PSID))
    fetch = post_and_download(page, [photo_item("m_twelve", 12)])
    assert fetch.call_count == 10
    message = Message.objects.get(mid="m_twelve")
    codes = [entry.get("download_error_code") for entry in message.attachments]
    assert codes == [None] * 10 + ["too_many"] * 2
    assert all(entry.get("stored_name") for entry in message.attachments[:10])
    assert "first 10 files" in message.attachments[11]["download_error"]
    event = WebhookEvent.objects.get(mid="m_twelve")
    assert (event.outcome, event.reason) == (WebhookOutcome.STORED, "attachments_not_kept")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("customer", ["known", "new"])
def test_a_post_with_300_files_makes_at_most_50_requests(page: FacebookPage, customer: str) -> None:
    if customer == "known":
        factories.make_conversation(page, factories.make_contact(page, psid=PSID))
    items = [photo_item(f"m_many_{n:02d}", 10, timestamp=1767225600000 + n) for n in range(30)]
    fetch = post_and_download(page, items)
    assert fetch.call_count == 50
    entries = [entry for message in Message.objects.order_by("mid") for entry in message.attachments]
    assert len(entries) == 300
    assert sum(1 for entry in entries if entry.get("stored_name")) == 50
    assert sum(1 for entry in entries if entry.get("download_error_code") == "too_many") == 250
    assert set(WebhookEvent.objects.filter(mid__startswith="m_many_").values_list("reason", flat=True)) == {
        "",
        "attachments_not_kept",
    }
    # Nothing is left for the catch-up to fetch later.
    Message.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    with mock.patch.object(tasks.attachments_download, "delay", autospec=True) as delay:
        attachments_catch_up()
    delay.assert_not_called()


# --- Only customers' files --------------------------------------------------------------------


@pytest.mark.django_db
def test_the_catch_up_leaves_agents_own_uploads_alone(page: FacebookPage, settings: Any) -> None:
    conversation = factories.make_conversation(page, factories.make_contact(page))
    upload = {
        "type": "file",
        "url": f"{settings.PUBLIC_URL}/media/messenger/outbound/{page.organization_id}/abc/invoice.pdf",
        "title": "invoice.pdf",
        "size": 10,
        "content_type": "application/pdf",
    }
    sent = factories.make_message(
        conversation, text="", direction=Direction.OUTBOUND, kind=MessageKind.ATTACHMENT, attachments=[upload]
    )
    Message.objects.filter(pk=sent.pk).update(received_at=timezone.now() - timedelta(minutes=5))
    with (
        mock.patch.object(tasks.attachments_download, "delay", autospec=True) as delay,
        mock.patch.object(netfetch, "fetch", autospec=True) as fetch,
    ):
        assert attachments_catch_up() == 0
        assert message_attachments_download(message_id=sent.pk) == 0
    delay.assert_not_called()
    fetch.assert_not_called()
    sent.refresh_from_db()
    assert sent.attachments == [upload]


@pytest.mark.django_db
def test_a_file_the_page_sent_from_facebooks_inbox_is_not_downloaded(page: FacebookPage) -> None:
    factories.make_conversation(page, factories.make_contact(page, psid=PSID))
    echo = {
        "sender": {"id": PAGE_ID},
        "recipient": {"id": PSID},
        "timestamp": 1767225600000,
        "message": {
            "is_echo": True,
            "mid": "m_echo_file",
            "attachments": [{"type": "file", "payload": {"url": "https://cdn.example/echo.pdf"}}],
        },
    }
    with mock.patch.object(tasks.attachments_download, "delay", autospec=True) as delay:
        assert post_webhook(Client(), page_body((PAGE_ID, [echo]))).status_code == 200
    delay.assert_not_called()
    assert Message.objects.get(mid="m_echo_file").direction == Direction.OUTBOUND


# --- Serving ---------------------------------------------------------------------------------


def attachment_url(organization: Any, message: Message, index: int = 0) -> str:
    return f"/o/{organization.slug}/inbox/messages/{message.pk}/attachments/{index}/"


@pytest.mark.django_db
def test_an_agent_on_the_channel_gets_the_image_inline_with_nosniff(
    page: FacebookPage, tenant_a: Tenant, web_client_for: Any
) -> None:
    organization = tenant_a.organization
    message = attachment_message(page, stored(organization, "photo.png", PNG + b"rest", "image/png", type="image"))
    response = web_client_for(tenant_a.agent).get(attachment_url(organization, message))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG + b"rest"
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
@pytest.mark.parametrize("name,content_type", [("page.html", "text/html"), ("logo.svg", "image/svg+xml")])
def test_html_and_svg_are_served_as_a_download_never_inline(
    page: FacebookPage, tenant_a: Tenant, web_client_for: Any, name: str, content_type: str
) -> None:
    organization = tenant_a.organization
    script = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    message = attachment_message(page, stored(organization, name, script, content_type, type="image"))
    response = web_client_for(tenant_a.agent).get(attachment_url(organization, message))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_a_pdf_is_a_download_with_its_type(page: FacebookPage, tenant_a: Tenant, web_client_for: Any) -> None:
    organization = tenant_a.organization
    message = attachment_message(page, stored(organization, "invoice.pdf", b"%PDF-1.4", "application/pdf"))
    response = web_client_for(tenant_a.admin).get(attachment_url(organization, message))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="invoice.pdf"'


@pytest.mark.django_db
def test_no_one_else_gets_the_file(
    page: FacebookPage, tenant_a: Tenant, tenant_b: Tenant, web_client_for: Any, client: Client
) -> None:
    organization = tenant_a.organization
    message = attachment_message(page, stored(organization, "photo.png", PNG, "image/png", type="image"))
    url = attachment_url(organization, message)
    assert client.get(url).status_code == 302 and "/accounts/login/" in client.get(url)["Location"]
    not_on_channel = factories.make_member(organization, role=Role.AGENT, username="elsewhere")
    assert web_client_for(not_on_channel).get(url).status_code == 404
    assert web_client_for(tenant_b.admin).get(url).status_code == 404
    assert web_client_for(tenant_b.admin).get(attachment_url(tenant_b.organization, message)).status_code == 404
    assert web_client_for(tenant_a.agent).get(attachment_url(organization, message, 1)).status_code == 404


@pytest.mark.django_db
def test_an_attachment_not_downloaded_yet_is_not_found(
    page: FacebookPage, tenant_a: Tenant, web_client_for: Any
) -> None:
    message = attachment_message(page, {"type": "image", "url": "https://cdn.example/p.jpg"})
    assert web_client_for(tenant_a.agent).get(attachment_url(tenant_a.organization, message)).status_code == 404


# --- The API ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_gives_the_stored_copy_url_and_serves_it_with_the_token(
    page: FacebookPage, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    organization = tenant_a.organization
    message = attachment_message(
        page,
        stored(organization, "photo.png", PNG, "image/png", type="image"),
        {"type": "video", "url": "https://cdn.example/v.mp4"},
    )
    api = api_client_for(tenant_a.agent)
    listing = api.get(f"/api/v1/conversations/{message.conversation_id}/messages/")
    assert listing.status_code == 200, listing.content
    [shown] = [m for m in listing.json()["results"] if m["id"] == message.pk]
    image, video = shown["attachments"]
    assert "stored_name" not in image
    assert image["stored_url"].endswith(f"/api/v1/messages/{message.pk}/attachments/0/")
    assert video["stored_url"] is None and video["url"] == "https://cdn.example/v.mp4"
    download = api.get(image["stored_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "image/png"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert api_client_for(tenant_b.admin).get(image["stored_url"]).status_code == 404
    assert Client().get(image["stored_url"]).status_code in (401, 403)


# --- Transcripts -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_inbox_transcript_shows_our_copy_and_falls_back_to_facebook_before_the_download(
    page: FacebookPage, tenant_a: Tenant, web_client_for: Any
) -> None:
    organization = tenant_a.organization
    kept = attachment_message(page, stored(organization, "photo.png", PNG, "image/png", type="image"))
    pending = factories.make_message(
        kept.conversation,
        text="",
        kind=MessageKind.ATTACHMENT,
        attachments=[{"type": "image", "url": "https://cdn.example/pending.jpg"}],
    )
    response = web_client_for(tenant_a.agent).get(f"/o/{organization.slug}/inbox/{kept.conversation_id}/")
    body = response.content.decode()
    assert f'src="{attachment_url(organization, kept)}"' in body
    assert "https://cdn.example/x" not in body
    assert 'src="https://cdn.example/pending.jpg"' in body
    assert pending.pk
