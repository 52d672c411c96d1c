# The sandbox fixtures are imported from tests.channels.facebook; their names are parameters below.
# ruff: noqa: F811
"""Linking Facebook Pages through Facebook Login, end to end over real HTTP: the admin's
browser, the helpdesk served by `live_server`, and the Graph API sandbox as Facebook."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from django.contrib.sessions.models import Session

from channels.models import Channel
from messenger import oauth
from messenger.crypto import decrypt_token
from messenger.graph import SUBSCRIBED_FIELDS
from messenger.models import FacebookPage, PageStatus, ReauthorizationReason
from messenger.sandbox.models import SandboxSubscription
from messenger.sandbox.people import sandbox_user_create
from messenger.sandbox.revocations import sandbox_tokens_expire
from tests import factories
from tests.channels.facebook import (  # noqa: F401 (fixtures)
    DEMO_PAGE,
    SECOND_PAGE,
    THIRD_PAGE,
    AdminBrowser,
    Facebook,
    admin_browser,
    alerts,
    facebook,
)
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db(transaction=True)


def _channel(tenant: Tenant, name: str = "Support chat") -> Channel:
    return factories.make_channel(tenant.organization, tenant.department, name=name)


def _every_text(admin_browser: AdminBrowser) -> str:
    return "\n".join(response.text for response in admin_browser.browser.history)


def test_an_admin_creates_a_channel_and_links_a_page_in_the_browser(admin_browser: AdminBrowser, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    browser = admin_browser.browser
    form_page = browser.get(admin_browser.settings_path("channels/messenger/new/"))
    assert form_page.status_code == 200
    # The order an admin expects: icon, name, Facebook Pages, department.
    legends = [
        re.sub(r"<[^>]+>|\d", "", legend).strip()
        for legend in re.findall(r"<legend[^>]*>(.*?)</legend>", form_page.text)
    ]
    assert legends == ["Icon", "Name", "Facebook Pages", "Department"]
    dialog = browser.submit(
        form_page,
        having="name",
        set={"name": "Support chat", "department": str(admin_browser.tenant.department.pk)},
        button="Save and add Facebook Page",
    )
    assert "/sandbox/dialog/" in dialog.url
    assert "pages_messaging" in dialog.text
    picker = admin_browser.grant(dialog)
    assert "Demo Page" in picker.text and "Second Page" in picker.text
    done = admin_browser.choose(picker, DEMO_PAGE)

    channel = Channel.objects.get(organization=admin_browser.tenant.organization, name="Support chat")
    assert done.url.endswith(f"/settings/channels/{channel.pk}/")
    assert "“Demo Page” is linked and active." in alerts(done)
    page = FacebookPage.objects.get(channel=channel)
    assert (page.page_id, page.name, page.status) == (DEMO_PAGE, "Demo Page", PageStatus.ACTIVE)
    assert page.authorized_at is not None and page.token_checked_at is not None
    token = decrypt_token(page.access_token_encrypted)
    assert token and token not in page.access_token_encrypted
    subscription = SandboxSubscription.objects.get(page__page_id=DEMO_PAGE)
    assert list(subscription.subscribed_fields) == list(SUBSCRIBED_FIELDS)
    # The token is never shown, logged, nor kept in the session in clear.
    assert token not in _every_text(admin_browser)
    assert all(token not in record.getMessage() for record in caplog.records)
    assert all(token not in str(session.get_decoded()) for session in Session.objects.all())


def test_the_picker_links_several_pages_to_one_channel(admin_browser: AdminBrowser) -> None:
    channel = _channel(admin_browser.tenant)
    done = admin_browser.link(channel.pk, DEMO_PAGE, THIRD_PAGE)
    assert sorted(FacebookPage.objects.filter(channel=channel).values_list("page_id", flat=True)) == [
        DEMO_PAGE,
        THIRD_PAGE,
    ]
    assert "Demo Page" in done.text and "Third Page" in done.text


def test_the_picker_keeps_the_page_tokens_out_of_the_html(admin_browser: AdminBrowser) -> None:
    channel = _channel(admin_browser.tenant)
    picker = admin_browser.grant(admin_browser.start_link(channel.pk))
    admin_browser.choose(picker, SECOND_PAGE)
    token = decrypt_token(FacebookPage.objects.get(page_id=SECOND_PAGE).access_token_encrypted)
    assert token not in picker.text
    assert "access_token" not in picker.text


def test_a_page_linked_in_another_organization_is_refused_without_naming_it(
    admin_browser: AdminBrowser, tenant_b: Tenant
) -> None:
    other = factories.make_channel(tenant_b.organization, tenant_b.department, name="Bravo secret channel")
    factories.make_page(other, page_id=DEMO_PAGE, name="Demo Page")
    channel = _channel(admin_browser.tenant)
    picker = admin_browser.grant(admin_browser.start_link(channel.pk))
    assert "Linked to another channel" in picker.text
    # Even a forged choice of the disabled box is refused.
    done = admin_browser.choose(picker, DEMO_PAGE)
    assert "The Facebook Page “Demo Page” is already linked to another channel." in alerts(done)
    assert "Bravo" not in done.text and "bravo" not in done.text
    assert not FacebookPage.objects.filter(channel=channel).exists()


def test_a_page_linked_to_another_channel_of_the_organization_names_that_channel(
    admin_browser: AdminBrowser,
) -> None:
    first = _channel(admin_browser.tenant, "First")
    admin_browser.link(first.pk, DEMO_PAGE)
    second = factories.make_channel(
        admin_browser.tenant.organization, factories.make_department(admin_browser.tenant.organization), name="Second"
    )
    done = admin_browser.link(second.pk, DEMO_PAGE)
    assert "The Facebook Page “Demo Page” is already linked to the channel “First”." in alerts(done)
    assert FacebookPage.objects.get(page_id=DEMO_PAGE, unlinked_at__isnull=True).channel_id == first.pk


def _callback_url(admin_browser: AdminBrowser, channel_id: int) -> str:
    """Through Facebook's dialog to the callback URL it sends the browser to (not followed)."""
    dialog = admin_browser.start_link(channel_id)
    back = admin_browser.browser.submit(dialog, having="permissions", button="Continue", follow=False)
    return str(back.headers["Location"])


