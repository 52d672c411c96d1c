"""Each way a token dies on Facebook's side turns into the error the product must react to."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from messenger.client import call_with_page
from messenger.graph import (
    GraphClient,
    PermissionMissingError,
    TokenInvalidError,
)
from messenger.models import PageStatus, ReauthorizationReason
from messenger.sandbox import customers, people, revocations, selectors
from messenger.sandbox.models import SandboxSubscription
from tests import factories
from tests.conftest import Tenant
from tests.sandbox.conftest import VERSION, Sandbox


def _customer_writes(sandbox: Sandbox) -> str:
    customer = customers.sandbox_customer_create(page_id=sandbox.page.page_id, first_name="Bo", last_name="Li")
    customers.sandbox_customer_message(page_id=sandbox.page.page_id, psid=customer.psid, text="Hello?")
    return customer.psid


def _send(client: GraphClient, sandbox: Sandbox, token: str, psid: str) -> None:
    client.send_message(page_id=sandbox.page.page_id, page_token=token, recipient_psid=psid, message={"text": "Hi"})


@pytest.mark.django_db(transaction=True)
def test_expired_page_tokens_fail_with_463_and_debug_token_says_so(sandbox: Sandbox) -> None:
    psid = _customer_writes(sandbox)
    token = people.sandbox_page_token_issue(page_id=sandbox.page.page_id)
    _send(sandbox.client, sandbox, token, psid)

    assert revocations.sandbox_tokens_expire(page_id=sandbox.page.page_id) == 1
    with pytest.raises(TokenInvalidError) as refused:
        _send(sandbox.client, sandbox, token, psid)
    assert (refused.value.code, refused.value.subcode, refused.value.reason) == (190, 463, "token_expired")
    assert token not in str(refused.value)
    refusal = selectors.sandbox_sent_messages(page_id=sandbox.page.page_id)[-1]
    assert (refusal.http_status, refusal.error_code, refusal.error_subcode, refusal.text) == (400, 190, 463, "Hi")

    info = sandbox.client.debug_token(input_token=token)
    assert not info.is_valid
    assert (info.error_code, info.error_subcode) == (190, 463)


@pytest.mark.django_db(transaction=True)
def test_expiring_a_person_expires_their_user_and_page_tokens(sandbox: Sandbox) -> None:
    user_token = people.sandbox_user_token_issue(user=sandbox.user)
    page_token = people.sandbox_page_token_issue(page_id=sandbox.page.page_id)
    assert revocations.sandbox_tokens_expire(user=sandbox.user) == 2
    for token in (user_token, page_token):
        assert sandbox.client.debug_token(input_token=token).error_subcode == 463


@pytest.mark.django_db(transaction=True)
def test_a_password_change_kills_older_tokens_with_460_but_not_newer_ones(sandbox: Sandbox) -> None:
    psid = _customer_writes(sandbox)
    old = people.sandbox_page_token_issue(page_id=sandbox.page.page_id)
    revocations.sandbox_password_change(user=sandbox.user)
    with pytest.raises(TokenInvalidError) as refused:
        _send(sandbox.client, sandbox, old, psid)
    assert (refused.value.subcode, refused.value.reason) == (460, "password_changed")
    _send(sandbox.client, sandbox, people.sandbox_page_token_issue(page_id=sandbox.page.page_id), psid)


@pytest.mark.django_db(transaction=True)
def test_removing_the_app_kills_tokens_with_458_and_drops_the_subscription(sandbox: Sandbox) -> None:
    psid = _customer_writes(sandbox)
    token = people.sandbox_page_token_issue(page_id=sandbox.page.page_id)
    sandbox.client.subscribe_app(page_id=sandbox.page.page_id, page_token=token)
    revocations.sandbox_app_remove(user=sandbox.user)
    with pytest.raises(TokenInvalidError) as refused:
        _send(sandbox.client, sandbox, token, psid)
    assert (refused.value.subcode, refused.value.reason) == (458, "app_access_revoked")
    assert not SandboxSubscription.objects.exists()
    info = sandbox.client.debug_token(input_token=token)
    assert (info.is_valid, info.error_subcode, info.scopes) == (False, 458, ())


@pytest.mark.django_db(transaction=True)
def test_a_revoked_permission_leaves_the_token_valid_but_its_calls_fail(sandbox: Sandbox) -> None:
    psid = _customer_writes(sandbox)
    token = people.sandbox_page_token_issue(page_id=sandbox.page.page_id)
    revocations.sandbox_permission_revoke(user=sandbox.user, permission="pages_messaging")
    with pytest.raises(PermissionMissingError) as refused:
        _send(sandbox.client, sandbox, token, psid)
    assert (refused.value.code, refused.value.reason) == (10, "permissions_revoked")
    info = sandbox.client.debug_token(input_token=token)
    assert info.is_valid
    assert "pages_messaging" not in info.scopes

    revocations.sandbox_permission_revoke(user=sandbox.user, permission="pages_manage_metadata")
    with pytest.raises(PermissionMissingError) as refused:
        sandbox.client.subscribe_app(page_id=sandbox.page.page_id, page_token=token)
    assert refused.value.code == 200


@pytest.mark.django_db(transaction=True)
def test_an_unknown_token_is_refused_with_190(sandbox: Sandbox) -> None:
    psid = _customer_writes(sandbox)
    with pytest.raises(TokenInvalidError) as refused:
        _send(sandbox.client, sandbox, "EAASnot-a-token", psid)
    assert refused.value.code == 190
    assert not sandbox.client.debug_token(input_token="EAASnot-a-token").is_valid


@pytest.mark.django_db(transaction=True)
def test_a_page_token_only_works_for_its_own_page(sandbox: Sandbox) -> None:
    psid = _customer_writes(sandbox)
    other = people.sandbox_page_create(user=sandbox.user, name="Other")
    with pytest.raises(TokenInvalidError):
        _send(sandbox.client, sandbox, people.sandbox_page_token_issue(page_id=other.page_id), psid)


@pytest.mark.django_db(transaction=True)
def test_a_user_token_is_not_a_page_token(sandbox: Sandbox) -> None:
    psid = _customer_writes(sandbox)
    response = requests.post(
        f"{sandbox.graph_url}/{VERSION}/me/messages",
        params={"access_token": people.sandbox_user_token_issue(user=sandbox.user)},
        json={"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": "x"}},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 210


@pytest.mark.django_db(transaction=True)
def test_the_token_may_come_as_a_bearer_header(sandbox: Sandbox) -> None:
    psid = _customer_writes(sandbox)
    token = people.sandbox_page_token_issue(page_id=sandbox.page.page_id)
    response = requests.post(
        f"{sandbox.graph_url}/{VERSION}/me/messages",
        headers={"Authorization": f"Bearer {token}"},
        json={"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": "x"}},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["recipient_id"] == psid


@pytest.mark.django_db(transaction=True)
def test_the_products_client_marks_the_page_for_reauthorization_after_a_password_change(
    sandbox: Sandbox, tenant_a: Tenant, settings: Any
) -> None:
    psid = _customer_writes(sandbox)
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    page = factories.make_page(
        channel, page_id=sandbox.page.page_id, token=people.sandbox_page_token_issue(page_id=sandbox.page.page_id)
    )
    revocations.sandbox_password_change(user=sandbox.user)
    with pytest.raises(TokenInvalidError):
        call_with_page(
            page,
            lambda client, token: client.send_message(
                page_id=page.page_id, page_token=token, recipient_psid=psid, message={"text": "Hi"}
            ),
        )
    page.refresh_from_db()
    assert (page.status, page.reauthorization_reason) == (
        PageStatus.REAUTHORIZATION_REQUIRED,
        ReauthorizationReason.PASSWORD_CHANGED,
    )
