"""Japanese and English end to end in Messenger: notices written when read, emails in their
recipient's language, unnamed customers, the transcript grouped by day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone, translation

from helpdesk.models import Notification
from messenger.contact_names import contact_name, shown_name
from messenger.models import Contact, ConversationEvent, Direction, ReauthorizationReason
from messenger.pages.notices import notify_expiring, notify_reauthorization_required
from messenger.services.conversations.assignment import conversation_assign
from messenger.views.transcript import describe_event
from messenger.webhook.followups import conversation_announce
from tests import factories
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(tenant_a: Tenant) -> Any:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")
    factories.associate(tenant_a.agent, channel)
    return channel


def _japanese(membership: Any) -> None:
    membership.language = "ja"
    membership.time_zone = "Asia/Tokyo"
    membership.save(update_fields=["language", "time_zone"])


# --- Notifications are written when read ----------------------------------------------------------


def test_a_notice_created_in_english_reads_japanese_to_a_japanese_member(
    tenant_a: Tenant, channel: Any, client: Any
) -> None:
    page = factories.make_page(channel)
    contact = factories.make_contact(page, display_name="", first_name="Aiko", last_name="Tanaka")
    conversation = factories.make_conversation(page, contact)
    factories.make_message(conversation, text="注文が届きません")
    assert tenant_a.organization.language == "en"
    assert conversation_announce(conversation_id=conversation.pk) == 2
    notice = Notification.objects.get(user=tenant_a.agent.user)
    assert notice.title == "New conversation with Aiko Tanaka"  # the stored fallback: the organization's language

    _japanese(tenant_a.agent)
    client.force_login(tenant_a.agent.user)
    page_html = client.get("/o/alpha/notifications/").content.decode()
    assert "Tanaka Aiko との新しい会話" in page_html
    assert "New conversation" not in page_html
    api = api_client_for(tenant_a.agent).get("/api/v1/notifications/").json()["results"]
    assert api[0]["title"] == "Tanaka Aiko との新しい会話"
    assert api[0]["params"]["preview"] == "注文が届きません"

    # The English admin reads the same notice in English.
    client.force_login(tenant_a.admin.user)
    assert "New conversation with Aiko Tanaka" in client.get("/o/alpha/notifications/").content.decode()


def test_a_notice_stored_before_parameters_shows_its_old_words(tenant_a: Tenant, client: Any) -> None:
    Notification.objects.create(
        organization=tenant_a.organization,
        user=tenant_a.agent.user,
        kind=Notification.Kind.NEW_CONVERSATION,
        title="Something an older version wrote",
    )
    _japanese(tenant_a.agent)
    client.force_login(tenant_a.agent.user)
    assert "Something an older version wrote" in client.get("/o/alpha/notifications/").content.decode()


def test_a_deadline_is_shown_in_the_readers_time_zone(tenant_a: Tenant, channel: Any, client: Any) -> None:
    page = factories.make_page(channel, name="Shop page")
    deadline = datetime(2026, 12, 6, 8, 20, tzinfo=UTC)
    assert notify_expiring([(page, deadline)]) == 1
    _japanese(tenant_a.admin)
    client.force_login(tenant_a.admin.user)
    html = client.get("/o/alpha/notifications/").content.decode()
    assert "Facebook ページ「Shop page」を 2026年12月6日 17:20 までに再認証してください" in html


# --- Emails go out in their recipient's language -------------------------------------------------


def test_each_admin_gets_the_email_in_their_own_language(
    tenant_a: Tenant, channel: Any, django_capture_on_commit_callbacks: Any
) -> None:
    english = tenant_a.admin
    english.user.email = "en-admin@alpha.test"
    english.user.save(update_fields=["email"])
    japanese = factories.make_member(tenant_a.organization, role="admin", email="ja-admin@alpha.test")
    _japanese(japanese)
    page = factories.make_page(channel, name="Shop page")
    row = {
        "pk": page.pk,
        "organization_id": page.organization_id,
        "channel_id": page.channel_id,
        "name": page.name,
        "authorized_at": page.authorized_at,
        "created_at": page.created_at,
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert notify_reauthorization_required(pages=[row], reason=ReauthorizationReason.TOKEN_EXPIRED, email=True)
    by_address = {message.to[0]: message for message in mail.outbox}
    assert by_address["ja-admin@alpha.test"].subject == "Facebook ページ「Shop page」の再認証が必要です"
    assert "理由：トークンの有効期限切れ。" in by_address["ja-admin@alpha.test"].body
    assert by_address["en-admin@alpha.test"].subject == "Facebook Page “Shop page” needs re-authorization"
    assert "Reason: Token expired." in by_address["en-admin@alpha.test"].body


def test_an_expiry_email_gives_the_deadline_in_the_recipients_time_zone(
    tenant_a: Tenant, channel: Any, django_capture_on_commit_callbacks: Any
) -> None:
    japanese = factories.make_member(tenant_a.organization, role="admin", email="ja-admin@alpha.test")
    _japanese(japanese)
    page = factories.make_page(channel, name="Shop page")
    with django_capture_on_commit_callbacks(execute=True):
        notify_expiring([(page, datetime(2026, 12, 6, 8, 20, tzinfo=UTC))])
    [email] = [message for message in mail.outbox if message.to == ["ja-admin@alpha.test"]]
    assert "2026年12月6日 17:20" in email.subject


# --- Unnamed customers ---------------------------------------------------------------------------------


def test_an_unnamed_customer_is_shown_with_a_friendly_name_in_the_readers_language(channel: Any) -> None:
    page = factories.make_page(channel)
    stored = factories.make_contact(page, psid="6000000000000003", display_name="Messenger customer 0003")
    guest = factories.make_contact(page, psid="guest-0042", display_name="", is_guest=True)
    named = factories.make_contact(page, display_name="Aiko Tanaka")
    with translation.override("en"):
        assert contact_name(stored) == "Unnamed customer (…0003)"
        assert contact_name(guest) == "Unnamed website visitor (…0042)"
        assert contact_name(named) == "Aiko Tanaka"
    with translation.override("ja"):
        assert contact_name(stored) == "名前未登録の顧客（…0003）"
        # A placeholder stored in Japanese (the webhook writes the page's language) reads in English too.
        assert shown_name("Messenger の顧客 0003") == "名前未登録の顧客（…0003）"
    with translation.override("en"):
        assert shown_name("Messenger の顧客 0003") == "Unnamed customer (…0003)"


def test_the_inbox_never_shows_the_placeholder(tenant_a: Tenant, channel: Any, client: Any) -> None:
    page = factories.make_page(channel)
    contact = factories.make_contact(page, psid="6000000000000003", display_name="Messenger customer 0003")
    conversation = factories.make_conversation(page, contact, last_message_at=timezone.now())
    factories.make_message(conversation)
    client.force_login(tenant_a.agent.user)
    for url in ("/o/alpha/inbox/", f"/o/alpha/inbox/{conversation.pk}/"):
        html = client.get(url).content.decode()
        assert "Unnamed customer (…0003)" in html
        assert "Messenger customer 0003" not in html


def test_a_contacts_name_is_in_the_readers_order(channel: Any) -> None:
    contact = Contact(display_name="Aiko Tanaka", first_name="Aiko", last_name="Tanaka", psid="1")
    with translation.override("en"):
        assert contact_name(contact) == "Aiko Tanaka"
    with translation.override("ja"):
        assert contact_name(contact) == "Tanaka Aiko"


def test_a_system_line_names_a_member_in_each_readers_order(tenant_a: Tenant, channel: Any) -> None:
    kenji = factories.make_member(
        tenant_a.organization, username="kenji", departments=[tenant_a.department], first_name="Kenji", last_name="Sato"
    )
    factories.associate(kenji, channel)
    conversation = factories.make_conversation(factories.make_page(channel), None)
    conversation_assign(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        conversation=conversation,
        assignee_membership_id=kenji.pk,
    )
    event = ConversationEvent.objects.get(conversation=conversation, kind=ConversationEvent.Kind.ASSIGNED)
    with translation.override("en"):
        assert "to Kenji Sato." in describe_event(event)
    with translation.override("ja"):
        assert "Sato Kenji" in describe_event(event)
    # A line kept before names were kept in parts reads as it was written.
    event.data = {"to": "Kenji Sato"}
    with translation.override("ja"):
        assert "Kenji Sato" in describe_event(event)


# --- The transcript, by day -----------------------------------------------------------------------------


def test_the_transcript_shows_each_day_once_and_each_bubble_its_time(
    tenant_a: Tenant, channel: Any, client: Any
) -> None:
    _japanese(tenant_a.agent)
    conversation = factories.make_conversation(factories.make_page(channel))
    first_day = datetime(2024, 3, 4, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
    for at in (first_day, first_day + timedelta(hours=2), first_day + timedelta(days=1)):
        factories.make_message(conversation, direction=Direction.INBOUND, sent_at=at)
    client.force_login(tenant_a.agent.user)
    html = client.get(f"/o/alpha/inbox/{conversation.pk}/").content.decode()
    assert html.count('class="hd-day-separator"') == 2
    assert '<time datetime="2024-03-04">2024年3月4日</time>' in html
    assert '<time datetime="2024-03-05">2024年3月5日</time>' in html
    assert '<time datetime="2024-03-04T10:00:00+09:00" title="2024年3月4日 10:00">10:00</time>' in html
    assert '<time datetime="2024-03-04T12:00:00+09:00" title="2024年3月4日 12:00">12:00</time>' in html


def test_the_day_separator_follows_the_readers_time_zone(tenant_a: Tenant, channel: Any, client: Any) -> None:
    """23:30 and 00:30 UTC are two days in London, one in Tokyo."""
    conversation = factories.make_conversation(factories.make_page(channel))
    for at in (datetime(2024, 3, 4, 23, 30, tzinfo=UTC), datetime(2024, 3, 5, 0, 30, tzinfo=UTC)):
        factories.make_message(conversation, direction=Direction.INBOUND, sent_at=at)
    client.force_login(tenant_a.agent.user)
    url = f"/o/alpha/inbox/{conversation.pk}/"
    assert client.get(url).content.decode().count('class="hd-day-separator"') == 2
    _japanese(tenant_a.agent)
    assert client.get(url).content.decode().count('class="hd-day-separator"') == 1


def test_the_inbox_list_says_how_long_ago(tenant_a: Tenant, channel: Any, client: Any) -> None:
    five_minutes_ago = timezone.now() - timedelta(minutes=5, seconds=10)
    conversation = factories.make_conversation(factories.make_page(channel), last_message_at=five_minutes_ago)
    factories.make_message(conversation, sent_at=five_minutes_ago)
    _japanese(tenant_a.agent)
    client.force_login(tenant_a.agent.user)
    assert ">5 分前</time>" in client.get("/o/alpha/inbox/").content.decode()


def test_a_forwarding_notice_follows_the_recipients_language_when_read(
    tenant_a: Tenant, channel: Any, client: Any
) -> None:
    page = factories.make_page(channel)
    conversation = factories.make_conversation(page, factories.make_contact(page, display_name="Aiko Tanaka"))
    response = api_client_for(tenant_a.admin).post(
        f"/api/v1/conversations/{conversation.pk}/forward/", {"to_membership_id": tenant_a.agent.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    client.force_login(tenant_a.agent.user)
    assert (
        "alpha-admin forwarded you a conversation with Aiko Tanaka"
        in client.get("/o/alpha/notifications/").content.decode()
    )
    _japanese(tenant_a.agent)  # the recipient switches to Japanese afterwards
    assert (
        "alpha-admin さんから Aiko Tanaka との会話が転送されました"
        in client.get("/o/alpha/notifications/").content.decode()
    )
