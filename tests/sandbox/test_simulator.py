"""The customer simulator and the customer-side Python API: signed webhooks to the product."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

import pytest
import requests
from django.conf import settings

from messenger.graph import NoProfileError
from messenger.sandbox import bootstrap, customers, people, selectors
from messenger.sandbox.models import SandboxCustomer, SandboxPage, SandboxUser
from tests.sandbox.conftest import Received, Receiver, Sandbox


def _verified(received: Received) -> dict[str, Any]:
    """The signature must be the HMAC of the bytes exactly as received."""
    expected = hmac.new(settings.FB_APP_SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert received.headers["x-hub-signature-256"] == f"sha256={expected}"
    assert received.headers["content-type"] == "application/json"
    return json.loads(received.body)


def _simulator_session(sandbox: Sandbox, psid: str) -> tuple[requests.Session, str, str]:
    session = requests.Session()
    url = f"{sandbox.base_url}/simulator/{sandbox.page.page_id}/"
    page = session.get(url, params={"psid": psid}, timeout=5)
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None
    return session, url, token.group(1)


@pytest.mark.django_db(transaction=True)
def test_a_customer_message_is_a_signed_webhook_and_opens_the_window(sandbox: Sandbox, receiver: Receiver) -> None:
    customer = customers.sandbox_customer_create(page_id=sandbox.page.page_id, first_name="Dee", last_name="Ray")
    result = customers.sandbox_customer_message(
        page_id=sandbox.page.page_id, psid=customer.psid, text="Bonjour 👋 ça va?"
    )
    assert result["status"] == 200
    [received] = receiver.posts()
    assert received.path == "/webhooks/messenger/"
    assert b"\\ud83d\\udc4b" in received.body and b"\\u00e7a" in received.body  # escaped as Meta sends it
    payload = _verified(received)
    assert payload == result["payload"]
    entry = payload["entry"][0]
    event = entry["messaging"][0]
    assert payload["object"] == "page"
    assert entry["id"] == sandbox.page.page_id
    assert event["sender"] == {"id": customer.psid}
    assert event["recipient"] == {"id": sandbox.page.page_id}
    assert event["message"] == {"mid": result["mid"], "text": "Bonjour 👋 ça va?"}
    assert result["mid"].startswith("m_")
    customer.refresh_from_db()
    assert customer.last_message_at is not None


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_product_is_status_zero_not_an_exception(sandbox: Sandbox) -> None:
    customer = customers.sandbox_customer_create(page_id=sandbox.page.page_id, first_name="E", last_name="F")
    result = customers.sandbox_customer_message(
        page_id=sandbox.page.page_id, psid=customer.psid, text="hi", webhook_url="http://127.0.0.1:9/nowhere"
    )
    assert result["status"] == 0


@pytest.mark.django_db(transaction=True)
def test_the_simulator_posts_what_the_customer_types_and_shows_the_thread(sandbox: Sandbox, receiver: Receiver) -> None:
    customer = customers.sandbox_customer_create(page_id=sandbox.page.page_id, first_name="Gus", last_name="Ho")
    session, url, csrf = _simulator_session(sandbox, customer.psid)
    thread = session.post(
        f"{url}send/",
        data={"csrfmiddlewaretoken": csrf, "psid": customer.psid, "kind": "text", "text": "Where is my order?"},
        headers={"HX-Request": "true", "X-CSRFToken": csrf},
        timeout=5,
    )
    assert thread.status_code == 200
    assert "Where is my order?" in thread.text
    event = _verified(receiver.posts()[-1])["entry"][0]["messaging"][0]
    assert event["message"]["text"] == "Where is my order?"

    # The page answers through the Send API; the next poll sends the echo and the delivery.
    token = people.sandbox_page_token_issue(page_id=sandbox.page.page_id)
    sandbox.client.send_message(
        page_id=sandbox.page.page_id, page_token=token, recipient_psid=customer.psid, message={"text": "On its way"}
    )
    poll = session.get(f"{url}thread/", params={"psid": customer.psid}, timeout=5)
    assert "On its way" in poll.text
    assert [("is_echo" in json.dumps(_verified(r))) for r in receiver.posts()[-2:]] == [True, False]
    assert "bi-check2-all" in session.get(f"{url}thread/", params={"psid": customer.psid}, timeout=5).text


@pytest.mark.django_db(transaction=True)
def test_a_like_carries_the_thumbs_up_sticker(sandbox: Sandbox, receiver: Receiver) -> None:
    customer = customers.sandbox_customer_create(page_id=sandbox.page.page_id, first_name="Hal", last_name="Ito")
    session, url, csrf = _simulator_session(sandbox, customer.psid)
    response = session.post(
        f"{url}send/", data={"csrfmiddlewaretoken": csrf, "psid": customer.psid, "kind": "like"}, timeout=5
    )
    assert response.status_code == 200  # redirected back to the simulator
    message = _verified(receiver.posts()[-1])["entry"][0]["messaging"][0]["message"]
    assert message["sticker_id"] == 369239263222822
    [attachment] = message["attachments"]
    assert attachment["type"] == "image"
    assert attachment["payload"]["sticker_id"] == 369239263222822
    assert requests.get(attachment["payload"]["url"], timeout=5).headers["content-type"] == "image/png"


@pytest.mark.django_db(transaction=True)
def test_an_image_is_sent_as_an_image_attachment(sandbox: Sandbox, receiver: Receiver) -> None:
    customer = customers.sandbox_customer_create(page_id=sandbox.page.page_id, first_name="Ivy", last_name="Jo")
    session, url, csrf = _simulator_session(sandbox, customer.psid)
    session.post(f"{url}send/", data={"csrfmiddlewaretoken": csrf, "psid": customer.psid, "kind": "image"}, timeout=5)
    message = _verified(receiver.posts()[-1])["entry"][0]["messaging"][0]["message"]
    assert message["attachments"][0]["type"] == "image"
    assert "sticker_id" not in message


@pytest.mark.django_db(transaction=True)
def test_mark_as_read_posts_a_read_watermark_and_ticks_the_sent_messages(sandbox: Sandbox, receiver: Receiver) -> None:
    customer = customers.sandbox_customer_create(page_id=sandbox.page.page_id, first_name="Jo", last_name="Ku")
    customers.sandbox_customer_message(page_id=sandbox.page.page_id, psid=customer.psid, text="hi")
    token = people.sandbox_page_token_issue(page_id=sandbox.page.page_id)
    sent = sandbox.client.send_message(
        page_id=sandbox.page.page_id, page_token=token, recipient_psid=customer.psid, message={"text": "hello"}
    )
    session, url, csrf = _simulator_session(sandbox, customer.psid)
    session.post(f"{url}read/", data={"csrfmiddlewaretoken": csrf, "psid": customer.psid}, timeout=5)
    event = _verified(receiver.posts()[-1])["entry"][0]["messaging"][0]
    assert event["sender"] == {"id": customer.psid}
    [call] = [
        c for c in selectors.sandbox_sent_messages(page_id=sandbox.page.page_id) if c.message_id == sent.message_id
    ]
    assert event["read"]["watermark"] >= int(call.created_at.timestamp() * 1000)
    assert call.read_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_simulator_creates_customers(sandbox: Sandbox) -> None:
    existing = customers.sandbox_customer_create(page_id=sandbox.page.page_id, first_name="K", last_name="L")
    session, url, csrf = _simulator_session(sandbox, existing.psid)
    response = session.post(
        f"{url}customers/",
        data={"csrfmiddlewaretoken": csrf, "first_name": "Mia", "last_name": "Ng"},
        timeout=5,
    )
    assert response.status_code == 200
    created = SandboxCustomer.objects.get(first_name="Mia")
    assert not created.has_profile  # the box was left unticked
    assert f"psid={created.psid}" in response.url


@pytest.mark.django_db(transaction=True)
def test_the_simulator_creates_a_customer_without_a_name_whose_profile_has_none(sandbox: Sandbox) -> None:
    existing = customers.sandbox_customer_create(page_id=sandbox.page.page_id, first_name="K", last_name="L")
    session, url, csrf = _simulator_session(sandbox, existing.psid)
    response = session.post(
        f"{url}customers/",
        data={"csrfmiddlewaretoken": csrf, "first_name": "", "last_name": "", "has_profile": "on"},
        timeout=5,
    )
    assert response.status_code == 200
    nameless = SandboxCustomer.objects.exclude(pk=existing.pk).get()
    assert f"psid={nameless.psid}" in response.url
    token = people.sandbox_page_token_issue(page_id=sandbox.page.page_id)
    profile = sandbox.client.get_profile(psid=nameless.psid, page_token=token)
    assert (profile.name, profile.first_name, profile.last_name) == ("", "", "")
    assert profile.profile_pic is not None


@pytest.mark.django_db(transaction=True)
def test_profiles_are_served_and_a_customer_without_one_is_2018218(sandbox: Sandbox) -> None:
    token = people.sandbox_page_token_issue(page_id=sandbox.page.page_id)
    visible = customers.sandbox_customer_create(page_id=sandbox.page.page_id, first_name="Nia", last_name="Oh")
    hidden = customers.sandbox_customer_create(
        page_id=sandbox.page.page_id, first_name="Pat", last_name="Q", has_profile=False
    )
    profile = sandbox.client.get_profile(psid=visible.psid, page_token=token)
    assert (profile.first_name, profile.last_name, profile.name) == ("Nia", "Oh", "Nia Oh")
    assert profile.profile_pic is not None
    assert requests.get(profile.profile_pic, timeout=5).content.startswith(b"\x89PNG")
    with pytest.raises(NoProfileError):
        sandbox.client.get_profile(psid=hidden.psid, page_token=token)


@pytest.mark.django_db
def test_bootstrap_is_idempotent_and_builds_the_demo_pages() -> None:
    bootstrap.sandbox_bootstrap()
    bootstrap.sandbox_bootstrap()
    user = SandboxUser.objects.get()
    assert user.name == "Sandbox Admin"
    pages = SandboxPage.objects.order_by("page_id")
    assert [(p.page_id, p.name) for p in pages] == [
        ("100000000000101", "Demo Page"),
        ("100000000000102", "Second Page"),
        ("100000000000103", "Third Page"),
    ]
    for page in pages:
        assert sorted(page.customers.values_list("has_profile", flat=True)) == [False, True, True]


@pytest.mark.django_db(transaction=True)
def test_a_file_is_sent_with_an_address_the_sandbox_serves(sandbox: Sandbox, receiver: Receiver) -> None:
    customer = customers.sandbox_customer_create(page_id=sandbox.page.page_id, first_name="Kai", last_name="Lo")
    session, url, csrf = _simulator_session(sandbox, customer.psid)
    session.post(f"{url}send/", data={"csrfmiddlewaretoken": csrf, "psid": customer.psid, "kind": "file"}, timeout=5)
    message = _verified(receiver.posts()[-1])["entry"][0]["messaging"][0]["message"]
    [attachment] = message["attachments"]
    assert attachment["type"] == "file"
    served = requests.get(attachment["payload"]["url"], timeout=5)
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/plain")
    assert served.text.startswith("Order")


@pytest.mark.django_db(transaction=True)
def test_the_simulator_sends_a_referral_from_an_ad_or_a_link(sandbox: Sandbox, receiver: Receiver) -> None:
    customer = customers.sandbox_customer_create(page_id=sandbox.page.page_id, first_name="Ivy", last_name="Ko")
    session, url, csrf = _simulator_session(sandbox, customer.psid)
    assert "Send the referral" in session.get(url, params={"psid": customer.psid}, timeout=5).text
    response = session.post(
        f"{url}referral/",
        data={
            "csrfmiddlewaretoken": csrf,
            "psid": customer.psid,
            "source": "ADS",
            "ad_id": "777",
            "ad_title": "Spring sale",
        },
        timeout=5,
    )
    assert response.status_code == 200  # followed back to the simulator
    event = _verified(receiver.posts()[-1])["entry"][0]["messaging"][0]
    assert event["sender"] == {"id": customer.psid}
    assert event["referral"] == {
        "source": "ADS",
        "type": "OPEN_THREAD",
        "ad_id": "777",
        "ads_context_data": {"ad_title": "Spring sale"},
    }

    result = customers.sandbox_customer_referral(
        page_id=sandbox.page.page_id, psid=customer.psid, source="SHORTLINK", ref="spring", postback=True
    )
    event = _verified(receiver.posts()[-1])["entry"][0]["messaging"][0]
    assert event["postback"]["referral"] == {"source": "SHORTLINK", "type": "OPEN_THREAD", "ref": "spring"}
    assert result["status"] == 200