def test_a_forged_state_is_refused_and_nothing_is_linked(admin_browser: AdminBrowser) -> None:
    channel = _channel(admin_browser.tenant)
    admin_browser.start_link(channel.pk)
    response = admin_browser.browser.get("/messenger/oauth/callback/?code=AQforged&state=forged")
    assert response.url.endswith(f"/o/{admin_browser.slug}/settings/channels/messenger/")
    assert any("could not be verified" in text for text in alerts(response))
    assert not FacebookPage.objects.exists()


def test_a_replayed_callback_is_refused(admin_browser: AdminBrowser) -> None:
    channel = _channel(admin_browser.tenant)
    callback_url = _callback_url(admin_browser, channel.pk)
    first = admin_browser.browser.get(callback_url)
    assert "/messenger/oauth/choose/" in first.url
    replay = admin_browser.browser.get(callback_url)
    assert any("could not be verified" in text for text in alerts(replay))
    assert not FacebookPage.objects.exists()


def test_facebook_sends_every_organization_back_to_the_one_app_level_callback(
    admin_browser: AdminBrowser, tenant_b: Tenant
) -> None:
    factories.make_member(tenant_b.organization, role="admin", username=admin_browser.tenant.admin.user.username)
    alpha_callback = _callback_url(admin_browser, _channel(admin_browser.tenant).pk)
    bravo_channel = factories.make_channel(tenant_b.organization, tenant_b.department, name="Bravo chat")
    bravo_dialog = admin_browser.browser.get(f"/o/bravo/messenger/channels/{bravo_channel.pk}/pages/link/")
    bravo_back = admin_browser.browser.submit(bravo_dialog, having="permissions", button="Continue", follow=False)
    bravo_callback = bravo_back.headers["Location"]
    base = f"{admin_browser.browser.base_url}/messenger/oauth/callback/?"
    assert alpha_callback.startswith(base) and bravo_callback.startswith(base)


