"""Every kind of event Facebook sends, as a real-shaped fixture, and what the product makes of it."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from messenger.models import (
    Contact,
    Conversation,
    Direction,
    FacebookPage,
    Message,
    MessageKind,
    MessageSource,
    MessageStatus,
    WebhookEvent,
    WebhookOutcome,
)
from tests import factories
from tests.conftest import Tenant
from tests.messenger.fixtures import (
    BASE_MS,
    FIRST_MID,
    OTHER_PAGE_ID,
    OWN_ECHO_METADATA,
    PAGE_ID,
    PSID,
    fast_password_hashing,
    post_webhook,
    queued_followups,
    webhook_fixture,
    webhook_fixture_names,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_followups")]
__all__ = ["fast_password_hashing", "queued_followups"]

BASE = datetime(2026, 1, 1, tzinfo=UTC)
OWN_APP_ID = "100000000000001"


@pytest.fixture(autouse=True)
def _own_app(settings: Any) -> None:
    settings.FB_APP_ID = OWN_APP_ID


@pytest.fixture
def page(tenant_a: Tenant) -> FacebookPage:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    return factories.make_page(channel, page_id=PAGE_ID)


def post(client: Client, name: str) -> Any:
    response = post_webhook(client, webhook_fixture(name))
    assert response.status_code == 200
    return response


def last_event() -> WebhookEvent:
    return WebhookEvent.objects.latest("pk")


def only_message() -> Message:
    return Message.objects.select_related("conversation__contact").get()


def conversation_of(page: FacebookPage, psid: str = PSID) -> Conversation:
    return Conversation.objects.select_related("contact").get(page=page, contact__psid=psid)


# --- Messages ------------------------------------------------------------------------------


def test_a_text_message_starts_a_conversation(client: Client, page: FacebookPage, queued_followups: Any) -> None:
    post(client, "message_text")
    message = only_message()
    assert (message.direction, message.source, message.kind, message.status) == (
        Direction.INBOUND,
        MessageSource.CUSTOMER,
        MessageKind.TEXT,
        MessageStatus.RECEIVED,
    )
    assert message.text == "Hello, my order #1042 has not arrived yet."
    assert message.mid == FIRST_MID
    assert message.sent_at == BASE
    assert message.organization_id == page.organization_id
    assert not message.is_hidden
    conversation = message.conversation
    assert (conversation.channel_id, conversation.department_id) == (page.channel_id, page.channel.department_id)
    assert conversation.last_inbound_at == conversation.last_message_at == BASE
    assert conversation.last_message_preview == message.text
    assert conversation.unread_count == 1
    assert conversation.state == "open"
    contact = conversation.contact
    assert (contact.psid, contact.is_guest, contact.profile_fetched_at) == (PSID, False, None)
    assert contact.display_name == "Messenger customer 0001"
    event = last_event()
    assert (event.kind, event.outcome, event.mid, event.organization_id) == (
        "message",
        WebhookOutcome.STORED,
        FIRST_MID,
        page.organization_id,
    )
    assert event.payload["message"]["text"] == message.text


def test_a_new_customer_gets_a_profile_lookup_and_a_notice_after_commit(
    client: Client, page: FacebookPage, queued_followups: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        post(client, "message_text")
    conversation = conversation_of(page)
    queued_followups.assert_called_once_with([conversation.contact_id], [conversation.pk])
    queued_followups.reset_mock()
    with django_capture_on_commit_callbacks(execute=True):
        post(client, "message_quick_reply")
    queued_followups.assert_not_called()


@pytest.mark.parametrize(
    ("name", "attachment_type", "preview"),
    [
        ("message_image", "image", "Photo"),
        ("message_video", "video", "Video"),
        ("message_audio", "audio", "Voice message"),
        ("message_file", "file", "File"),
    ],
)
def test_media_attachments_keep_their_type_and_url(
    client: Client, page: FacebookPage, name: str, attachment_type: str, preview: str
) -> None:
    post(client, name)
    message = only_message()
    assert message.kind == MessageKind.ATTACHMENT
    [attachment] = message.attachments
    assert attachment["type"] == attachment_type
    assert (
        attachment["url"]
        == webhook_fixture(name)["entry"][0]["messaging"][0]["message"]["attachments"][0]["payload"]["url"]
    )
    assert message.conversation.last_message_preview == preview


def test_a_location_keeps_its_coordinates(client: Client, page: FacebookPage) -> None:
    post(client, "message_location")
    [attachment] = only_message().attachments
    assert attachment["type"] == "location"
    assert (attachment["lat"], attachment["long"]) == (35.6895, 139.6917)
    assert attachment["title"] == "Alice's Location"
    assert attachment["url"].startswith("https://l.facebook.com/")
    assert only_message().conversation.last_message_preview == "Location"


def test_a_legacy_fallback_link_takes_its_title_and_url_from_the_attachment(client: Client, page: FacebookPage) -> None:
    post(client, "message_fallback")
    message = only_message()
    assert message.text == "https://example.com/tracking/1042"
    [attachment] = message.attachments
    assert attachment["type"] == "fallback"
    assert attachment["title"] == "Track your parcel"
    assert attachment["url"].startswith("https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com")


def test_a_fallback_link_with_a_payload(client: Client, page: FacebookPage) -> None:
    post(client, "message_fallback_payload")
    [attachment] = only_message().attachments
    assert attachment == {
        "type": "fallback",
        "url": "https://example.com/products/blue-kettle",
        "title": "Blue kettle – Example Shop",
    }


def test_a_sticker_attachment(client: Client, page: FacebookPage) -> None:
    post(client, "message_sticker")
    message = only_message()
    assert (message.kind, message.sticker_id) == (MessageKind.STICKER, "126361874215276")
    assert message.attachments[0]["type"] == "sticker"
    assert message.conversation.last_message_preview == "Sticker"


def test_the_like_thumbs_up_is_a_sticker(client: Client, page: FacebookPage) -> None:
    post(client, "message_like")
    message = only_message()
    assert (message.kind, message.sticker_id) == (MessageKind.STICKER, "369239263222822")
    assert message.conversation.last_message_preview == "👍"
    assert message.conversation.unread_count == 1


def test_a_quick_reply_keeps_its_payload(client: Client, page: FacebookPage) -> None:
    post(client, "message_quick_reply")
    message = only_message()
    assert (message.text, message.quick_reply_payload) == ("Track my order", "TRACK_ORDER")


def test_a_quoted_reply_keeps_the_quoted_mid(client: Client, page: FacebookPage) -> None:
    post(client, "message_reply_to")
    assert only_message().reply_to_mid == FIRST_MID


def test_ids_may_arrive_as_numbers(client: Client, page: FacebookPage) -> None:
    post(client, "numeric_ids")
    message = only_message()
    assert message.conversation.contact.psid == PSID
    assert message.page_id == page.pk


def test_a_chat_plugin_guest_is_a_contact_without_a_profile_to_fetch(
    client: Client, page: FacebookPage, queued_followups: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        post(client, "guest_user_ref")
    contact = Contact.objects.get()
    assert (contact.psid, contact.is_guest) == ("guest-8c3a0b6f2d", True)
    assert contact.profile_fetched_at is not None
    assert contact.display_name.startswith("Website visitor")
    # The conversation is announced; there is no profile to look up.
    queued_followups.assert_called_once_with([], [Conversation.objects.get().pk])


def test_a_message_under_the_handover_protocol_arrives_in_standby(client: Client, page: FacebookPage) -> None:
    post(client, "standby_message")
    assert only_message().text == "Is anyone there?"
    event = last_event()
    assert (event.outcome, event.reason) == (WebhookOutcome.STORED, "standby")


# --- Echoes --------------------------------------------------------------------------------


def _outbound(page: FacebookPage, **fields: Any) -> Message:
    conversation = factories.make_conversation(page, factories.make_contact(page, psid=PSID))
    fields.setdefault("mid", None)
    fields.setdefault("status", MessageStatus.SENDING)
    return factories.make_message(
        conversation, text="Your parcel left our warehouse this morning.", direction=Direction.OUTBOUND, **fields
    )


def test_the_echo_of_our_own_send_confirms_the_outbound_message(client: Client, page: FacebookPage) -> None:
    sent = _outbound(page, idempotency_key=uuid.UUID(OWN_ECHO_METADATA))
    post(client, "echo_own_app")
    sent.refresh_from_db()
    assert (sent.mid, sent.status) == ("m_echo_own_Kd81", MessageStatus.SENT)
    assert Message.objects.count() == 1
    assert last_event().outcome == WebhookOutcome.STORED
    # Twice: nothing changes.
    post(client, "echo_own_app")
    assert last_event().outcome == WebhookOutcome.DUPLICATE
    assert Message.objects.count() == 1


def test_the_echo_never_moves_a_delivered_message_back(client: Client, page: FacebookPage) -> None:
    sent = _outbound(page, idempotency_key=uuid.UUID(OWN_ECHO_METADATA), status=MessageStatus.DELIVERED)
    post(client, "echo_own_app")
    sent.refresh_from_db()
    assert (sent.mid, sent.status) == ("m_echo_own_Kd81", MessageStatus.DELIVERED)


def test_the_echo_of_a_send_that_timed_out_marks_it_sent(client: Client, page: FacebookPage) -> None:
    sent = _outbound(page, mid="m_echo_own_Kd81", status=MessageStatus.FAILED, error_code="graph_timeout")
    post(client, "echo_own_app")
    sent.refresh_from_db()
    assert (sent.status, sent.error_code) == (MessageStatus.SENT, "")


@pytest.mark.parametrize("name", ["echo_other_app", "echo_page_inbox"])
def test_a_reply_made_outside_the_helpdesk_is_shown_as_an_external_message(
    client: Client, page: FacebookPage, name: str
) -> None:
    post(client, "message_text")
    post(client, name)
    echo = Message.objects.get(direction=Direction.OUTBOUND)
    assert (echo.source, echo.status) == (MessageSource.EXTERNAL, MessageStatus.SENT)
    assert echo.conversation.contact.psid == PSID  # the recipient of an echo is the customer
    conversation = echo.conversation
    assert conversation.last_message_preview == echo.text
    assert conversation.last_message_at == echo.sent_at
    # The customer's own last message still dates the reply window; an agent's reply is not unread.
    assert conversation.last_inbound_at == BASE
    assert conversation.unread_count == 1


def test_an_echo_from_our_app_that_matches_nothing_is_kept_as_external(client: Client, page: FacebookPage) -> None:
    post(client, "echo_own_app")
    echo = only_message()
    assert (echo.direction, echo.source, echo.mid) == (Direction.OUTBOUND, MessageSource.EXTERNAL, "m_echo_own_Kd81")


# --- Postbacks, referrals, opt-ins ----------------------------------------------------------


def test_a_postback_is_a_message_showing_the_button_title(client: Client, page: FacebookPage) -> None:
    post(client, "postback")
    message = only_message()
    assert message.kind == MessageKind.POSTBACK
    assert (message.text, message.postback_title, message.postback_payload) == (
        "Get Started",
        "Get Started",
        "GET_STARTED",
    )
    assert message.mid == "m_postback_Gs01"
    assert message.attachments == [
        {"type": "referral", "ref": "summer-sale", "source": "SHORTLINK", "referral_type": "OPEN_THREAD"}
    ]
    assert message.conversation.unread_count == 1
    assert message.conversation.last_inbound_at == BASE


def test_a_postback_without_mid_or_title_is_stored_once(client: Client, page: FacebookPage) -> None:
    post(client, "postback_without_mid")
    post(client, "postback_without_mid")
    message = only_message()
    assert message.mid.startswith("postback:")
    assert (message.postback_payload, message.text) == ("MENU_ORDERS", "")
    assert message.conversation.last_message_preview == "Pressed a button"
    assert list(WebhookEvent.objects.values_list("outcome", flat=True).order_by("pk")) == ["stored", "duplicate"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("referral", {"ref": "spring-campaign", "source": "SHORTLINK", "referral_type": "OPEN_THREAD"}),
        ("referral_ad", {"source": "ADS", "referral_type": "OPEN_THREAD", "ad_id": "23851234567890123"}),
    ],
)
def test_a_referral_is_recorded_in_the_thread_without_opening_the_reply_window(
    client: Client, page: FacebookPage, name: str, expected: dict[str, str]
) -> None:
    post(client, name)
    message = only_message()
    assert message.kind == MessageKind.REFERRAL
    assert message.attachments == [{"type": "referral", **expected}]
    conversation = message.conversation
    assert conversation.last_inbound_at is None
    assert conversation.unread_count == 0
    assert conversation.last_message_preview == "Opened the conversation from a link or an ad"
    post(client, name)
    assert Message.objects.count() == 1


def test_an_optin_is_recorded_in_the_thread(client: Client, page: FacebookPage) -> None:
    post(client, "optin")
    message = only_message()
    assert message.kind == MessageKind.OPTIN
    assert message.attachments == [{"type": "optin", "ref": "checkout-page"}]
    assert message.conversation.contact.psid == PSID


def test_a_checkbox_optin_names_the_person_by_user_ref(client: Client, page: FacebookPage) -> None:
    post(client, "optin_checkbox")
    contact = Contact.objects.get()
    assert (contact.psid, contact.is_guest) == ("cbx-5b1d1c7e-91d4-4bd4-8a0a-1f2e3d4c5b6a", True)
    assert only_message().attachments == [{"type": "optin", "ref": "cart-42"}]


# --- Receipts -----------------------------------------------------------------------------


def _thread_with_outbound(page: FacebookPage) -> tuple[Conversation, list[Message]]:
    conversation = factories.make_conversation(page, factories.make_contact(page, psid=PSID))
    factories.make_message(conversation, text="question", sent_at=BASE, mid="m_in_1")
    sent = [
        factories.make_message(
            conversation,
            text=f"answer {n}",
            direction=Direction.OUTBOUND,
            mid=f"m_out_{n}",
            sent_at=BASE + timedelta(seconds=seconds),
            status=MessageStatus.SENT,
        )
        for n, seconds in enumerate((10, 19, 25))
    ]
    return conversation, sent


def test_a_delivery_watermark_delivers_every_earlier_outbound_message(client: Client, page: FacebookPage) -> None:
    _conversation, (first, second, third) = _thread_with_outbound(page)
    post(client, "delivery_watermark_only")  # watermark: BASE + 20 s
    for message in (first, second, third):
        message.refresh_from_db()
    assert [m.status for m in (first, second, third)] == ["delivered", "delivered", "sent"]
    assert first.delivered_at == BASE + timedelta(seconds=20)
    assert Message.objects.get(mid="m_in_1").status == MessageStatus.RECEIVED
    assert last_event().outcome == WebhookOutcome.STORED
    post(client, "delivery_watermark_only")
    assert (last_event().outcome, last_event().reason) == (WebhookOutcome.IGNORED, "nothing_to_update")
    first.refresh_from_db()
    assert first.delivered_at == BASE + timedelta(seconds=20)


def test_a_delivery_without_timestamp_names_its_mids(client: Client, page: FacebookPage) -> None:
    conversation, _sent = _thread_with_outbound(page)
    late = factories.make_message(
        conversation,
        text="sent with a clock ahead",
        direction=Direction.OUTBOUND,
        mid="m_out_Dd01",
        sent_at=BASE + timedelta(minutes=5),
        status=MessageStatus.SENT,
    )
    post(client, "delivery")
    late.refresh_from_db()
    assert late.status == MessageStatus.DELIVERED
    assert WebhookEvent.objects.get().mid == ""


def test_a_read_watermark_reads_every_earlier_outbound_message(client: Client, page: FacebookPage) -> None:
    _conversation, (first, second, third) = _thread_with_outbound(page)
    Message.objects.filter(pk=first.pk).update(
        status=MessageStatus.DELIVERED, delivered_at=BASE + timedelta(seconds=11)
    )
    post(client, "read")  # watermark: BASE + 30 s
    for message in (first, second, third):
        message.refresh_from_db()
    assert {m.status for m in (first, second, third)} == {MessageStatus.READ}
    assert first.delivered_at == BASE + timedelta(seconds=11)
    assert second.delivered_at == second.read_at == BASE + timedelta(seconds=30)
    # A delivery arriving after the read does not move anything back.
    post(client, "delivery_watermark_only")
    second.refresh_from_db()
    assert second.status == MessageStatus.READ


# --- Reactions and edits ------------------------------------------------------------------


def test_a_reaction_is_kept_per_reactor_and_an_unreact_removes_it(client: Client, page: FacebookPage) -> None:
    post(client, "message_text")
    post(client, "reaction_react")
    message = only_message()
    assert message.reactions == {PSID: {"reaction": "love", "emoji": "\u2764\ufe0f", "at": BASE_MS + 40000}}
    post(client, "reaction_react")
    assert last_event().outcome == WebhookOutcome.DUPLICATE
    post(client, "reaction_unreact")
    message.refresh_from_db()
    assert message.reactions == {}
    post(client, "reaction_unreact")
    assert last_event().outcome == WebhookOutcome.DUPLICATE


def test_a_late_reaction_does_not_override_a_newer_unreact_in_the_same_post(client: Client, page: FacebookPage) -> None:
    post(client, "message_text")
    react = webhook_fixture("reaction_react")["entry"][0]
    unreact = webhook_fixture("reaction_unreact")["entry"][0]
    post_webhook(client, {"object": "page", "entry": [unreact, react]})
    assert only_message().reactions == {}


def test_a_reaction_on_an_unknown_message_is_ignored(client: Client, page: FacebookPage) -> None:
    post(client, "reaction_react")
    assert (last_event().outcome, last_event().reason) == (WebhookOutcome.IGNORED, "unknown_message")


def test_an_edit_replaces_the_text_once(client: Client, page: FacebookPage) -> None:
    post(client, "message_text")
    post(client, "message_edit")
    message = only_message()
    assert message.text == "Hello, my order #1043 has not arrived yet."
    assert message.edit_count == 1
    assert message.edited_at == BASE + timedelta(seconds=60)
    post(client, "message_edit")
    assert last_event().outcome == WebhookOutcome.DUPLICATE
    message.refresh_from_db()
    assert message.edit_count == 1


def test_an_older_edit_arriving_late_is_ignored(client: Client, page: FacebookPage) -> None:
    post(client, "message_text")
    newer = webhook_fixture("message_edit")
    item = newer["entry"][0]["messaging"][0]
    item["message_edit"] = {**item["message_edit"], "text": "second edit", "num_edit": "2"}
    post_webhook(client, newer)
    post(client, "message_edit")
    message = only_message()
    assert (message.text, message.edit_count) == ("second edit", 2)


# --- What is ignored ----------------------------------------------------------------------


def test_the_dashboard_test_button_is_recorded_as_ignored(client: Client, page: FacebookPage) -> None:
    post(client, "dashboard_test")
    event = last_event()
    assert (event.kind, event.outcome, event.reason, event.page_id) == ("changes", "ignored", "dashboard_test", "0")
    assert event.organization_id is None
    assert not Message.objects.exists()


def test_an_unknown_kind_is_kept_raw_logged_and_ignored(
    client: Client, page: FacebookPage, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="messenger.webhook.route"):
        post(client, "unknown_kind")
    event = last_event()
    assert (event.kind, event.outcome, event.reason) == ("unknown", "ignored", "unknown_kind")
    assert event.payload["brand_new_kind"] == {"detail": "something Facebook adds one day"}
    assert event.organization_id == page.organization_id
    assert "brand_new_kind" in caplog.text


def test_a_handover_control_event_is_ignored_by_name(client: Client, page: FacebookPage) -> None:
    post(client, "pass_thread_control")
    event = last_event()
    assert (event.kind, event.outcome, event.reason) == ("pass_thread_control", "ignored", "not_handled")


# --- Several entries, several pages -------------------------------------------------------


def test_a_post_with_entries_for_two_pages_of_two_organizations(
    client: Client, page: FacebookPage, tenant_b: Tenant
) -> None:
    other_channel = factories.make_channel(tenant_b.organization, tenant_b.department)
    other_page = factories.make_page(other_channel, page_id=OTHER_PAGE_ID)
    post(client, "batch_two_pages")
    conversation = conversation_of(page)
    # Out of order on the wire: the later message is the conversation's last one.
    assert conversation.last_message_preview == "second"
    assert conversation.last_message_at == BASE + timedelta(seconds=2)
    assert conversation.unread_count == 2
    other = Message.objects.get(page=other_page)
    assert (other.organization_id, other.text) == (tenant_b.organization.pk, "on the other page")
    organizations = dict(WebhookEvent.objects.values_list("mid", "organization_id"))
    assert organizations["m_batch_other_page"] == tenant_b.organization.pk
    assert organizations["m_batch_first"] == page.organization_id


# --- Every fixture has its test -------------------------------------------------------------


def test_every_fixture_is_used_by_a_test() -> None:
    sources = "".join(path.read_text() for path in Path(__file__).parent.glob("test_webhook*.py"))
    used = set(re.findall(r'"([a-z_]+)"', sources))
    assert not set(webhook_fixture_names()) - used
