# The sandbox fixtures are imported from tests.channels.facebook; their names are parameters below.
# ruff: noqa: F811
"""Meta's data deletion callback: a signed request made the way Meta makes it (built here with
hmac and base64, independently of the product) erases the person's page tokens and the record
that they authorized pages; forged, expired or malformed ones erase nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from django.test import Client

from helpdesk.models import Notification
from messenger.crypto import decrypt_token
from messenger.graph import PageAccount
from messenger.models import FacebookPage, PageStatus, ReauthorizationReason
from messenger.pages import linking
from messenger.sandbox.deletions import sandbox_data_deletion_request
from messenger.sandbox.people import sandbox_page_token_issue
from privacy.models import AuditEntry, DataDeletionRequest
from tests import factories
from tests.channels.facebook import DEMO_PAGE, Facebook, facebook  # noqa: F401
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db

URL = "/messenger/data-deletion/"
SECRET = "test-app-secret"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def meta_signed_request(payload: dict[str, Any], secret: str = SECRET) -> str:
    encoded = _b64(json.dumps(payload).encode())
    signature = hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest()
    return f"{_b64(signature)}.{encoded}"


def _payload(user_id: str = "10203040", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"algorithm": "HMAC-SHA256", "expires": now + 3600, "issued_at": now, "user_id": user_id, **overrides}


@pytest.fixture
def app_secret(settings: Any) -> str:
    settings.FB_APP_SECRET = SECRET
    return SECRET


@pytest.fixture
def linked(tenant_a: Tenant, tenant_b: Tenant) -> dict[str, FacebookPage]:
    channel_a = factories.make_channel(tenant_a.organization, tenant_a.department)
    channel_b = factories.make_channel(tenant_b.organization, tenant_b.department)
    return {
        "mine": factories.make_page(channel_a, name="Alpha shop", authorized_by_facebook_user="10203040"),
        "mine_elsewhere": factories.make_page(channel_b, name="Bravo shop", authorized_by_facebook_user="10203040"),
        "someone_else": factories.make_page(channel_a, name="Other", authorized_by_facebook_user="999"),
    }


def test_a_signed_request_erases_the_persons_tokens_and_flags_their_pages(
    client: Client, app_secret: str, linked: dict[str, FacebookPage], tenant_a: Tenant
) -> None:
    response = client.post(URL, {"signed_request": meta_signed_request(_payload())})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"url", "confirmation_code"} and len(body["confirmation_code"]) >= 24
    assert body["url"] == f"http://testserver{URL}{body['confirmation_code']}/"
    for key in ("mine", "mine_elsewhere"):
        page = FacebookPage.objects.get(pk=linked[key].pk)
        assert (page.status, page.reauthorization_reason) == (
            PageStatus.REAUTHORIZATION_REQUIRED,
            ReauthorizationReason.DATA_DELETION,
        )
        assert page.access_token_encrypted == "" and page.authorized_by_facebook_user == ""
    untouched = FacebookPage.objects.get(pk=linked["someone_else"].pk)
    assert untouched.status == PageStatus.ACTIVE and decrypt_token(untouched.access_token_encrypted) == "page-token"
    notice = Notification.objects.get(user=tenant_a.admin.user, kind=Notification.Kind.PAGE_REAUTHORIZATION)
    assert "Alpha shop" in notice.title and "asked Facebook to delete their data" in notice.body
    # Nothing names the person in what is kept.
    record = DataDeletionRequest.objects.get()
    assert "10203040" not in record.user_hash
    assert AuditEntry.objects.filter(event="facebook_data_deleted").count() == 2

    status_page = client.get(body["url"].removeprefix("http://testserver"))
    assert status_page.status_code == 200
    text = status_page.content.decode()
    assert "Completed" in text and "Facebook Pages whose access was removed: 2." in text
    assert "Alpha shop" not in text and "10203040" not in text
    japanese = client.get(body["url"].removeprefix("http://testserver"), HTTP_ACCEPT_LANGUAGE="ja")
    assert "完了しました" in japanese.content.decode()


def test_a_second_request_for_the_same_person_is_recorded_and_changes_nothing_more(
    client: Client, app_secret: str, linked: dict[str, FacebookPage]
) -> None:
    first = client.post(URL, {"signed_request": meta_signed_request(_payload())}).json()
    second = client.post(URL, {"signed_request": meta_signed_request(_payload())})
    assert second.status_code == 200
    assert second.json()["confirmation_code"] != first["confirmation_code"]
    assert DataDeletionRequest.objects.count() == 2
    assert (
        "The helpdesk held no data about you."
        in client.get(f"{URL}{second.json()['confirmation_code']}/").content.decode()
    )
    assert Notification.objects.filter(kind=Notification.Kind.PAGE_REAUTHORIZATION).count() == 2  # the first one's


@pytest.mark.parametrize(
    "signed_request",
    [
        pytest.param(meta_signed_request(_payload(), secret="not-the-app-secret"), id="forged"),
        pytest.param(meta_signed_request(_payload(algorithm="HMAC-SHA1")), id="wrong-algorithm"),
        pytest.param(
            meta_signed_request(_payload(issued_at=int(time.time()) - 7200, expires=int(time.time()) - 3600)),
            id="expired",
        ),
        pytest.param(meta_signed_request(_payload(issued_at=int(time.time()) - 3 * 86400, expires=0)), id="too-old"),
        pytest.param("not-a-signed-request", id="malformed"),
        pytest.param("abc.def.ghi", id="three-parts"),
        pytest.param("", id="empty"),
        pytest.param(meta_signed_request(_payload(user_id=None)), id="no-user"),
    ],
)
def test_a_bad_signed_request_is_refused_and_nothing_is_erased(
    client: Client, app_secret: str, linked: dict[str, FacebookPage], signed_request: str
) -> None:
    response = client.post(URL, {"signed_request": signed_request})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signed_request"
    assert not DataDeletionRequest.objects.exists()
    assert all(page.status == PageStatus.ACTIVE and page.access_token_encrypted for page in FacebookPage.objects.all())
    assert FacebookPage.objects.filter(authorized_by_facebook_user="10203040").count() == 2


def test_the_callback_takes_post_only_and_an_unknown_code_shows_nothing(client: Client, app_secret: str) -> None:
    assert client.get(URL).status_code == 405
    response = client.get(f"{URL}unknown-code/")
    assert (
        response.status_code == 404
        and "No data deletion request has this confirmation code." in response.content.decode()
    )


@pytest.mark.django_db(transaction=True)
def test_linking_records_who_authorized_and_the_sandboxs_callback_erases_it(
    facebook: Facebook, tenant_a: Tenant
) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    token = sandbox_page_token_issue(page_id=DEMO_PAGE)
    [outcome] = linking.pages_link(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        channel=channel,
        accounts=[PageAccount(id=DEMO_PAGE, name="Demo", access_token=token, tasks=("MESSAGING",), category="Shop")],
    )
    assert outcome.linked
    page = FacebookPage.objects.get(page_id=DEMO_PAGE)
    assert page.authorized_by_facebook_user == facebook.user.facebook_id

    result = sandbox_data_deletion_request(user=facebook.user, url=f"{facebook.url}{URL}")

    assert result.status == 200 and result.confirmation_code
    assert result.status_url == f"{facebook.url}{URL}{result.confirmation_code}/"
    page.refresh_from_db()
    assert (page.status, page.reauthorization_reason, page.access_token_encrypted) == (
        PageStatus.REAUTHORIZATION_REQUIRED,
        ReauthorizationReason.DATA_DELETION,
        "",
    )
