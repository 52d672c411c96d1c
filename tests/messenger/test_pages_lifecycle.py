# The sandbox fixtures are imported from tests.channels.facebook; their names are parameters below.
# ruff: noqa: F811
"""A linked page's authorization lifecycle outside the OAuth flow: Graph error 190 on any
call, a link whose Graph calls failed, removal with Facebook unreachable, key rotation."""

from __future__ import annotations

from io import StringIO
from typing import Any
from unittest import mock

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.utils import timezone

from channels.kinds import backend_for
from helpdesk.models import Notification
from messenger import client as messenger_client
from messenger.client import call_with_page
from messenger.crypto import decrypt_token, encrypt_token
from messenger.graph import GraphClient, PageAccount, TokenInfo, TokenInvalidError, TransientGraphError
from messenger.models import FacebookPage, PageStatus, ReauthorizationReason
from messenger.pages import linking
from messenger.sandbox.customers import sandbox_customer_create
from messenger.sandbox.people import sandbox_page_token_issue
from messenger.sandbox.revocations import sandbox_tokens_expire
from tests import factories
from tests.channels.facebook import DEMO_PAGE, Facebook, facebook  # noqa: F401
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


def _notices() -> list[Notification]:
    return list(Notification.objects.filter(kind=Notification.Kind.PAGE_REAUTHORIZATION))


@pytest.mark.django_db(transaction=True)
def test_error_190_on_any_call_marks_the_page_and_tells_the_admins_once(facebook: Facebook, tenant_a: Tenant) -> None:
    second_admin = factories.make_member(tenant_a.organization, role="admin")
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")
    page = factories.make_page(
        channel, page_id=DEMO_PAGE, name="Demo Page", token=sandbox_page_token_issue(page_id=DEMO_PAGE)
    )
    customer = sandbox_customer_create(page_id=DEMO_PAGE, first_name="Bo", last_name="Li")
    assert (
        call_with_page(page, lambda client, token: client.get_profile(psid=customer.psid, page_token=token)).first_name
        == "Bo"
    )

    sandbox_tokens_expire(page_id=DEMO_PAGE)
    for _ in range(2):
        with pytest.raises(TokenInvalidError):
            call_with_page(page, lambda client, token: client.get_profile(psid=customer.psid, page_token=token))
    page.refresh_from_db()
    assert (page.status, page.reauthorization_reason) == (
        PageStatus.REAUTHORIZATION_REQUIRED,
        ReauthorizationReason.TOKEN_EXPIRED,
    )
    notices = _notices()
    assert sorted(n.user_id for n in notices) == sorted([tenant_a.admin.user_id, second_admin.user_id])
    assert notices[0].title == "Facebook Page “Demo Page” needs re-authorization"
    assert "Token expired" in notices[0].body
    assert notices[0].url == f"/o/alpha/settings/channels/{channel.pk}/"
    assert not Notification.objects.filter(user=tenant_a.agent.user).exists()

    # After a re-authorization, a new failure is announced again.
    FacebookPage.objects.filter(pk=page.pk).update(
        status=PageStatus.ACTIVE,
        reauthorization_reason="",
        authorized_at=timezone.now(),
        access_token_encrypted=encrypt_token("EAAG-dead-token"),
    )
    page.refresh_from_db()
    with pytest.raises(TokenInvalidError):
        call_with_page(page, lambda client, token: client.get_profile(psid=customer.psid, page_token=token))
    assert len(_notices()) == 4


def _account(page_id: str = "555", name: str = "Shop page") -> PageAccount:
    return PageAccount(id=page_id, name=name, access_token="EAAG-fresh", tasks=("MESSAGING",), category="Shop")


def _valid_info() -> TokenInfo:
    return TokenInfo(
        app_id="1",
        type="PAGE",
        is_valid=True,
        expires_at=None,
        data_access_expires_at=None,
        scopes=("pages_show_list", "pages_messaging", "pages_manage_metadata", "pages_read_engagement"),
        user_id="1",
        error_code=None,
        error_subcode=None,
        error_message=None,
    )