def test_the_callback_acts_in_the_organization_the_state_was_started_in(
    admin_browser: AdminBrowser, tenant_b: Tenant
) -> None:
    # The same person administers both organizations and opens Bravo in another tab while
    # Facebook's dialog is open; the state belongs to Alpha, and so does the linked page.
    factories.make_member(tenant_b.organization, role="admin", username=admin_browser.tenant.admin.user.username)
    channel = _channel(admin_browser.tenant)
    callback_url = _callback_url(admin_browser, channel.pk)
    assert admin_browser.browser.get("/o/bravo/settings/channels/messenger/").status_code == 200
    # Nothing else in the query names an organization that is listened to.
    picker = admin_browser.browser.get(f"{callback_url}&org_slug=bravo&organization=bravo")
    assert f"/o/{admin_browser.slug}/messenger/oauth/choose/" in picker.url
    done = admin_browser.choose(picker, DEMO_PAGE)
    assert done.url.endswith(f"/o/{admin_browser.slug}/settings/channels/{channel.pk}/")
    assert FacebookPage.objects.get(page_id=DEMO_PAGE).channel_id == channel.pk
    assert FacebookPage.objects.get(page_id=DEMO_PAGE).organization_id == admin_browser.tenant.organization.pk


def test_a_state_from_another_session_of_the_same_admin_is_refused(
    admin_browser: AdminBrowser, facebook: Facebook
) -> None:
    from tests.channels.browser import Browser

    channel = _channel(admin_browser.tenant)
    callback_url = _callback_url(admin_browser, channel.pk)
    with Browser(facebook.url) as other_session:
        other_session.login(admin_browser.tenant.admin.user.username, factories.PASSWORD)
        response = other_session.get(callback_url)
        assert response.url.endswith(f"/o/{admin_browser.slug}/settings/channels/messenger/")
        assert any("could not be verified" in text for text in alerts(response))
    assert not FacebookPage.objects.exists()
    # The state is still good in the session that started it.
    assert "/messenger/oauth/choose/" in admin_browser.browser.get(callback_url).url


def test_another_organizations_admin_cannot_use_a_stolen_callback_url(
    admin_browser: AdminBrowser, facebook: Facebook, tenant_b: Tenant
) -> None:
    from tests.channels.browser import Browser

    channel = _channel(admin_browser.tenant, "Alpha private chat")
    callback_url = _callback_url(admin_browser, channel.pk)
    with Browser(facebook.url) as bravo:
        bravo.login(tenant_b.admin.user.username, factories.PASSWORD)
        response = bravo.get(callback_url)
        assert response.url.endswith("/o/bravo/settings/channels/messenger/")
        assert any("could not be verified" in text for text in alerts(response))
        assert "Alpha" not in response.text
    assert not FacebookPage.objects.exists()


def test_an_admin_demoted_while_on_facebook_gets_nothing(admin_browser: AdminBrowser) -> None:
    channel = _channel(admin_browser.tenant)
    callback_url = _callback_url(admin_browser, channel.pk)
    membership = admin_browser.tenant.admin
    membership.role = "agent"
    membership.save(update_fields=["role"])
    response = admin_browser.browser.get(callback_url, follow=False)
    assert response.status_code == 403
    assert not FacebookPage.objects.exists()
    # The state was used up: being made admin again does not bring it back.
    membership.role = "admin"
    membership.save(update_fields=["role"])
    replay = admin_browser.browser.get(callback_url)
    assert any("could not be verified" in text for text in alerts(replay))
    assert not FacebookPage.objects.exists()


def test_an_admin_removed_from_the_organization_while_on_facebook_gets_nothing(admin_browser: AdminBrowser) -> None:
    channel = _channel(admin_browser.tenant)
    callback_url = _callback_url(admin_browser, channel.pk)
    membership = admin_browser.tenant.admin
    membership.is_active = False
    membership.save(update_fields=["is_active"])
    response = admin_browser.browser.get(callback_url, follow=False)
    assert response.status_code == 404
    assert "Support chat" not in response.text
    assert not FacebookPage.objects.exists()


def test_an_anonymous_visitor_of_the_callback_is_sent_to_log_in(facebook: Facebook) -> None:
    from tests.channels.browser import Browser

    with Browser(facebook.url) as browser:
        response = browser.get("/messenger/oauth/callback/?state=x&code=y", follow=False)
    assert response.status_code == 302
    assert "/accounts/login/" in response.headers["Location"]
    assert not FacebookPage.objects.exists()


def test_an_expired_state_is_refused(admin_browser: AdminBrowser, monkeypatch: Any) -> None:
    monkeypatch.setattr(oauth, "STATE_SECONDS", -1)
    channel = _channel(admin_browser.tenant)
    response = admin_browser.grant(admin_browser.start_link(channel.pk))
    assert any("could not be verified" in text for text in alerts(response))
    assert not FacebookPage.objects.exists()


