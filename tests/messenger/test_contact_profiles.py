# The sandbox fixtures are imported from tests.channels.facebook; their names are parameters below.
# ruff: noqa: F811
"""Contacts that look like people (messenger.services.contacts): the profile lookup against
the Graph sandbox over real HTTP (names, no names, placeholders, errors), its retry schedule,
the localized unknown name, and the profile picture kept in our storage, refreshed, and served
only to members who may see the contact."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone, translation

from channels.models import Channel
from helpdesk.models import Role
from messenger.contact_names import contact_name, is_placeholder_name, shown_name
from messenger.graph import PROFILE_FIELDS, GraphClient, Profile
from messenger.models import Contact, FacebookPage
from messenger.sandbox.customers import sandbox_customer_create
from messenger.sandbox.models import SandboxCustomer
from messenger.sandbox.people import sandbox_page_token_issue
from messenger.services import contacts
from messenger.services.contacts import (
    contact_avatar_copy,
    contact_profile_fetch,
    contacts_avatars_refresh,
    contacts_profiles_retry,
    profile_retry_delay,
)
from tests import factories
from tests.channels.facebook import DEMO_PAGE, Facebook, facebook  # noqa: F401
from tests.channels.images import image_bytes
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def channel(tenant_a: Tenant) -> Channel:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    factories.associate(tenant_a.agent, channel)
    return channel


@pytest.fixture
def sandbox_page(facebook: Facebook, channel: Channel, settings: Any) -> FacebookPage:
    """DEMO_PAGE linked with a real sandbox token; its CDN is where profile pictures come from."""
    settings.GRAPH_SANDBOX = True
    return factories.make_page(channel, page_id=DEMO_PAGE, token=sandbox_page_token_issue(page_id=DEMO_PAGE))


def _customer(page: FacebookPage, first_name: str, last_name: str = "", *, has_profile: bool = True) -> Contact:
    """A customer of the sandbox page, and the contact the webhook made of them."""
    customer = sandbox_customer_create(
        page_id=page.page_id, first_name=first_name, last_name=last_name, has_profile=has_profile
    )
    contact = factories.make_contact(
        page, psid=customer.psid, display_name=contacts.contact_fallback_name(psid=customer.psid, is_guest=False)
    )
    factories.make_conversation(page, contact)
    return contact


def _fetch(contact: Contact, capture: Any, **kwargs: Any) -> Contact:
    with capture(execute=False):
        contact_profile_fetch(contact_id=contact.pk, **kwargs)
    contact.refresh_from_db()
    return contact


def _suffix(contact: Contact) -> str:
    return "".join(ch for ch in contact.psid if ch.isdigit())[-4:]


# --- Names ------------------------------------------------------------------------------------


def test_the_profile_lookup_asks_for_the_whole_name_too() -> None:
    assert PROFILE_FIELDS.split(",")[:3] == ["name", "first_name", "last_name"]


def test_a_customer_with_a_name_gets_it_and_no_retry(
    sandbox_page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    contact = _fetch(_customer(sandbox_page, "Alice", "Martin"), django_capture_on_commit_callbacks)
    assert (contact.first_name, contact.last_name, contact.display_name) == ("Alice", "Martin", "Alice Martin")
    assert contact.profile_retry_at is None and contact.profile_attempts == 0
    assert contact.avatar_url.endswith(f"/sandbox/cdn/profile/{contact.psid}.png")


@pytest.mark.django_db
def test_a_name_given_without_its_parts_is_used(channel: Channel) -> None:
    page = factories.make_page(channel)
    contact = factories.make_contact(page, display_name="Messenger customer 0003")
    answer = Profile(first_name="", last_name="", profile_pic=None, name="山田 太郎")
    with mock.patch.object(GraphClient, "get_profile", autospec=True, return_value=answer):
        assert contact_profile_fetch(contact_id=contact.pk)
    contact.refresh_from_db()
    assert contact.display_name == "山田 太郎" and contact_name(contact) == "山田 太郎"
    assert contact.profile_retry_at is None


@pytest.mark.parametrize(
    ("first_name", "last_name", "has_profile"),
    [("", "", True), ("John", "Doe", True), ("Facebook", "User", True), ("Alice", "Martin", False)],
    ids=["no name", "John Doe", "Facebook User", "profile error 2018218"],
)
def test_no_usable_name_keeps_the_localized_unknown_name_and_asks_again_in_an_hour(
    sandbox_page: FacebookPage,
    django_capture_on_commit_callbacks: Any,
    first_name: str,
    last_name: str,
    has_profile: bool,
) -> None:
    now = timezone.now()
    contact = _fetch(
        _customer(sandbox_page, first_name, last_name, has_profile=has_profile),
        django_capture_on_commit_callbacks,
        now=now,
    )
    assert (contact.first_name, contact.last_name) == ("", "")
    assert contact.profile_attempts == 1 and contact.profile_retry_at == now + HOUR
    suffix = _suffix(contact)
    with translation.override("en"):
        assert contact_name(contact) == f"Unnamed customer (…{suffix})"
    with translation.override("ja"):
        assert contact_name(contact) == f"名前未登録の顧客（…{suffix}）"
    assert "Doe" not in contact.display_name and "Facebook User" not in contact.display_name


def test_the_retry_schedule_is_one_hour_six_hours_a_day_then_weekly() -> None:
    assert [profile_retry_delay(n) for n in range(1, 7)] == [
        HOUR,
        6 * HOUR,
        24 * HOUR,
        timedelta(weeks=1),
        timedelta(weeks=1),
        timedelta(weeks=1),
    ]


def test_the_hourly_job_asks_again_when_due_until_a_name_comes(
    sandbox_page: FacebookPage, django_capture_on_commit_callbacks: Any
) -> None:
    start = timezone.now()
    contact = _fetch(_customer(sandbox_page, ""), django_capture_on_commit_callbacks, now=start)
    # Not due yet: nothing asked.
    with django_capture_on_commit_callbacks(execute=False):
        assert contacts_profiles_retry(now=start + 30 * timedelta(minutes=1)) == 0
    moments = [start + HOUR, start + 7 * HOUR, start + 31 * HOUR]
    expected_next = [start + 7 * HOUR, start + 31 * HOUR, start + 31 * HOUR + timedelta(weeks=1)]
    for moment, next_at in zip(moments, expected_next, strict=True):
        with django_capture_on_commit_callbacks(execute=False):
            assert contacts_profiles_retry(now=moment) == 1
        contact.refresh_from_db()
        assert contact.profile_retry_at == next_at
    assert contact.profile_attempts == 4
    # The customer shows their name on Facebook at last: the next lookup takes it and stops.
    SandboxCustomer.objects.filter(psid=contact.psid).update(first_name="Alice", last_name="Martin")
    with django_capture_on_commit_callbacks(execute=False):
        assert contacts_profiles_retry(now=expected_next[-1]) == 1
    contact.refresh_from_db()
    assert (contact.display_name, contact.profile_retry_at) == ("Alice Martin", None)
    with django_capture_on_commit_callbacks(execute=False):
        assert contacts_profiles_retry(now=expected_next[-1] + timedelta(weeks=5)) == 0


@pytest.mark.parametrize("name", ["John Doe", "jane  doe", "Facebook User", "", "  ", "Messenger customer 0003"])
def test_placeholders_are_not_names(name: str) -> None:
    assert is_placeholder_name(name)


@pytest.mark.parametrize("name", ["Alice Martin", "山田 太郎", "John", "Doe"])
def test_real_names_are_names(name: str) -> None:
    assert not is_placeholder_name(name)


def test_a_placeholder_stored_before_is_never_shown(client: Client, tenant_a: Tenant, channel: Channel) -> None:
    page = factories.make_page(channel)
    contact = factories.make_contact(page, psid="5550003", display_name="John Doe", first_name="John", last_name="Doe")
    conversation = factories.make_conversation(page, contact)
    factories.make_message(conversation, text="Hello")
    with translation.override("en"):
        assert contact_name(contact) == "Unnamed customer (…0003)"
        assert shown_name("Facebook User") == "Unnamed customer"
    client.force_login(tenant_a.agent.user)
    for path in (f"/o/alpha/inbox/{conversation.pk}/", "/o/alpha/inbox/", "/o/alpha/"):
        html = client.get(path).content.decode()
        assert "John Doe" not in html, path
    assert "Unnamed customer (…0003)" in client.get(f"/o/alpha/inbox/{conversation.pk}/").content.decode()
    data = api_client_for(tenant_a.agent).get(f"/api/v1/conversations/{conversation.pk}/").json()
    assert data["contact"]["name"] == "Unnamed customer (…0003)"


# --- Avatars ----------------------------------------------------------------------------------


def test_the_profile_picture_is_copied_into_our_storage_and_served_to_members_who_may_see_the_contact(
    sandbox_page: FacebookPage,
    tenant_a: Tenant,
    tenant_b: Tenant,
    django_capture_on_commit_callbacks: Any,
    client: Client,
) -> None:
    contact = _customer(sandbox_page, "Alice", "Martin")
    with (
        mock.patch.object(contacts.contact_tasks.contact_avatar_copy, "delay", autospec=True) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        contact_profile_fetch(contact_id=contact.pk)
    delay.assert_called_once_with(contact.pk)
    assert contact_avatar_copy(contact_id=contact.pk)
    contact.refresh_from_db()
    assert contact.avatar_stored_name.startswith(f"messenger/avatars/{tenant_a.organization.pk}/{contact.pk}/")
    assert contact.avatar_stored_name.endswith(".png") and contact.avatar_fetched_at is not None
    with default_storage.open(contact.avatar_stored_name, "rb") as kept:
        assert kept.read(8) == b"\x89PNG\r\n\x1a\n"

    url = f"/o/alpha/inbox/contacts/{contact.pk}/avatar/"
    client.force_login(tenant_a.agent.user)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert "private" in response["Cache-Control"]
    assert b"".join(response.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"
    # The inbox shows the kept copy, never Facebook's URL.
    conversation = contact.conversations.get()
    html = client.get(f"/o/alpha/inbox/{conversation.pk}/").content.decode()
    assert url in html and "/sandbox/cdn/profile/" not in html

    # An agent not on the channel, and anyone of another organization: 404.
    outsider = factories.make_member(tenant_a.organization, role=Role.AGENT, username="other-agent")
    client.force_login(outsider.user)
    assert client.get(url).status_code == 404
    client.force_login(tenant_b.admin.user)
    assert client.get(f"/o/beta/inbox/contacts/{contact.pk}/avatar/").status_code == 404
    client.logout()
    assert client.get(url).status_code in (302, 403, 404)

    # The API: the same rule.
    api_response = api_client_for(tenant_a.agent).get(f"/api/v1/contacts/{contact.pk}/avatar/")
    assert api_response.status_code == 200 and api_response["Content-Type"] == "image/png"
    assert api_client_for(tenant_b.admin).get(f"/api/v1/contacts/{contact.pk}/avatar/").status_code == 404
    assert api_client_for(outsider).get(f"/api/v1/contacts/{contact.pk}/avatar/").status_code == 404


def test_a_picture_that_is_not_an_image_is_not_kept(sandbox_page: FacebookPage, facebook: Facebook) -> None:
    contact = _customer(sandbox_page, "Alice")
    Contact.objects.filter(pk=contact.pk).update(avatar_url=f"{facebook.url}/sandbox/cdn/files/order-receipt.txt")
    assert not contact_avatar_copy(contact_id=contact.pk)
    contact.refresh_from_db()
    assert contact.avatar_stored_name == "" and contact.avatar_fetched_at is not None


def test_a_contact_without_a_kept_picture_shows_initials(client: Client, tenant_a: Tenant, channel: Channel) -> None:
    page = factories.make_page(channel)
    contact = factories.make_contact(
        page, display_name="Alice Martin", avatar_url="https://platform-lookaside.fbsbx.com/expired.jpg"
    )
    conversation = factories.make_conversation(page, contact)
    client.force_login(tenant_a.agent.user)
    html = client.get(f"/o/alpha/inbox/{conversation.pk}/").content.decode()
    assert "fbsbx.com" not in html
    assert '<span class="hd-avatar" aria-hidden="true">A</span>' in html
    assert client.get(f"/o/alpha/inbox/contacts/{contact.pk}/avatar/").status_code == 404


def test_pictures_are_copied_again_from_a_fresh_url_after_a_week(
    sandbox_page: FacebookPage, facebook: Facebook
) -> None:
    now = timezone.now()
    stale = _customer(sandbox_page, "Alice")
    fresh = _customer(sandbox_page, "Bob")
    old_name = default_storage.save(f"messenger/avatars/x/{stale.pk}/old.png", ContentFile(image_bytes("PNG")))
    Contact.objects.filter(pk=stale.pk).update(
        avatar_stored_name=old_name,
        avatar_fetched_at=now - timedelta(days=8),
        avatar_url="https://platform-lookaside.fbsbx.com/expired.jpg",
    )
    Contact.objects.filter(pk=fresh.pk).update(avatar_fetched_at=now - timedelta(days=2))
    assert contacts_avatars_refresh(now=now) == 1
    stale.refresh_from_db()
    assert stale.avatar_stored_name != old_name and not default_storage.exists(old_name)
    assert stale.avatar_url.endswith(f"/sandbox/cdn/profile/{stale.psid}.png")
    assert stale.avatar_fetched_at == now
    fresh.refresh_from_db()
    assert fresh.avatar_stored_name == ""
    # Done for the week: the next run has nothing to do.
    assert contacts_avatars_refresh(now=now + HOUR) == 0