def test_a_page_whose_subscription_failed_stays_newly_added_and_waits_for_authorization(tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    client = mock.create_autospec(GraphClient, instance=True)
    client.debug_token.return_value = _valid_info()
    client.subscribe_app.side_effect = TransientGraphError("Graph answered HTTP 500")
    with mock.patch.object(messenger_client, "graph_client", autospec=True, return_value=client):
        [outcome] = linking.pages_link(
            organization=tenant_a.organization, acting_user=None, channel=channel, accounts=[_account()]
        )
    assert not outcome.linked and "try “Re-authorize” again" in outcome.error
    page = FacebookPage.objects.get(page_id="555")
    assert (page.status, page.reauthorization_reason) == (
        PageStatus.REAUTHORIZATION_REQUIRED,
        ReauthorizationReason.PAGE_ADDED,
    )
    assert page.unlinked_at is None and decrypt_token(page.access_token_encrypted) == "EAAG-fresh"
    [linked] = backend_for("messenger").pages_by_channel(organization=tenant_a.organization, channel_ids=[channel.pk])[
        channel.pk
    ]
    assert linked.reason_label == "Page newly added to the channel"

    client.subscribe_app.side_effect = None
    with mock.patch.object(messenger_client, "graph_client", autospec=True, return_value=client):
        linking.page_reauthorize(organization=tenant_a.organization, acting_user=None, page=page, accounts=[_account()])
    page.refresh_from_db()
    assert (page.status, page.reauthorization_reason) == (PageStatus.ACTIVE, "")


def test_a_page_is_linked_to_one_channel_in_the_whole_service(tenant_a: Tenant, tenant_b: Tenant) -> None:
    theirs = factories.make_channel(tenant_b.organization, tenant_b.department, name="Theirs")
    factories.make_page(theirs, page_id="555")
    ours = factories.make_channel(tenant_a.organization, tenant_a.department)
    client = mock.create_autospec(GraphClient, instance=True)
    client.debug_token.return_value = _valid_info()
    with mock.patch.object(messenger_client, "graph_client", autospec=True, return_value=client):
        [outcome] = linking.pages_link(
            organization=tenant_a.organization, acting_user=None, channel=ours, accounts=[_account()]
        )
    assert outcome.error == "The Facebook Page “Shop page” is already linked to another channel."
    assert "Theirs" not in outcome.error and "Bravo" not in outcome.error
    client.subscribe_app.assert_not_called()
    assert not FacebookPage.objects.filter(channel=ours).exists()


def test_removing_a_page_tolerates_facebook_errors(tenant_a: Tenant, django_capture_on_commit_callbacks: Any) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    page = factories.make_page(channel)
    client = mock.create_autospec(GraphClient, instance=True)
    client.unsubscribe_app.side_effect = TokenInvalidError("Error validating access token", code=190, subcode=458)
    with mock.patch.object(messenger_client, "graph_client", autospec=True, return_value=client):
        with django_capture_on_commit_callbacks(execute=True):
            linking.page_remove(organization=tenant_a.organization, acting_user=None, channel=channel, page_pk=page.pk)
    client.unsubscribe_app.assert_called_once_with(page_id=page.page_id, page_token="page-token")
    page.refresh_from_db()
    assert page.unlinked_at is not None and page.reauthorization_reason == ReauthorizationReason.PAGE_REMOVED


def test_rotate_page_tokens_re_encrypts_under_the_newest_key(tenant_a: Tenant, settings: Any) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    old_key = settings.TOKEN_ENCRYPTION_KEYS[0]
    pages_ = [factories.make_page(channel, token=f"EAAG-token-{n}") for n in range(3)]
    new_key = Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key, old_key]
    out = StringIO()
    call_command("rotate_page_tokens", "--batch-size", "2", stdout=out)
    assert "Re-encrypted 3 page token(s)" in out.getvalue()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key]
    for n, page in enumerate(pages_):
        page.refresh_from_db()
        assert decrypt_token(page.access_token_encrypted) == f"EAAG-token-{n}"


def test_rotate_page_tokens_names_the_pages_it_cannot_read_but_never_their_tokens(
    tenant_a: Tenant, settings: Any
) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    unreadable = factories.make_page(channel, token="EAAG-lost")
    factories.make_page(channel, token="EAAG-kept")
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), settings.TOKEN_ENCRYPTION_KEYS[0]]
    FacebookPage.objects.filter(pk=unreadable.pk).update(
        access_token_encrypted=Fernet(Fernet.generate_key()).encrypt(b"EAAG-lost").decode()
    )
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("rotate_page_tokens", stdout=out)
    assert f"FacebookPage ids {unreadable.pk}" in str(failed.value)
    assert "EAAG" not in str(failed.value) + out.getvalue()
    assert "Re-encrypted 1 page token(s)" in out.getvalue()