def test_cancelling_facebooks_dialog_tells_which_permissions_are_missing(admin_browser: AdminBrowser) -> None:
    channel = _channel(admin_browser.tenant)
    response = admin_browser.cancel(admin_browser.start_link(channel.pk))
    assert response.url.endswith(f"/settings/channels/{channel.pk}/")
    [message] = [text for text in alerts(response) if "Missing" in text]
    for scope in ("pages_show_list", "pages_messaging", "pages_manage_metadata", "pages_read_engagement"):
        assert scope in message
    assert not FacebookPage.objects.exists()


def test_a_declined_permission_is_named_and_nothing_is_linked(admin_browser: AdminBrowser) -> None:
    channel = _channel(admin_browser.tenant)
    response = admin_browser.grant(admin_browser.start_link(channel.pk), decline=("pages_messaging",))
    [message] = [text for text in alerts(response) if "Missing" in text]
    assert "pages_messaging (send and receive Messenger messages)" in message
    assert "pages_show_list" not in message
    assert not FacebookPage.objects.exists()


def test_re_authorize_restores_a_dead_page_with_its_new_token_and_expiry(admin_browser: AdminBrowser) -> None:
    channel = _channel(admin_browser.tenant)
    admin_browser.link(channel.pk, DEMO_PAGE)
    page = FacebookPage.objects.get(page_id=DEMO_PAGE)
    old_token, old_authorized = decrypt_token(page.access_token_encrypted), page.authorized_at
    sandbox_tokens_expire(page_id=DEMO_PAGE)
    FacebookPage.objects.filter(pk=page.pk).update(
        status=PageStatus.REAUTHORIZATION_REQUIRED, reauthorization_reason=ReauthorizationReason.TOKEN_EXPIRED
    )
    edit = admin_browser.browser.get(admin_browser.settings_path(f"channels/{channel.pk}/"))
    assert "Token expired" in edit.text and "Re-authorize" in edit.text

    done = admin_browser.grant(admin_browser.start_reauthorize(channel.pk, page.pk))
    assert "“Demo Page” is authorized again and active." in alerts(done)
    page.refresh_from_db()
    assert (page.status, page.reauthorization_reason) == (PageStatus.ACTIVE, "")
    assert decrypt_token(page.access_token_encrypted) != old_token
    assert page.authorized_at > old_authorized
    assert FacebookPage.objects.filter(page_id=DEMO_PAGE).count() == 1


def test_re_authorizing_as_a_person_without_the_page_is_refused(admin_browser: AdminBrowser) -> None:
    channel = _channel(admin_browser.tenant)
    admin_browser.link(channel.pk, DEMO_PAGE)
    page = FacebookPage.objects.get(page_id=DEMO_PAGE)
    stranger = sandbox_user_create(name="Stranger")
    done = admin_browser.grant(admin_browser.start_reauthorize(channel.pk, page.pk), as_user=stranger.facebook_id)
    assert any("was not among the Pages you allowed" in text for text in alerts(done))
    page.refresh_from_db()
    assert page.status == PageStatus.ACTIVE


def test_a_removed_page_is_unsubscribed_and_comes_back_only_through_facebook(admin_browser: AdminBrowser) -> None:
    channel = _channel(admin_browser.tenant)
    admin_browser.link(channel.pk, DEMO_PAGE)
    page = FacebookPage.objects.get(page_id=DEMO_PAGE)
    conversation = factories.make_conversation(page)
    confirm = admin_browser.browser.get(admin_browser.settings_path(f"channels/{channel.pk}/pages/{page.pk}/remove/"))
    done = admin_browser.browser.submit(confirm, button="Yes, remove")
    assert any("was removed from the channel" in text for text in alerts(done))
    page.refresh_from_db()
    assert page.unlinked_at is not None
    assert (page.status, page.reauthorization_reason) == (
        PageStatus.REAUTHORIZATION_REQUIRED,
        ReauthorizationReason.PAGE_REMOVED,
    )
    assert page.access_token_encrypted == ""
    assert not SandboxSubscription.objects.filter(page__page_id=DEMO_PAGE).exists()
    assert conversation.__class__.objects.filter(pk=conversation.pk, page=page).exists()
    assert "Link again" in done.text

    again = admin_browser.grant(admin_browser.start_reauthorize(channel.pk, page.pk))
    assert "“Demo Page” is authorized again and active." in alerts(again)
    page.refresh_from_db()
    assert page.unlinked_at is None and page.status == PageStatus.ACTIVE
    assert SandboxSubscription.objects.filter(page__page_id=DEMO_PAGE).exists()


