"""A page's token as Facebook refuses it: why (each error 190 subcode has its own reason, in
words, on the page and in the admins' notice), and never over a re-authorization that
happened while the refused token was being checked or used (compare-and-set on the token)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone, translation

from channels.models import Channel
from helpdesk.models import Notification
from messenger import client as messenger_client
from messenger.client import call_with_page
from messenger.crypto import decrypt_token
from messenger.graph import (
    TOKEN_INVALID_REASON,
    TOKEN_SUBCODE_REASONS,
    GraphClient,
    PageAccount,
    TokenInfo,
    TokenInvalidError,
    error_from_response,
)
from messenger.models import FacebookPage, MessageStatus, PageStatus, ReauthorizationReason
from messenger.pages import linking, selectors, sweeps
from messenger.services.sending import delivery, replies
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db

OLD_TOKEN, NEW_TOKEN = "EAAG-old-page-token", "EAAG-new-page-token"
SCOPES = ("pages_show_list", "pages_messaging", "pages_manage_metadata", "pages_read_engagement")

# What an admin reads for each subcode (English; the Japanese catalogue translates each).
WORDS = {
    458: "App access revoked",
    459: "Facebook holds the authorizing account at a security checkpoint",
    460: "Password changed",
    463: "Token expired",
    464: "The authorizing Facebook account is not confirmed",
    467: "The authorizing person logged out of Facebook or their session ended",
    492: "The authorizing person no longer has a role on the Page",
    493: "The authorizing person has not used Facebook for 90 days",
}


@pytest.fixture
def channel(tenant_a: Tenant) -> Channel:
    return factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")


@pytest.fixture
def page(channel: Channel) -> FacebookPage:
    return factories.make_page(channel, page_id="555", name="Shop page", token=OLD_TOKEN, token_checked_at=None)


def refused(subcode: int | None) -> TokenInvalidError:
    body = {"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190}}
    if subcode is not None:
        body["error"]["error_subcode"] = subcode
    error = error_from_response(400, body)
    assert isinstance(error, TokenInvalidError)
    return error


def token_info(*, valid: bool, subcode: int | None = None, expires_at: Any = None) -> TokenInfo:
    return TokenInfo(
        app_id="1",
        type="PAGE",
        is_valid=valid,
        expires_at=expires_at,
        data_access_expires_at=None,
        scopes=SCOPES,
        user_id="42",
        error_code=None if valid else 190,
        error_subcode=subcode,
        error_message=None if valid else "Error validating access token",
    )


def notices() -> list[Notification]:
    return list(Notification.objects.filter(kind=Notification.Kind.PAGE_REAUTHORIZATION))


def fake_graph() -> Any:
    return mock.create_autospec(GraphClient, instance=True)


def reauthorize(tenant: Tenant, page: FacebookPage) -> None:
    """An admin's pass through Facebook Login for this page, with the product's own service."""
    linking.page_reauthorize(
        organization=tenant.organization,
        acting_user=tenant.admin.user,
        page=page,
        accounts=[PageAccount(id=page.page_id, name=page.name, access_token=NEW_TOKEN, tasks=(), category="Shop")],
    )


# --- Each subcode, its own reason --------------------------------------------------------------


def test_every_subcode_reason_has_words_for_the_admins() -> None:
    assert {*TOKEN_SUBCODE_REASONS.values(), TOKEN_INVALID_REASON} <= set(ReauthorizationReason.values)
    assert len(set(TOKEN_SUBCODE_REASONS.values())) == len(TOKEN_SUBCODE_REASONS)


@pytest.mark.parametrize("subcode", sorted(WORDS))
def test_a_send_refused_with_a_subcode_shows_its_own_reason_on_the_page_and_in_the_notice(
    subcode: int, tenant_a: Tenant, channel: Channel, page: FacebookPage, web_client_for: Any
) -> None:
    def call(client: GraphClient, token: str) -> None:
        raise refused(subcode)

    with pytest.raises(TokenInvalidError):
        call_with_page(page, call)

    page.refresh_from_db()
    assert (page.status, page.reauthorization_reason) == (
        PageStatus.REAUTHORIZATION_REQUIRED,
        TOKEN_SUBCODE_REASONS[subcode],
    )
    assert selectors.linked_page(page).reason_label == WORDS[subcode]
    [notice] = notices()
    assert f"Reason: {WORDS[subcode]}." in notice.body
    html = web_client_for(tenant_a.admin).get(f"/o/alpha/settings/channels/{channel.pk}/").content.decode()
    assert WORDS[subcode] in html


@pytest.mark.parametrize("subcode", sorted(WORDS))
def test_the_token_check_gives_the_same_reason_for_the_same_subcode(
    subcode: int, page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    graph = fake_graph()
    graph.debug_token.return_value = token_info(valid=False, subcode=subcode)
    with mock.patch.object(messenger_client, "graph_client", return_value=graph):
        with django_capture_on_commit_callbacks(execute=True):
            assert sweeps.token_expiry_sweep(check_limit=10).invalid == 1
    page.refresh_from_db()
    assert page.reauthorization_reason == TOKEN_SUBCODE_REASONS[subcode]
    [notice] = notices()
    assert f"Reason: {WORDS[subcode]}." in notice.body


def test_an_unknown_subcode_is_a_token_no_longer_valid(page: FacebookPage) -> None:
    def call(client: GraphClient, token: str) -> None:
        raise refused(12345)

    with pytest.raises(TokenInvalidError):
        call_with_page(page, call)
    page.refresh_from_db()
    assert page.reauthorization_reason == ReauthorizationReason.TOKEN_INVALID


def test_the_reasons_read_in_japanese_for_a_japanese_organization(tenant_a: Tenant, page: FacebookPage) -> None:
    tenant_a.organization.language = "ja"
    tenant_a.organization.save(update_fields=["language"])

    def call(client: GraphClient, token: str) -> None:
        raise refused(492)

    with pytest.raises(TokenInvalidError):
        call_with_page(page, call)
    [notice] = notices()
    with translation.override("ja"):
        words = str(ReauthorizationReason.PAGE_ROLE_LOST.label)
    assert words != WORDS[492]
    assert words in notice.body


# --- A re-authorization in between wins ------------------------------------------------------------


def test_a_token_check_that_finds_the_old_token_dead_leaves_a_page_reauthorized_meanwhile_alone(
    tenant_a: Tenant, page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    graph = fake_graph()
    new_expiry = timezone.now() + timedelta(days=60)

    def debug_token(*, input_token: str) -> TokenInfo:
        if input_token == NEW_TOKEN:  # the re-authorization's own check
            return token_info(valid=True, expires_at=new_expiry)
        reauthorize(tenant_a, page)  # while the sweep waits for Facebook's answer
        return token_info(valid=False, subcode=460)

    graph.debug_token.side_effect = debug_token
    with mock.patch.object(messenger_client, "graph_client", return_value=graph):
        with django_capture_on_commit_callbacks(execute=True):
            report = sweeps.token_expiry_sweep(check_limit=10)

    assert report.invalid == 0
    page.refresh_from_db()
    assert (page.status, page.reauthorization_reason) == (PageStatus.ACTIVE, "")
    assert decrypt_token(page.access_token_encrypted) == NEW_TOKEN
    assert page.token_expires_at == new_expiry
    assert notices() == []


def test_a_token_check_does_not_write_the_old_tokens_expiry_over_a_new_authorization(
    tenant_a: Tenant, page: FacebookPage
) -> None:
    graph = fake_graph()
    old_expiry, new_expiry = timezone.now() + timedelta(days=3), timezone.now() + timedelta(days=60)

    def debug_token(*, input_token: str) -> TokenInfo:
        if input_token == NEW_TOKEN:
            return token_info(valid=True, expires_at=new_expiry)
        reauthorize(tenant_a, page)
        return token_info(valid=True, expires_at=old_expiry)

    graph.debug_token.side_effect = debug_token
    with mock.patch.object(messenger_client, "graph_client", return_value=graph):
        sweeps.token_expiry_sweep(check_limit=10)

    page.refresh_from_db()
    assert page.token_expires_at == new_expiry


def test_a_send_refused_for_the_old_token_leaves_a_page_reauthorized_meanwhile_alone(
    tenant_a: Tenant, page: FacebookPage
) -> None:
    factories.associate(tenant_a.agent, page.channel)
    conversation = factories.make_conversation(page, factories.make_contact(page, psid="PSID-7"))
    factories.make_message(conversation, text="hello?", sent_at=timezone.now() - timedelta(minutes=5))
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        message = replies.message_send(
            organization=tenant_a.organization, acting_user=tenant_a.agent.user, conversation=conversation, text="Hi"
        )
    graph = fake_graph()
    graph.debug_token.return_value = token_info(valid=True)

    def send_message(**kwargs: Any) -> None:
        assert kwargs["page_token"] == OLD_TOKEN
        reauthorize(tenant_a, page)  # the admin finishes while Facebook answers the send
        raise refused(467)

    graph.send_message.side_effect = send_message
    with mock.patch.object(messenger_client, "graph_client", return_value=graph):
        assert delivery.message_deliver(message_id=message.pk) is None

    page.refresh_from_db()
    assert (page.status, page.reauthorization_reason) == (PageStatus.ACTIVE, "")
    assert decrypt_token(page.access_token_encrypted) == NEW_TOKEN
    assert notices() == []
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED  # the agent may retry: the page works again


def test_a_refused_token_still_marks_the_page_when_nobody_reauthorized(
    tenant_a: Tenant, page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    def call(client: GraphClient, token: str) -> None:
        assert token == OLD_TOKEN
        raise refused(460)

    with pytest.raises(TokenInvalidError):
        call_with_page(page, call)
    page.refresh_from_db()
    assert (page.status, page.reauthorization_reason) == (
        PageStatus.REAUTHORIZATION_REQUIRED,
        ReauthorizationReason.PASSWORD_CHANGED,
    )
    assert len(notices()) == 1
