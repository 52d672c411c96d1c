"""Settings → Channels in the browser (Django's test client; the OAuth flow itself is in
tests/messenger/test_oauth.py, over real HTTP)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from channels.models import Channel
from messenger.models import ConversationEvent, FacebookPage, PageStatus, ReauthorizationReason
from tests import factories
from tests.channels import images
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db

NEW = "/o/alpha/settings/channels/messenger/new/"
LIST = "/o/alpha/settings/channels/messenger/"


@pytest.fixture
def admin(tenant_a: Tenant, client: Any) -> Any:
    client.force_login(tenant_a.admin.user)
    return client


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


def _post_new(admin: Any, tenant: Tenant, **fields: Any) -> Any:
    data = {"name": "Support chat", "department": tenant.department.pk} | fields
    return admin.post(NEW, data)


def test_the_channels_tab_leads_to_the_messenger_channels(admin: Any) -> None:
    page = admin.get("/o/alpha/settings/channels/").content.decode()
    assert "Instant messaging" in page and "Messenger" in page
    assert 'href="/o/alpha/settings/channels/messenger/"' in page
    assert "Configure" in page


def test_the_list_shows_each_channel_with_its_pages_and_their_status(admin: Any, tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")
    factories.make_page(channel, name="Shop page")
    factories.make_page(
        channel,
        name="Old page",
        status=PageStatus.REAUTHORIZATION_REQUIRED,
        reauthorization_reason=ReauthorizationReason.PERMISSIONS_REVOKED,
    )
    factories.make_page(channel, name="Gone page", unlinked_at=timezone.now())
    html = admin.get(LIST).content.decode()
    assert "Support chat" in html and "Shop page" in html and "Old page" in html
    assert "Gone page" not in html
    assert 'badge text-bg-success">Active' in html
    assert "Re-authorization required" in html and "Permissions revoked" in html
    # Confirmations: Bootstrap modals, with links to confirmation pages for browsers without JavaScript.
    assert "Yes, disable" in html and "Yes, delete" in html
    assert f'href="/o/alpha/settings/channels/{channel.pk}/delete/"' in html


def test_the_list_page_costs_a_fixed_number_of_queries(
    admin: Any, tenant_a: Tenant, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        department = factories.make_department(tenant_a.organization)
        channel = factories.make_channel(tenant_a.organization, department)
        factories.make_page(channel)
        factories.make_page(channel)
    admin.get(LIST)
    with django_assert_max_num_queries(12):
        assert admin.get(LIST).status_code == 200


def test_the_create_form_says_when_the_channel_limit_is_reached(admin: Any, tenant_a: Tenant) -> None:
    html = admin.get(LIST).content.decode()
    assert "0 of 1 channels used" in html
    factories.make_channel(tenant_a.organization, tenant_a.department)
    html = admin.get(LIST).content.decode()
    assert "1 of 1 channels used" in html and "disabled" in html
    form = admin.get(NEW).content.decode()
    assert "already uses 1 of its 1 channels" in form
    response = _post_new(admin, tenant_a, name="One too many")
    assert response.status_code == 409
    assert "This organization already has 1 channels for 1 departments." in response.content.decode()


@pytest.mark.parametrize(
    ("language", "rule", "wrong"),
    [
        ("en", "2 of 2 channels used: an organization can have as many channels as it has departments.", "one per"),
        ("ja", "2 件中 2 件のチャネルを使用中です。組織で作成できるチャネルの数は、部署の数までです。", "部署ごとに"),
    ],
)
def test_the_channel_limit_is_stated_as_a_count_of_departments(
    admin: Any, tenant_a: Tenant, language: str, rule: str, wrong: str
) -> None:
    """Two channels of one department with two departments: allowed, and every page says why."""
    tenant_a.organization.language = language
    tenant_a.organization.save(update_fields=["language"])
    factories.make_department(tenant_a.organization, "Sales")
    factories.make_channel(tenant_a.organization, tenant_a.department, name="Chat one")
    factories.make_channel(tenant_a.organization, tenant_a.department, name="Chat two")
    for path in ("/o/alpha/settings/channels/", LIST):
        text = " ".join(re.sub(r"<[^>]+>", " ", admin.get(path).content.decode()).split())
        assert rule in text, path
        assert wrong not in text, path


def test_an_admin_creates_a_channel_with_an_icon(admin: Any, tenant_a: Tenant) -> None:
    response = _post_new(admin, tenant_a, icon=images.png())
    channel = Channel.objects.get(name="Support chat")
    assert response.status_code == 302
    assert response["Location"] == f"/o/alpha/settings/channels/{channel.pk}/"
    assert channel.icon.name.endswith(".png")
    edit = admin.get(response["Location"]).content.decode()
    assert f'src="/o/alpha/settings/channels/{channel.pk}/icon/?v=' in edit
    assert "/media/" not in edit
    assert "Add Facebook Page" in edit and f"/o/alpha/messenger/channels/{channel.pk}/pages/link/" in edit


def test_save_and_add_facebook_page_continues_into_facebook_login(admin: Any, tenant_a: Tenant) -> None:
    response = _post_new(admin, tenant_a, then="link_page")
    channel = Channel.objects.get(name="Support chat")
    assert response["Location"] == f"/o/alpha/messenger/channels/{channel.pk}/pages/link/"


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (lambda: images.upload("big.png", images.too_large_png()), "The icon must be at most 1 MB."),
        (
            lambda: images.upload("icon.gif", images.image_bytes("GIF"), "image/gif"),
            "must be a .jpg, .jpeg or .png file",
        ),
        (lambda: images.upload("notes.png", b"plain text, honestly"), "The file is not a JPEG or PNG image."),
        (lambda: images.upload("bomb.png", images.png_bomb()), "at most 4096 × 4096 pixels"),
    ],
)
def test_a_bad_icon_is_a_form_error_naming_the_rule(admin: Any, tenant_a: Tenant, upload: Any, message: str) -> None:
    response = _post_new(admin, tenant_a, icon=upload())
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Channel.objects.exists()


def test_an_empty_or_taken_name_is_a_form_error(admin: Any, tenant_a: Tenant) -> None:
    response = _post_new(admin, tenant_a, name="  ")
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    factories.make_department(tenant_a.organization)
    factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")
    response = _post_new(admin, tenant_a, name="Support chat")
    assert response.status_code == 409
    assert "Already in use." in response.content.decode()


def test_a_department_of_another_organization_is_404(admin: Any, tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert _post_new(admin, tenant_a, department=tenant_b.department.pk).status_code == 404
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    edit = admin.post(f"/o/alpha/settings/channels/{channel.pk}/", {"name": "x", "department": tenant_b.department.pk})
    assert edit.status_code == 404


def test_the_edit_page_renames_and_removes_the_icon(admin: Any, tenant_a: Tenant) -> None:
    _post_new(admin, tenant_a, icon=images.png())
    channel = Channel.objects.get()
    response = admin.post(
        f"/o/alpha/settings/channels/{channel.pk}/",
        {"name": "Renamed", "department": tenant_a.department.pk, "remove_icon": "on"},
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.name == "Renamed" and not channel.icon


def test_the_edit_page_shows_each_page_with_its_status_reason_and_actions(admin: Any, tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    authorized = timezone.now() - timedelta(days=10)
    active = factories.make_page(channel, name="Active page", authorized_at=authorized, token="EAAG-never-shown")
    factories.make_page(channel, name="Soon page", status=PageStatus.EXPIRING_SOON)
    for reason in ReauthorizationReason:
        if reason != ReauthorizationReason.PAGE_REMOVED:
            factories.make_page(
                channel,
                name=f"Page {reason.value}",
                status=PageStatus.REAUTHORIZATION_REQUIRED,
                reauthorization_reason=reason,
            )
    factories.make_page(
        channel,
        name="Removed page",
        status=PageStatus.REAUTHORIZATION_REQUIRED,
        reauthorization_reason=ReauthorizationReason.PAGE_REMOVED,
        unlinked_at=timezone.now(),
    )
    html = admin.get(f"/o/alpha/settings/channels/{channel.pk}/").content.decode()
    assert "Expiring soon" in html
    for reason in ReauthorizationReason:
        assert str(reason.label) in html, reason
    assert f"/o/alpha/messenger/pages/{active.pk}/reauthorize/" in html
    assert f"/o/alpha/settings/channels/{channel.pk}/pages/{active.pk}/remove/" in html
    assert "1 removed page" in html and "Link again" in html
    # The 60-day policy date is shown for a token Facebook reports without expiry.
    assert (authorized + timedelta(days=60)).isoformat()[:16] in html
    assert "EAAG-never-shown" not in html and active.access_token_encrypted not in html


def test_disable_and_delete_confirm_without_javascript(admin: Any, tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    conversation = factories.make_conversation(factories.make_page(channel))
    confirm = admin.get(f"/o/alpha/settings/channels/{channel.pk}/disable/")
    assert "Yes, disable" in confirm.content.decode()
    channel.refresh_from_db()
    assert channel.is_enabled  # a GET changes nothing
    admin.post(f"/o/alpha/settings/channels/{channel.pk}/disable/")
    channel.refresh_from_db()
    assert not channel.is_enabled
    html = admin.get(LIST).content.decode()
    assert "Disabled" in html
    assert "Yes, enable" in admin.get(f"/o/alpha/settings/channels/{channel.pk}/enable/").content.decode()
    admin.post(f"/o/alpha/settings/channels/{channel.pk}/enable/", {"next": "list"})
    assert "Yes, delete" in admin.get(f"/o/alpha/settings/channels/{channel.pk}/delete/").content.decode()
    response = admin.post(f"/o/alpha/settings/channels/{channel.pk}/delete/")
    assert response["Location"] == LIST
    channel.refresh_from_db()
    assert channel.deleted_at is not None
    assert admin.get(f"/o/alpha/settings/channels/{channel.pk}/").status_code == 404
    assert [e.kind for e in ConversationEvent.objects.filter(conversation=conversation).order_by("pk")] == [
        "channel_disabled",
        "channel_enabled",
        "channel_deleted",
    ]


def test_removing_a_page_asks_first_then_unlinks_it(admin: Any, tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    page = factories.make_page(channel, name="Shop page")
    url = f"/o/alpha/settings/channels/{channel.pk}/pages/{page.pk}/remove/"
    assert "Yes, remove" in admin.get(url).content.decode()
    response = admin.post(url)
    assert response["Location"] == f"/o/alpha/settings/channels/{channel.pk}/"
    page.refresh_from_db()
    assert page.unlinked_at is not None and page.reauthorization_reason == ReauthorizationReason.PAGE_REMOVED
    assert admin.post(url).status_code == 404


def test_agents_get_403_on_every_channel_setting(tenant_a: Tenant, client: Any) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    page = factories.make_page(channel)
    client.force_login(tenant_a.agent.user)
    for path in (
        "/o/alpha/settings/channels/",
        LIST,
        NEW,
        f"/o/alpha/settings/channels/{channel.pk}/",
        f"/o/alpha/settings/channels/{channel.pk}/disable/",
        f"/o/alpha/settings/channels/{channel.pk}/enable/",
        f"/o/alpha/settings/channels/{channel.pk}/delete/",
        f"/o/alpha/settings/channels/{channel.pk}/pages/{page.pk}/remove/",
        "/o/alpha/settings/agents/",
        f"/o/alpha/settings/agents/{tenant_a.agent.pk}/channels/",
        "/o/alpha/settings/tickets/",
    ):
        assert client.get(path).status_code == 403, path
        assert client.post(path).status_code == 403, path
    channel.refresh_from_db()
    assert channel.is_live


def test_another_organizations_ids_are_404_in_the_admins_own_organization(
    tenant_a: Tenant, tenant_b: Tenant, client: Any
) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    page = factories.make_page(channel)
    client.force_login(tenant_b.admin.user)
    for path in (
        f"/o/bravo/settings/channels/{channel.pk}/",
        f"/o/bravo/settings/channels/{channel.pk}/disable/",
        f"/o/bravo/settings/channels/{channel.pk}/enable/",
        f"/o/bravo/settings/channels/{channel.pk}/delete/",
        f"/o/bravo/settings/channels/{channel.pk}/pages/{page.pk}/remove/",
        f"/o/bravo/settings/agents/{tenant_a.agent.pk}/channels/?department={tenant_a.department.pk}",
        f"/o/bravo/settings/agents/?department={tenant_a.department.pk}",
    ):
        assert client.get(path).status_code == 404, path
        assert client.post(path).status_code in (404, 405), path
    channel.refresh_from_db()
    assert channel.is_live


# --- The re-authorization banner ---------------------------------------------------------


def _page_needing_reauthorization(tenant: Tenant) -> FacebookPage:
    channel = factories.make_channel(tenant.organization, tenant.department, name="Support chat")
    return factories.make_page(
        channel,
        name="Shop page",
        status=PageStatus.REAUTHORIZATION_REQUIRED,
        reauthorization_reason=ReauthorizationReason.APP_ACCESS_REVOKED,
    )


def test_admins_see_the_banner_on_every_page_while_a_page_needs_re_authorization(admin: Any, tenant_a: Tenant) -> None:
    assert "needs re-authorization" not in admin.get("/o/alpha/inbox/").content.decode()
    page = _page_needing_reauthorization(tenant_a)
    for path in (
        "/o/alpha/inbox/",
        "/o/alpha/settings/departments/",
        "/o/alpha/settings/tickets/",
        "/o/alpha/notifications/",
    ):
        html = admin.get(path).content.decode()
        assert "A Facebook Page needs re-authorization" in html, path
        assert "Shop page (Support chat: App access revoked)" in html
        assert f'href="/o/alpha/settings/channels/{page.channel_id}/"' in html
    FacebookPage.objects.filter(pk=page.pk).update(status=PageStatus.ACTIVE, reauthorization_reason="")
    assert "needs re-authorization" not in admin.get("/o/alpha/inbox/").content.decode()


def test_agents_do_not_see_the_banner(tenant_a: Tenant, client: Any) -> None:
    _page_needing_reauthorization(tenant_a)
    client.force_login(tenant_a.agent.user)
    assert "re-authorization" not in client.get("/o/alpha/inbox/").content.decode()


def test_removed_pages_and_other_organizations_raise_no_banner(admin: Any, tenant_a: Tenant, tenant_b: Tenant) -> None:
    _page_needing_reauthorization(tenant_b)
    page = _page_needing_reauthorization(tenant_a)
    FacebookPage.objects.filter(pk=page.pk).update(
        unlinked_at=timezone.now(), reauthorization_reason=ReauthorizationReason.PAGE_REMOVED
    )
    assert "re-authorization" not in admin.get("/o/alpha/inbox/").content.decode()


def test_the_banner_costs_one_query(admin: Any, tenant_a: Tenant, django_assert_num_queries: Any) -> None:
    from django.template import Context, Template
    from django.test import RequestFactory

    _page_needing_reauthorization(tenant_a)
    request = RequestFactory().get("/o/alpha/")
    request.organization, request.membership = tenant_a.organization, tenant_a.admin
    template = Template("{% load channel_tags %}{% reauthorization_banner %}")
    with django_assert_num_queries(1):
        html = template.render(Context({"request": request}))
    assert "Shop page" in html


def test_the_settings_menu_has_the_channels_agents_and_tickets_tabs(admin: Any) -> None:
    html = admin.get("/o/alpha/settings/departments/").content.decode()
    for path in ("/o/alpha/settings/channels/", "/o/alpha/settings/agents/", "/o/alpha/settings/tickets/"):
        assert f'href="{path}"' in html
