"""Channels: create, change, disable, enable, delete; the channel limit, also under concurrency."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections

from channels import selectors, services
from channels.models import Channel
from helpdesk.exceptions import ChannelLimitReached, Conflict, InvalidInput, NotFound
from messenger.models import ConversationEvent, ConversationState, FacebookPage, PageStatus, ReauthorizationReason
from tests import factories
from tests.channels import images
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


def _create(tenant: Tenant, name: str = "Support chat", **fields: Any) -> Channel:
    fields.setdefault("department_id", tenant.department.pk)
    return services.channel_create(organization=tenant.organization, acting_user=tenant.admin.user, name=name, **fields)


def test_a_channel_is_created_with_its_icon_re_encoded(tenant_a: Tenant, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    channel = _create(tenant_a, icon=images.jpeg())
    assert channel.department == tenant_a.department and channel.is_live
    assert channel.icon.name.startswith("channel-icons/") and channel.icon.name.endswith(".png")
    assert channel.created_by == tenant_a.admin.user


def test_a_name_is_required_and_unique_within_the_organization(tenant_a: Tenant, tenant_b: Tenant) -> None:
    factories.make_department(tenant_a.organization)
    _create(tenant_a, "Support chat")
    with pytest.raises(Conflict) as taken:
        _create(tenant_a, "  Support chat ")
    assert taken.value.details == {"name": ["Already in use."]}
    with pytest.raises(InvalidInput):
        _create(tenant_a, "   ")
    # Another organization may use the same name.
    _create(tenant_b, "Support chat")


def test_a_department_of_another_organization_is_not_found(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with pytest.raises(NotFound):
        _create(tenant_a, department_id=tenant_b.department.pk)
    assert not Channel.objects.exists()


def test_an_organization_has_at_most_as_many_channels_as_departments(tenant_a: Tenant) -> None:
    _create(tenant_a, "One")
    with pytest.raises(ChannelLimitReached) as limit:
        _create(tenant_a, "Two")
    assert limit.value.code == "channel_limit_reached" and limit.value.status == 409
    assert limit.value.details == {"used": 1, "limit": 1}
    factories.make_department(tenant_a.organization)
    _create(tenant_a, "Two")
    assert selectors.channel_quota(organization=tenant_a.organization).remaining == 0


def test_disabled_channels_count_and_deleted_ones_free_their_slot_and_name(tenant_a: Tenant) -> None:
    channel = _create(tenant_a, "Support chat")
    services.channel_disable(organization=tenant_a.organization, acting_user=None, channel=channel)
    with pytest.raises(ChannelLimitReached):
        _create(tenant_a, "Other")
    services.channel_delete(organization=tenant_a.organization, acting_user=None, channel=channel)
    again = _create(tenant_a, "Support chat")
    assert again.pk != channel.pk


def test_an_update_renames_moves_and_replaces_the_icon(tenant_a: Tenant, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    sales = factories.make_department(tenant_a.organization, "Sales")
    channel = _create(tenant_a, icon=images.png())
    old_icon = channel.icon.name
    with pytest.raises(Conflict):
        factories.make_channel(tenant_a.organization, sales, name="Taken")
        services.channel_update(organization=tenant_a.organization, acting_user=None, channel=channel, name="Taken")
    services.channel_update(
        organization=tenant_a.organization,
        acting_user=None,
        channel=channel,
        name="Renamed",
        department_id=sales.pk,
        icon=images.png("new.png"),
    )
    channel.refresh_from_db()
    assert (channel.name, channel.department_id) == ("Renamed", sales.pk)
    assert channel.icon.name != old_icon
    services.channel_update(organization=tenant_a.organization, acting_user=None, channel=channel, icon=None)
    channel.refresh_from_db()
    assert not channel.icon


def test_a_channel_of_another_organization_cannot_be_changed(tenant_a: Tenant, tenant_b: Tenant) -> None:
    foreign = factories.make_channel(tenant_b.organization, tenant_b.department)
    for service in (services.channel_disable, services.channel_enable, services.channel_delete):
        with pytest.raises(NotFound):
            service(organization=tenant_a.organization, acting_user=None, channel=foreign)
    with pytest.raises(NotFound):
        services.channel_update(organization=tenant_a.organization, acting_user=None, channel=foreign, name="Mine")


def _open_and_closed_conversations(channel: Channel) -> tuple[Any, Any]:
    page = factories.make_page(channel)
    open_one = factories.make_conversation(page)
    closed = factories.make_conversation(page, state=ConversationState.CLOSED)
    return open_one, closed


def test_disabling_and_enabling_tell_the_open_conversations_why(tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    open_one, closed = _open_and_closed_conversations(channel)
    services.channel_disable(organization=tenant_a.organization, acting_user=tenant_a.admin.user, channel=channel)
    services.channel_disable(organization=tenant_a.organization, acting_user=tenant_a.admin.user, channel=channel)
    channel.refresh_from_db()
    assert not channel.is_enabled and not channel.is_live
    services.channel_enable(organization=tenant_a.organization, acting_user=tenant_a.admin.user, channel=channel)
    kinds = list(ConversationEvent.objects.filter(conversation=open_one).order_by("pk").values_list("kind", "actor"))
    assert kinds == [
        (ConversationEvent.Kind.CHANNEL_DISABLED, tenant_a.admin.user.pk),
        (ConversationEvent.Kind.CHANNEL_ENABLED, tenant_a.admin.user.pk),
    ]
    assert not ConversationEvent.objects.filter(conversation=closed).exists()
    # Disabling keeps everything: pages stay linked and active.
    assert FacebookPage.objects.get(channel=channel).status == PageStatus.ACTIVE


def test_deleting_keeps_conversations_but_unlinks_the_pages(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.LIVE_REDIS_URL = None  # no live events to send after commit either
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    open_one, _closed = _open_and_closed_conversations(channel)
    with django_capture_on_commit_callbacks() as callbacks:
        services.channel_delete(organization=tenant_a.organization, acting_user=None, channel=channel)
    assert len(callbacks) == 1  # the unsubscription, after commit
    channel.refresh_from_db()
    assert channel.deleted_at is not None and not channel.is_live
    page = FacebookPage.objects.get(channel=channel)
    assert page.unlinked_at is not None and page.access_token_encrypted == ""
    assert page.reauthorization_reason == ReauthorizationReason.PAGE_REMOVED
    open_one.refresh_from_db()
    assert [e.kind for e in open_one.events.all()] == [ConversationEvent.Kind.CHANNEL_DELETED]
    with pytest.raises(NotFound):
        services.channel_delete(organization=tenant_a.organization, acting_user=None, channel=channel)
    with pytest.raises(NotFound):
        services.channel_enable(organization=tenant_a.organization, acting_user=None, channel=channel)


def test_a_deleted_channel_is_not_listed_nor_found(tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    services.channel_delete(organization=tenant_a.organization, acting_user=None, channel=channel)
    assert list(selectors.channel_list(organization=tenant_a.organization)) == []
    with pytest.raises(NotFound):
        selectors.channel_get(organization=tenant_a.organization, channel_id=channel.pk)
    assert selectors.channel_get(organization=tenant_a.organization, channel_id=channel.pk, include_deleted=True)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_admins_saving_at_once_cannot_exceed_the_limit(tenant_a: Tenant, monkeypatch: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    # Both saves are held just before their insert: without the organization lock, both
    # would count 0 channels there and both insert.
    barrier = threading.Barrier(2)
    checked = services._check_name_free

    def held(*args: Any, **kwargs: Any) -> None:
        try:
            barrier.wait(timeout=1.5)
        except threading.BrokenBarrierError:
            pass
        checked(*args, **kwargs)

    monkeypatch.setattr(services, "_check_name_free", held)
    outcomes: list[str] = []

    def save(name: str) -> None:
        try:
            _create(tenant_a, name)
            outcomes.append("created")
        except ChannelLimitReached:
            outcomes.append("limit")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=save, args=(name,)) for name in ("First", "Second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["created", "limit"]
    assert Channel.objects.filter(organization=tenant_a.organization).count() == 1
