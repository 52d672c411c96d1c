"""Where customers came from: every referral source Facebook sends is parsed, stored against
the conversation (whichever way the webhook stored the message), shown as a card in both
languages, and filters the inbox and the conversations API."""

from __future__ import annotations

import copy
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import translation

from helpdesk.models import Membership
from messenger.models import Conversation, ConversationReferral, FacebookPage, Message, ReferralKind
from messenger.referrals import referral_in_item, referral_parse
from messenger.webhook import receive
from tests import factories
from tests.conftest import Tenant, api_client_for
from tests.messenger.fixtures import (
    BASE_MS,
    PAGE_ID,
    PSID,
    fast_password_hashing,
    page,
    page_body,
    post_webhook,
    queued_followups,
    text_item,
    webhook_fixture,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_followups")]
__all__ = ["fast_password_hashing", "page", "queued_followups"]


def _post(client: Client, body: dict[str, Any], capture: Any) -> None:
    with capture(execute=True):
        response = post_webhook(client, body)
    assert response.status_code == 200


def _only_referral() -> ConversationReferral:
    referrals = list(ConversationReferral.objects.all())
    assert len(referrals) == 1
    return referrals[0]


def test_an_m_me_link_ref_is_recorded_against_the_conversation(
    client: Client, page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    _post(client, webhook_fixture("referral"), django_capture_on_commit_callbacks)
    referral = _only_referral()
    conversation = Conversation.objects.get(page=page, contact__psid=PSID)
    assert referral.conversation_id == conversation.pk
    assert referral.organization_id == page.organization_id
    assert (referral.kind, referral.source, referral.ref, referral.referral_type) == (
        ReferralKind.LINK,
        "SHORTLINK",
        "spring-campaign",
        "OPEN_THREAD",
    )
    assert int(referral.occurred_at.timestamp() * 1000) == BASE_MS


def test_a_click_to_messenger_ad_keeps_its_id_and_title(
    client: Client, page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    _post(client, webhook_fixture("referral_ad"), django_capture_on_commit_callbacks)
    referral = _only_referral()
    assert (referral.kind, referral.ad_id, referral.ad_title) == (ReferralKind.AD, "23851234567890123", "Blue kettle")


def test_a_postback_with_a_referral_is_recorded(
    client: Client, page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    _post(client, webhook_fixture("postback"), django_capture_on_commit_callbacks)
    referral = _only_referral()
    assert (referral.kind, referral.ref) == (ReferralKind.LINK, "summer-sale")
    assert referral.message.mid == "m_postback_Gs01"


def test_the_chat_plugin_is_recorded_with_the_page_it_was_on(
    client: Client, page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    item = {
        "sender": {"user_ref": "guest-7c1"},
        "recipient": {"id": PAGE_ID},
        "timestamp": BASE_MS,
        "referral": {
            "source": "CUSTOMER_CHAT_PLUGIN",
            "type": "OPEN_THREAD",
            "ref": "pricing",
            "referer_uri": "https://shop.example.com/pricing",
        },
    }
    _post(client, page_body((PAGE_ID, [item])), django_capture_on_commit_callbacks)
    referral = _only_referral()
    assert (referral.kind, referral.ref, referral.referer_uri) == (
        ReferralKind.PLUGIN,
        "pricing",
        "https://shop.example.com/pricing",
    )


def test_a_message_after_an_ad_in_an_existing_conversation_is_recorded(
    client: Client, page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    """The message's own referral (a returning customer clicking an ad): on PostgreSQL this
    POST takes the one statement, elsewhere the step-by-step path; both record it."""
    _post(client, page_body((PAGE_ID, [text_item(mid="m_first")])), django_capture_on_commit_callbacks)
    assert not ConversationReferral.objects.exists()
    item = text_item(mid="m_after_ad", text="Is it in stock?", timestamp=BASE_MS + 1000)
    item["message"]["referral"] = {
        "source": "ADS",
        "type": "OPEN_THREAD",
        "ad_id": "777",
        "ads_context_data": {"ad_title": "Spring sale"},
    }
    stored_in_one_statement: list[Any] = []
    original = receive.store_in_one_statement

    def spy(*args: Any, **kwargs: Any) -> Any:
        stored_in_one_statement.append(original(*args, **kwargs))
        return stored_in_one_statement[-1]

    with mock.patch.object(receive, "store_in_one_statement", spy):
        _post(client, page_body((PAGE_ID, [item])), django_capture_on_commit_callbacks)
    if connection.vendor == "postgresql":
        assert len(stored_in_one_statement) == 1 and stored_in_one_statement[0] is not None
    referral = _only_referral()
    assert referral.message == Message.objects.get(mid="m_after_ad")
    assert (referral.kind, referral.ad_title) == (ReferralKind.AD, "Spring sale")
    assert Message.objects.get(mid="m_after_ad").text == "Is it in stock?"


def test_a_repeated_delivery_records_the_referral_once(
    client: Client, page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    body = webhook_fixture("referral")
    _post(client, body, django_capture_on_commit_callbacks)
    _post(client, copy.deepcopy(body), django_capture_on_commit_callbacks)
    assert ConversationReferral.objects.count() == 1


def test_a_plain_message_records_nothing(
    client: Client, page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    _post(client, webhook_fixture("message_text"), django_capture_on_commit_callbacks)
    assert not ConversationReferral.objects.exists()


def test_referral_parsing_groups_sources_and_ignores_junk() -> None:
    assert referral_parse({"source": "ads", "ad_id": 12}) is not None
    assert referral_parse({"source": "ads", "ad_id": 12}).kind == "ad"  # type: ignore[union-attr]
    assert referral_parse({"source": "MESSENGER_CODE", "ref": "x"}).kind == "other"  # type: ignore[union-attr]
    assert referral_parse({}) is None
    assert referral_parse("SHORTLINK") is None
    assert referral_in_item({"message": {"mid": "m", "text": "hi"}}) is None
    assert referral_in_item({"postback": {"referral": {"ref": "a", "source": "SHORTLINK"}}}).ref == "a"  # type: ignore[union-attr]


# --- The card and the filters --------------------------------------------------------------------


def _referral(conversation: Conversation, **fields: Any) -> ConversationReferral:
    message = factories.make_message(conversation, text="")
    fields.setdefault("occurred_at", message.sent_at)
    return ConversationReferral.objects.create(
        organization=conversation.organization, conversation=conversation, message=message, **fields
    )


@pytest.fixture
def three(page: FacebookPage) -> dict[str, Conversation]:
    from_ad = factories.make_conversation(page)
    _referral(from_ad, kind=ReferralKind.AD, source="ADS", ad_id="1", ad_title="Spring sale")
    from_link = factories.make_conversation(page)
    _referral(from_link, kind=ReferralKind.LINK, source="SHORTLINK", ref="spring")
    plain = factories.make_conversation(page)
    factories.make_message(plain)
    return {"ad": from_ad, "link": from_link, "plain": plain}


@pytest.mark.parametrize(
    ("language", "ad_text", "link_text"),
    [
        ("en", "Came from the ad “Spring sale”", "Came from the link ref=spring"),
        ("ja", "広告「Spring sale」から来ました", "リンク ref=spring から来ました"),
    ],
)
def test_the_conversation_page_shows_the_referral_card(
    client: Client, tenant_a: Tenant, three: dict[str, Conversation], language: str, ad_text: str, link_text: str
) -> None:
    Membership.objects.filter(pk=tenant_a.agent.pk).update(language=language)
    client.force_login(tenant_a.agent.user)
    slug = tenant_a.organization.slug
    for kind, text in (("ad", ad_text), ("link", link_text)):
        url = reverse("messenger:conversation", kwargs={"org_slug": slug, "conversation_id": three[kind].pk})
        response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        assert "hd-referral-card" in body
        assert text in body
    plain = reverse("messenger:conversation", kwargs={"org_slug": slug, "conversation_id": three["plain"].pk})
    assert "hd-referral-card" not in client.get(plain).content.decode()


def test_the_card_text_is_in_each_language(three: dict[str, Conversation]) -> None:
    referral = ConversationReferral.objects.get(conversation=three["ad"])
    with translation.override("en"):
        assert referral.text == "Came from the ad “Spring sale”"
    with translation.override("ja"):
        assert referral.text == "広告「Spring sale」から来ました"
    link = ConversationReferral.objects.get(conversation=three["link"])
    with translation.override("ja"):
        assert link.text == "リンク ref=spring から来ました"


def test_the_inbox_filters_by_referral(client: Client, tenant_a: Tenant, three: dict[str, Conversation]) -> None:
    client.force_login(tenant_a.agent.user)
    url = reverse("messenger:inbox", kwargs={"org_slug": tenant_a.organization.slug})

    def shown(**params: str) -> set[int]:
        body = client.get(url, params).content.decode()
        return {c.pk for c in three.values() if f"/inbox/{c.pk}/" in body}

    assert shown() == {c.pk for c in three.values()}
    assert shown(referral="ad") == {three["ad"].pk}
    assert shown(referral="link") == {three["link"].pk}
    assert shown(referral="any") == {three["ad"].pk, three["link"].pk}
    assert shown(ref="spring") == {three["link"].pk}


def test_the_conversations_api_filters_by_referral(tenant_a: Tenant, three: dict[str, Conversation]) -> None:
    api = api_client_for(tenant_a.agent)

    def listed(**params: str) -> set[int]:
        response = api.get("/api/v1/conversations/", params)
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    assert listed(referral="ad") == {three["ad"].pk}
    assert listed(referral="any") == {three["ad"].pk, three["link"].pk}
    assert listed(ref="spring") == {three["link"].pk}
    assert listed(referral="link", ref="nope") == set()
    assert listed(referral="junk") == {c.pk for c in three.values()}


def test_another_organizations_referrals_filter_nothing_in(
    tenant_a: Tenant, tenant_b: Tenant, three: dict[str, Conversation]
) -> None:
    channel = factories.make_channel(tenant_b.organization, tenant_b.department)
    other = factories.make_conversation(factories.make_page(channel))
    _referral(other, kind=ReferralKind.LINK, ref="spring")
    response = api_client_for(tenant_b.admin).get("/api/v1/conversations/", {"ref": "spring"})
    assert {row["id"] for row in response.json()["results"]} == {other.pk}
    response = api_client_for(tenant_a.admin).get("/api/v1/conversations/", {"ref": "spring"})
    assert {row["id"] for row in response.json()["results"]} == {three["link"].pk}
