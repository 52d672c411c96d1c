# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""Where the customer came from, as the conversation's card shows it in a real browser, in
English and Japanese, on a desktop and a phone: the newest referral first (an ad, an m.me link,
the chat plugin), to the agent of the channel and to an admin."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from helpdesk.models import Membership
from messenger.models import Conversation, ConversationReferral, MessageKind, ReferralKind
from messenger.webhook.payload import referral_attachment
from tests import factories
from tests.accessibility.test_axe import log_in
from tests.chromium import BROWSER_MARKS, chromium, new_page  # noqa: F401 (fixtures)
from tests.conftest import Tenant
from tests.screens import screens_checked, translated

pytestmark = BROWSER_MARKS


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


REFERRALS = [
    # kind, fields, days ago
    (ReferralKind.PLUGIN, {"source": "CUSTOMER_CHAT_PLUGIN", "referer_uri": "https://shop.example.jp/cart"}, 9),
    (ReferralKind.LINK, {"source": "SHORTLINK", "referral_type": "OPEN_THREAD", "ref": "spring-campaign"}, 3),
    (ReferralKind.AD, {"source": "ADS", "ad_id": "23851234567890123", "ad_title": "夏のセール — 電気ケトル"}, 0),
]


@pytest.fixture
def conversation(tenant_a: Tenant) -> Conversation:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel, name="Alpha Shop")
    contact = factories.make_contact(page, display_name="山田 花子")
    conversation = factories.make_conversation(page, contact)
    now = timezone.now()
    for kind, fields, days in REFERRALS:
        occurred_at = now - timedelta(days=days, minutes=5)
        if kind == ReferralKind.AD:
            # A click-to-Messenger ad: the customer's first message carries it.
            message = factories.make_message(conversation, text="この商品の在庫はありますか？", sent_at=occurred_at)
        else:
            # An m.me link or the chat plugin: a referral event of its own, as the webhook keeps it.
            message = factories.make_message(
                conversation,
                text="",
                kind=MessageKind.REFERRAL,
                attachments=[referral_attachment({"type": "OPEN_THREAD", **fields})],
                sent_at=occurred_at,
            )
        ConversationReferral.objects.create(
            organization=tenant_a.organization,
            conversation=conversation,
            message=message,
            kind=kind,
            occurred_at=occurred_at,
            **fields,
        )
    return conversation


def _expected(language: str) -> list[str]:
    """The card's sentences, newest first, as the product words them in `language`."""
    return [
        translated(language, "Came from the ad “%(title)s”", title="夏のセール — 電気ケトル"),
        translated(language, "Came from the link ref=%(ref)s", ref="spring-campaign"),
        translated(language, "Came from the chat plugin on %(address)s", address="https://shop.example.jp/cart"),
    ]


@pytest.mark.parametrize("role", ["agent", "admin"])
@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_conversation_shows_where_the_customer_came_from(
    chromium: Any, live_server: Any, tenant_a: Tenant, conversation: Conversation, language: str, role: str
) -> None:
    membership = tenant_a.agent if role == "agent" else tenant_a.admin
    Membership.objects.filter(pk=membership.pk).update(language=language)
    page = new_page(chromium, viewport={"width": 1440, "height": 900})
    log_in(page, live_server.url, membership)
    page.goto(f"{live_server.url}/o/alpha/inbox/{conversation.pk}/")

    card = page.get_by_role("region", name=translated(language, "Where the customer came from"))
    assert card.is_visible()
    items = card.locator("li.hd-referral")
    assert [item.locator("span").inner_text() for item in items.all()] == _expected(language)
    # The referral events in the transcript say the same, not a file's name.
    transcript = page.locator("#transcript-panel")
    for sentence in _expected(language)[1:]:
        assert transcript.get_by_text(sentence).count() == 1
    assert transcript.locator(".bi-paperclip").count() == 0
    assert "hd-referral-ad" in (items.first.get_attribute("class") or "").split()
    screens_checked(page, f"inbox-referral-card-{role}-{language}")
