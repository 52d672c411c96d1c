"""The Attachment Upload API (``POST /{page-id}/message_attachments``) and multipart sends,
over real HTTP: the file travels in the request, its limits and refusals are Facebook's,
the bytes are kept as they arrived, and sends name uploads by attachment_id."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from messenger.graph import GraphError
from messenger.sandbox import customers, people, selectors, uploads, webhooks
from messenger.sandbox.models import SandboxSendCall, SandboxUpload
from messenger.sandbox.selectors import customer_thread
from tests.channels import images
from tests.sandbox.conftest import VERSION, Receiver, Sandbox

pytestmark = pytest.mark.django_db(transaction=True)

PNG = images.image_bytes("PNG")


def _customer(sandbox: Sandbox) -> str:
    customer = customers.sandbox_customer_create(page_id=sandbox.page.page_id, first_name="Cy", last_name="Ng")
    customers.sandbox_customer_message(
        page_id=sandbox.page.page_id, psid=customer.psid, text="Hello", timestamp_ms=int(time.time() * 1000)
    )
    return customer.psid


def _token(sandbox: Sandbox) -> str:
    return people.sandbox_page_token_issue(page_id=sandbox.page.page_id)


def _upload(
    sandbox: Sandbox, *, message: dict[str, Any] | None, files: dict[str, Any] | None, token: str | None = None
) -> requests.Response:
    """Always multipart/form-data: the ``message`` field as a part without a file name."""
    url = f"{sandbox.graph_url}/{VERSION}/{sandbox.page.page_id}/message_attachments"
    parts: dict[str, Any] = {"note": (None, "x")}
    if message is not None:
        parts["message"] = (None, json.dumps(message))
    return requests.post(
        url, params={"access_token": token or _token(sandbox)}, files={**parts, **(files or {})}, timeout=5
    )


def _image_message(attachment_type: str = "image") -> dict[str, Any]:
    return {"attachment": {"type": attachment_type, "payload": {"is_reusable": True}}}


def test_an_uploaded_image_is_kept_byte_for_byte_and_answered_with_an_attachment_id(sandbox: Sandbox) -> None:
    attachment_id = sandbox.client.upload_attachment(
        page_id=sandbox.page.page_id,
        page_token=_token(sandbox),
        attachment_type="image",
        file_name="photo.png",
        content_type="image/png",
        content=PNG,
    )
    [upload] = selectors.sandbox_uploads(page_id=sandbox.page.page_id)
    assert upload.attachment_id == attachment_id
    assert bytes(upload.data) == PNG
    assert (upload.attachment_type, upload.file_name, upload.content_type) == ("image", "photo.png", "image/png")
    assert upload.is_reusable is True


def test_a_send_by_attachment_id_reaches_the_customer_who_sees_the_sandboxs_copy(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    psid = _customer(sandbox)
    token = _token(sandbox)
    attachment_id = sandbox.client.upload_attachment(
        page_id=sandbox.page.page_id,
        page_token=token,
        attachment_type="image",
        file_name="photo.png",
        content_type="image/png",
        content=PNG,
    )
    result = sandbox.client.send_message(
        page_id=sandbox.page.page_id,
        page_token=token,
        recipient_psid=psid,
        message={"attachment": {"type": "image", "payload": {"attachment_id": attachment_id}}},
    )
    assert result.message_id.startswith("m_")

    # The simulator shows the file from the sandbox's own copy, not from any product address.
    [item] = [i for i in customer_thread(customer=sandbox.page.customers.get(psid=psid)).items if i.outgoing]
    shown_url = item.attachments[0]["payload"]["url"]
    assert shown_url == f"/sandbox/cdn/uploads/{attachment_id}"
    served = requests.get(sandbox.base_url.removesuffix("/sandbox") + shown_url, timeout=5)
    assert (served.status_code, served.headers["Content-Type"], served.content) == (200, "image/png", PNG)
    assert served.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"

    # The echo carries the file at the sandbox's CDN, as Facebook's echo carries its own.
    receiver.requests.clear()
    webhooks.flush_webhooks()
    echo = json.loads(receiver.posts()[0].body)["entry"][0]["messaging"][0]["message"]
    assert echo["attachments"] == [
        {"type": "image", "payload": {"url": f"{sandbox.base_url}/cdn/uploads/{attachment_id}"}}
    ]


def test_a_multipart_send_uploads_and_sends_in_one_call(sandbox: Sandbox) -> None:
    psid = _customer(sandbox)
    url = f"{sandbox.graph_url}/{VERSION}/{sandbox.page.page_id}/messages"
    form = {
        "recipient": json.dumps({"id": psid}),
        "messaging_type": "RESPONSE",
        "message": json.dumps({"attachment": {"type": "file", "payload": {"is_reusable": False}}}),
    }
    files = {"filedata": ("notes.pdf", b"%PDF-1.4 notes", "application/pdf")}
    response = requests.post(url, params={"access_token": _token(sandbox)}, data=form, files=files, timeout=5)
    assert response.status_code == 200, response.text
    [upload] = selectors.sandbox_uploads(page_id=sandbox.page.page_id)
    assert (bytes(upload.data), upload.content_type, upload.is_reusable) == (
        b"%PDF-1.4 notes",
        "application/pdf",
        False,
    )
    call = selectors.sandbox_sent_messages(page_id=sandbox.page.page_id, psid=psid)[-1]
    assert call.request_body["message"]["attachment"]["payload"]["attachment_id"] == upload.attachment_id


def _error(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    return response.json()["error"]


def test_an_upload_without_filedata_is_refused_with_error_100(sandbox: Sandbox) -> None:
    error = _error(_upload(sandbox, message=_image_message(), files=None))
    assert (error["code"], error["error_subcode"]) == (100, uploads.UPLOAD_FAILURE_SUBCODE)
    assert "filedata" in error["message"]
    assert error["type"] == "OAuthException" and error["fbtrace_id"]
    assert not SandboxUpload.objects.exists()


def test_an_upload_without_message_or_with_an_unknown_type_is_refused(sandbox: Sandbox) -> None:
    files = {"filedata": ("photo.png", PNG, "image/png")}
    assert "message" in _error(_upload(sandbox, message=None, files=files))["message"]
    assert _error(_upload(sandbox, message=_image_message("template"), files=files))["code"] == 100


def test_an_image_over_8_mb_and_a_file_over_25_mb_are_refused(sandbox: Sandbox, monkeypatch: Any) -> None:
    # The limits, scaled down so the test does not move 25 MB (the live server is in this process).
    monkeypatch.setattr(uploads, "MAX_IMAGE_UPLOAD_BYTES", len(PNG) - 1)
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 100)
    too_big_image = _error(_upload(sandbox, message=_image_message(), files={"filedata": ("a.png", PNG, "image/png")}))
    assert too_big_image["code"] == 100 and "size exceeds" in too_big_image["message"]
    too_big_file = _error(
        _upload(sandbox, message=_image_message("file"), files={"filedata": ("a.bin", b"x" * 101, "text/plain")})
    )
    assert too_big_file["code"] == 100 and "size exceeds" in too_big_file["message"]
    fits = _upload(sandbox, message=_image_message("file"), files={"filedata": ("a.bin", b"x" * 100, "text/plain")})
    assert fits.status_code == 200 and fits.json()["attachment_id"]


def test_the_real_limits_are_facebooks() -> None:
    assert (uploads.MAX_UPLOAD_BYTES, uploads.MAX_IMAGE_UPLOAD_BYTES) == (25 * 1024 * 1024, 8 * 1024 * 1024)


def test_an_image_upload_that_is_not_an_image_is_refused(sandbox: Sandbox) -> None:
    files = {"filedata": ("cat.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png")}
    error = _error(_upload(sandbox, message=_image_message(), files=files))
    assert error["code"] == 100 and "not a valid image" in error["message"]


def test_an_empty_file_is_refused(sandbox: Sandbox) -> None:
    error = _error(_upload(sandbox, message=_image_message("file"), files={"filedata": ("e.txt", b"", "text/plain")}))
    assert error["code"] == 100 and "empty" in error["message"]


def test_a_json_body_is_not_an_upload(sandbox: Sandbox) -> None:
    url = f"{sandbox.graph_url}/{VERSION}/{sandbox.page.page_id}/message_attachments"
    response = requests.post(url, params={"access_token": _token(sandbox)}, json=_image_message(), timeout=5)
    assert _error(response)["code"] == 100


def test_an_upload_needs_the_pages_own_token(sandbox: Sandbox) -> None:
    other = people.sandbox_page_create(user=sandbox.user, name="Other", page_id="200000000000002")
    files = {"filedata": ("photo.png", PNG, "image/png")}
    wrong = people.sandbox_page_token_issue(page_id=other.page_id)
    response = _upload(sandbox, message=_image_message(), files=files, token=wrong)
    assert response.json()["error"]["code"] == 190
    with pytest.raises(GraphError) as caught:
        sandbox.client.upload_attachment(
            page_id=sandbox.page.page_id,
            page_token="not-a-token",
            attachment_type="image",
            file_name="p.png",
            content_type="image/png",
            content=PNG,
        )
    assert caught.value.code == 190


def test_sending_an_attachment_id_the_page_never_uploaded_is_refused(sandbox: Sandbox) -> None:
    psid = _customer(sandbox)
    other = people.sandbox_page_create(user=sandbox.user, name="Other", page_id="200000000000002")
    theirs = _upload(
        sandbox,
        message=_image_message(),
        files={"filedata": ("p.png", PNG, "image/png")},
        token=people.sandbox_page_token_issue(page_id=other.page_id),
    )
    assert theirs.status_code == 400  # another page's token on this page's URL
    other_upload = SandboxUpload.objects.create(
        attachment_id="9999", page=other, attachment_type="image", content_type="image/png", size=1, data=b"x"
    )
    for attachment_id in ("1234567890", other_upload.attachment_id):
        with pytest.raises(GraphError) as caught:
            sandbox.client.send_message(
                page_id=sandbox.page.page_id,
                page_token=_token(sandbox),
                recipient_psid=psid,
                message={"attachment": {"type": "image", "payload": {"attachment_id": attachment_id}}},
            )
        assert caught.value.code == 100 and "does not exist" in caught.value.message
    assert not SandboxSendCall.objects.filter(http_status=200, psid=psid).exists()


def test_sending_an_upload_as_another_type_is_refused(sandbox: Sandbox) -> None:
    psid = _customer(sandbox)
    token = _token(sandbox)
    attachment_id = sandbox.client.upload_attachment(
        page_id=sandbox.page.page_id,
        page_token=token,
        attachment_type="file",
        file_name="a.pdf",
        content_type="application/pdf",
        content=b"%PDF-1.4",
    )
    with pytest.raises(GraphError) as caught:
        sandbox.client.send_message(
            page_id=sandbox.page.page_id,
            page_token=token,
            recipient_psid=psid,
            message={"attachment": {"type": "image", "payload": {"attachment_id": attachment_id}}},
        )
    assert caught.value.code == 100
