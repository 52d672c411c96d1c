"""The login dialog and the OAuth calls, driven over HTTP with the product's Graph client."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings

from messenger.graph import LOGIN_SCOPES, SUBSCRIBED_FIELDS, GraphError, PermissionMissingError, dialog_url
from messenger.sandbox import people
from messenger.sandbox.models import SandboxSubscription, SandboxToken, TokenKind
from tests.sandbox.conftest import VERSION, Receiver, Sandbox

_HIDDEN = re.compile(r'<input type="hidden" name="(?P<name>[^"]+)" value="(?P<value>[^"]*)">')


def _open_dialog(
    sandbox: Sandbox, *, redirect_uri: str, state_value: str = "csrf-state-1"
) -> tuple[requests.Session, str, str]:
    url = dialog_url(
        dialog_base=sandbox.dialog_url,
        version=VERSION,
        app_id=settings.FB_APP_ID,
        redirect_uri=redirect_uri,
        state=state_value,
    )
    session = requests.Session()
    response = session.get(url, timeout=5)
    assert response.status_code == 200
    return session, url, response.text


def _submit(
    session: requests.Session,
    url: str,
    html: str,
    *,
    user_id: str,
    permissions: Sequence[str],
    action: str = "continue",
) -> requests.Response:
    import html as html_lib

    fields = {m.group("name"): html_lib.unescape(m.group("value")) for m in _HIDDEN.finditer(html)}
    data: dict[str, object] = {**fields, "user": user_id, "permissions": list(permissions), "action": action}
    return session.post(url, data=data, timeout=5)


def _callback_query(receiver: Receiver) -> dict[str, str]:
    callback = [r for r in receiver.requests if r.method == "GET"][-1]
    return {key: values[0] for key, values in parse_qs(urlsplit(callback.path).query).items()}


def _login(
    sandbox: Sandbox,
    receiver: Receiver,
    *,
    declined: Sequence[str] = (),
    action: str = "continue",
    state_value: str = "csrf-state-1",
) -> tuple[str, dict[str, str]]:
    redirect_uri = f"{receiver.url}/oauth/callback"
    session, url, html = _open_dialog(sandbox, redirect_uri=redirect_uri, state_value=state_value)
    granted = [scope for scope in LOGIN_SCOPES if scope not in declined]
    response = _submit(session, url, html, user_id=sandbox.user.facebook_id, permissions=granted, action=action)
    assert response.status_code == 200  # the redirect was followed to the callback
    return redirect_uri, _callback_query(receiver)


@pytest.mark.django_db(transaction=True)
def test_the_whole_oauth_dance_links_a_page_and_subscribes_the_app(sandbox: Sandbox, receiver: Receiver) -> None:
    client = sandbox.client
    redirect_uri, callback = _login(sandbox, receiver)
    assert callback["state"] == "csrf-state-1"

    short = client.exchange_code(code=callback["code"], redirect_uri=redirect_uri)
    assert short.token_type == "bearer"
    assert short.expires_in is not None and 0 < short.expires_in <= 2 * 60 * 60

    long = client.exchange_long_lived(user_token=short.access_token)
    assert long.expires_in is not None and 5_183_990 <= long.expires_in <= 5_184_000

    pages = client.list_pages(user_token=long.access_token)
    assert [(p.id, p.name, p.category) for p in pages] == [(sandbox.page.page_id, "Ann's Shop", "Business")]
    assert "MESSAGING" in pages[0].tasks

    client.subscribe_app(page_id=pages[0].id, page_token=pages[0].access_token)
    assert SandboxSubscription.objects.get(page=sandbox.page).subscribed_fields == list(SUBSCRIBED_FIELDS)

    info = client.debug_token(input_token=pages[0].access_token)
    assert (info.type, info.is_valid, info.app_id) == ("PAGE", True, settings.FB_APP_ID)
    assert info.expires_at is None  # a page token from a long-lived user token never expires
    assert info.data_access_expires_at is not None
    assert set(info.scopes) == set(LOGIN_SCOPES)
    assert info.user_id == sandbox.user.facebook_id

    user_info = client.debug_token(input_token=long.access_token)
    assert (user_info.type, user_info.is_valid) == ("USER", True)
    assert user_info.expires_at is not None

    client.unsubscribe_app(page_id=pages[0].id, page_token=pages[0].access_token)
    assert not SandboxSubscription.objects.filter(page=sandbox.page).exists()


@pytest.mark.django_db(transaction=True)
def test_the_dialog_is_labelled_and_shows_every_requested_permission_checked(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    _session, _url, html = _open_dialog(sandbox, redirect_uri=f"{receiver.url}/cb")
    assert "Facebook sandbox" in html
    assert "Ann Owner" in html
    for scope in LOGIN_SCOPES:
        assert re.search(rf'name="permissions" id="perm-{scope}" value="{scope}" checked', html)


@pytest.mark.django_db(transaction=True)
def test_the_dialog_refuses_an_unknown_client_id_without_redirecting(sandbox: Sandbox, receiver: Receiver) -> None:
    url = dialog_url(
        dialog_base=sandbox.dialog_url, version=VERSION, app_id="999", redirect_uri=f"{receiver.url}/cb", state="s"
    )
    response = requests.get(url, timeout=5, allow_redirects=False)
    assert response.status_code == 400
    assert "Invalid App ID" in response.text
    assert receiver.requests == []


@pytest.mark.django_db(transaction=True)
def test_cancel_sends_the_person_back_with_access_denied_and_the_state(sandbox: Sandbox, receiver: Receiver) -> None:
    _redirect_uri, callback = _login(sandbox, receiver, action="cancel", state_value="st-42")
    assert callback == {
        "error": "access_denied",
        "error_code": "200",
        "error_description": "Permissions error",
        "error_reason": "user_denied",
        "state": "st-42",
    }


@pytest.mark.django_db(transaction=True)
def test_a_code_is_refused_the_second_time(sandbox: Sandbox, receiver: Receiver) -> None:
    redirect_uri, callback = _login(sandbox, receiver)
    sandbox.client.exchange_code(code=callback["code"], redirect_uri=redirect_uri)
    with pytest.raises(GraphError) as refused:
        sandbox.client.exchange_code(code=callback["code"], redirect_uri=redirect_uri)
    assert (refused.value.code, refused.value.subcode) == (100, 36009)
    assert callback["code"] not in str(refused.value)


@pytest.mark.django_db(transaction=True)
def test_a_code_is_refused_with_another_redirect_uri(sandbox: Sandbox, receiver: Receiver) -> None:
    redirect_uri, callback = _login(sandbox, receiver)
    with pytest.raises(GraphError) as refused:
        sandbox.client.exchange_code(code=callback["code"], redirect_uri=redirect_uri + "/elsewhere")
    assert (refused.value.code, refused.value.subcode) == (100, 36008)
    # The refusal did not use the code up.
    assert sandbox.client.exchange_code(code=callback["code"], redirect_uri=redirect_uri).access_token


@pytest.mark.django_db(transaction=True)
def test_a_wrong_app_secret_is_refused(sandbox: Sandbox, receiver: Receiver) -> None:
    from messenger.graph import GraphClient

    redirect_uri, callback = _login(sandbox, receiver)
    impostor = GraphClient(
        base_url=sandbox.graph_url, app_id=settings.FB_APP_ID, app_secret="wrong", sleep=lambda s: None
    )
    with pytest.raises(GraphError) as refused:
        impostor.exchange_code(code=callback["code"], redirect_uri=redirect_uri)
    assert refused.value.code == 1
    assert "Error validating client secret" in refused.value.message


@pytest.mark.django_db(transaction=True)
def test_a_declined_permission_is_missing_from_debug_token_and_its_calls_fail(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    client = sandbox.client
    redirect_uri, callback = _login(sandbox, receiver, declined=["pages_manage_metadata"])
    user_token = client.exchange_long_lived(
        user_token=client.exchange_code(code=callback["code"], redirect_uri=redirect_uri).access_token
    ).access_token
    info = client.debug_token(input_token=user_token)
    assert info.is_valid
    assert "pages_manage_metadata" not in info.scopes
    assert "pages_messaging" in info.scopes
    page = client.list_pages(user_token=user_token)[0]
    with pytest.raises(PermissionMissingError) as refused:
        client.subscribe_app(page_id=page.id, page_token=page.access_token)
    assert refused.value.code == 200


@pytest.mark.django_db(transaction=True)
def test_page_tokens_from_a_short_lived_user_token_expire_with_it(sandbox: Sandbox, receiver: Receiver) -> None:
    redirect_uri, callback = _login(sandbox, receiver)
    short = sandbox.client.exchange_code(code=callback["code"], redirect_uri=redirect_uri)
    page = sandbox.client.list_pages(user_token=short.access_token)[0]
    info = sandbox.client.debug_token(input_token=page.access_token)
    assert info.type == "PAGE"
    assert info.expires_at is not None


@pytest.mark.django_db(transaction=True)
def test_me_accounts_is_paged_and_the_client_follows_every_page(sandbox: Sandbox) -> None:
    for number in range(30):
        people.sandbox_page_create(user=sandbox.user, name=f"Branch {number}", page_id=f"3000000000{number:05d}")
    user_token = people.sandbox_user_token_issue(user=sandbox.user)
    first = requests.get(
        f"{sandbox.graph_url}/{VERSION}/me/accounts", params={"access_token": user_token}, timeout=5
    ).json()
    assert len(first["data"]) == 25
    assert "next" in first["paging"]
    pages = sandbox.client.list_pages(user_token=user_token)
    assert len({page.id for page in pages}) == 31
    assert SandboxToken.objects.filter(kind=TokenKind.PAGE).count() == 25 + 31


@pytest.mark.django_db(transaction=True)
def test_tokens_are_stored_only_as_hashes(sandbox: Sandbox) -> None:
    raw = people.sandbox_page_token_issue(page_id=sandbox.page.page_id)
    stored = SandboxToken.objects.get(page=sandbox.page)
    assert raw not in (stored.token_hash, stored.hint)
    assert stored.hint == raw[-4:]


@pytest.mark.django_db(transaction=True)
def test_me_is_the_person_for_a_user_token_and_the_page_for_a_page_token(sandbox: Sandbox) -> None:
    me = f"{sandbox.graph_url}/{VERSION}/me"
    user_token = people.sandbox_user_token_issue(user=sandbox.user)
    page_token = people.sandbox_page_token_issue(page_id=sandbox.page.page_id)
    assert requests.get(me, params={"access_token": user_token}, timeout=5).json() == {
        "name": "Ann Owner",
        "id": sandbox.user.facebook_id,
    }
    assert requests.get(me, params={"access_token": page_token}, timeout=5).json() == {
        "name": "Ann's Shop",
        "id": sandbox.page.page_id,
    }