def test_adding_a_removed_page_again_through_the_picker_keeps_its_conversations(admin_browser: AdminBrowser) -> None:
    channel = _channel(admin_browser.tenant)
    admin_browser.link(channel.pk, DEMO_PAGE)
    page = FacebookPage.objects.get(page_id=DEMO_PAGE)
    conversation = factories.make_conversation(page)
    admin_browser.browser.post(
        admin_browser.settings_path(f"channels/{channel.pk}/pages/{page.pk}/remove/"),
        {"csrfmiddlewaretoken": admin_browser.browser.session.cookies["csrftoken"]},
    )
    admin_browser.link(channel.pk, DEMO_PAGE)
    assert FacebookPage.objects.filter(page_id=DEMO_PAGE).count() == 1
    conversation.refresh_from_db()
    assert conversation.page_id == page.pk
    assert FacebookPage.objects.get(pk=page.pk).status == PageStatus.ACTIVE


def test_deleting_a_channel_unsubscribes_and_unlinks_its_pages(admin_browser: AdminBrowser) -> None:
    channel = _channel(admin_browser.tenant)
    admin_browser.link(channel.pk, DEMO_PAGE, SECOND_PAGE)
    assert SandboxSubscription.objects.count() == 2
    confirm = admin_browser.browser.get(admin_browser.settings_path(f"channels/{channel.pk}/delete/"))
    done = admin_browser.browser.submit(confirm, button="Yes, delete")
    assert done.url.endswith("/settings/channels/messenger/")
    assert SandboxSubscription.objects.count() == 0
    assert not FacebookPage.objects.filter(unlinked_at__isnull=True).exists()
    # The pages are free for another channel now.
    fresh = _channel(admin_browser.tenant, "Support chat")  # the name is free again too
    admin_browser.link(fresh.pk, DEMO_PAGE)
    assert FacebookPage.objects.get(page_id=DEMO_PAGE, unlinked_at__isnull=True).channel_id == fresh.pk


def test_the_flow_is_for_admins_only(facebook: Facebook, tenant_a: Tenant) -> None:
    from tests.channels.browser import Browser

    channel = _channel(tenant_a)
    with Browser(facebook.url) as browser:
        browser.login(tenant_a.agent.user.username, factories.PASSWORD)
        for path in (
            f"/o/alpha/messenger/channels/{channel.pk}/pages/link/",
            "/o/alpha/messenger/oauth/choose/?pick=x",
        ):
            assert browser.get(path, follow=False).status_code == 403, path
        # The app-level callback has no state of theirs: refused, and no settings page.
        response = browser.get("/messenger/oauth/callback/?state=x&code=y", follow=False)
        assert response.status_code == 302 and "/settings/" not in response.headers["Location"]
    assert not FacebookPage.objects.exists()


def test_another_organizations_channel_cannot_start_a_flow(admin_browser: AdminBrowser, tenant_b: Tenant) -> None:
    foreign = factories.make_channel(tenant_b.organization, tenant_b.department)
    response = admin_browser.browser.get(
        f"/o/{admin_browser.slug}/messenger/channels/{foreign.pk}/pages/link/", follow=False
    )
    assert response.status_code == 404
    foreign_page = factories.make_page(foreign)
    response = admin_browser.browser.get(
        f"/o/{admin_browser.slug}/messenger/pages/{foreign_page.pk}/reauthorize/", follow=False
    )
    assert response.status_code == 404


def test_the_dialog_is_asked_for_the_four_permissions_and_our_callback(admin_browser: AdminBrowser) -> None:
    channel = _channel(admin_browser.tenant)
    start = admin_browser.browser.get(
        f"/o/{admin_browser.slug}/messenger/channels/{channel.pk}/pages/link/", follow=False
    )
    location = start.headers["Location"]
    assert location.startswith(f"{admin_browser.browser.base_url}/sandbox/dialog/v21.0/dialog/oauth?")
    assert "scope=pages_show_list,pages_messaging,pages_manage_metadata,pages_read_engagement" in location
    assert re.search(r"state=[\w-]{40,}", location)
    host = admin_browser.browser.base_url.split("//")[1].replace(":", "%3A")
    assert f"redirect_uri=http%3A%2F%2F{host}%2Fmessenger%2Foauth%2Fcallback%2F&" in location
    assert "alpha" not in location
