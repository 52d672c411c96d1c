"""Labels are managed by the services: names stripped and unique whatever their case, colours
from the palette, and a deleted label leaves every conversation and ticket."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from helpdesk.exceptions import InvalidInput, InvalidLabelColor, LabelNameTaken, NotFound
from labels import services
from labels.models import Label
from messenger.models import ConversationEvent, ConversationLabel
from messenger.services.conversations.labels import conversations_label_add
from tests import factories
from tests.conftest import Tenant
from tickets.models import TicketLabel
from tickets.services import tickets_label_add

pytestmark = pytest.mark.django_db


def _create(tenant: Tenant, name: str, color: str = "blue") -> Label:
    return services.label_create(
        organization=tenant.organization, acting_user=tenant.admin.user, name=name, color=color
    )


def test_a_label_is_created_with_its_name_stripped(tenant_a: Tenant) -> None:
    label = _create(tenant_a, "  Refund  ", "red")
    assert (label.name, label.color, label.created_by) == ("Refund", "red", tenant_a.admin.user)


@pytest.mark.parametrize("name", ["", "   ", "x" * 51, "a\x00b"])
def test_a_name_that_is_empty_too_long_or_has_a_null_is_refused(tenant_a: Tenant, name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        _create(tenant_a, name)
    assert refused.value.code == "invalid"
    assert "name" in refused.value.details
    assert not Label.objects.exists()


def test_fifty_characters_are_enough(tenant_a: Tenant) -> None:
    assert len(_create(tenant_a, "x" * 50).name) == 50


def test_the_same_name_in_another_case_is_taken(tenant_a: Tenant) -> None:
    _create(tenant_a, "Refund")
    with pytest.raises(LabelNameTaken) as refused:
        _create(tenant_a, "REFUND ")
    assert (refused.value.code, refused.value.status) == ("label_name_taken", 409)
    assert Label.objects.count() == 1


def test_another_organization_may_use_the_same_name(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _create(tenant_a, "Refund")
    assert _create(tenant_b, "refund").organization == tenant_b.organization


def test_two_admins_creating_the_same_name_at_once_get_a_conflict_not_an_error(tenant_a: Tenant) -> None:
    _create(tenant_a, "VIP")
    # The other admin's check ran before this one's row was committed: the unique index decides.
    with mock.patch.object(services, "_name_used", autospec=True, return_value=False):
        with pytest.raises(LabelNameTaken):
            _create(tenant_a, "vip")
        label = _create(tenant_a, "Other")
        with pytest.raises(LabelNameTaken):
            services.label_update(
                organization=tenant_a.organization, acting_user=tenant_a.admin.user, label=label, name="VIP"
            )
    assert sorted(Label.objects.values_list("name", flat=True)) == ["Other", "VIP"]


def test_a_colour_outside_the_palette_is_refused_with_its_own_code(tenant_a: Tenant) -> None:
    with pytest.raises(InvalidLabelColor) as refused:
        _create(tenant_a, "Refund", "#ff0000")
    assert (refused.value.code, refused.value.status) == ("invalid_label_color", 400)


def test_a_label_is_renamed_and_recoloured(tenant_a: Tenant) -> None:
    label = _create(tenant_a, "Refund")
    services.label_update(
        organization=tenant_a.organization, acting_user=tenant_a.admin.user, label=label, name="Refunds", color="green"
    )
    label.refresh_from_db()
    assert (label.name, label.color) == ("Refunds", "green")


def test_renaming_to_its_own_name_in_another_case_is_allowed_but_not_to_anothers(tenant_a: Tenant) -> None:
    label = _create(tenant_a, "refund")
    _create(tenant_a, "VIP")
    services.label_update(organization=tenant_a.organization, acting_user=None, label=label, name="Refund")
    with pytest.raises(LabelNameTaken):
        services.label_update(organization=tenant_a.organization, acting_user=None, label=label, name="vip")
    label.refresh_from_db()
    assert label.name == "Refund"


def test_another_organizations_label_cannot_be_changed_or_deleted(tenant_a: Tenant, tenant_b: Tenant) -> None:
    label = _create(tenant_b, "Theirs")
    with pytest.raises(NotFound):
        services.label_update(organization=tenant_a.organization, acting_user=None, label=label, name="Mine")
    with pytest.raises(NotFound):
        services.label_delete(organization=tenant_a.organization, acting_user=None, label=label)
    assert Label.objects.get(pk=label.pk).name == "Theirs"


def test_deleting_a_label_takes_it_off_conversations_and_tickets_and_keeps_the_history(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.tickets.conftest import Desk, make_ticket

    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    page = factories.make_page(channel)
    conversation = factories.make_conversation(page)
    desk = Desk(tenant_a, channel, page, conversation)
    ticket = make_ticket(desk)
    label = _create(tenant_a, "Refund")
    kept = _create(tenant_a, "VIP")
    for each in (label, kept):
        conversations_label_add(
            organization=tenant_a.organization, acting_user=None, conversations=[conversation], label=each
        )
        tickets_label_add(organization=tenant_a.organization, acting_user=None, tickets=[ticket], label=each)
    services.label_delete(organization=tenant_a.organization, acting_user=tenant_a.admin.user, label=label)
    assert list(ConversationLabel.objects.values_list("label__name", flat=True)) == ["VIP"]
    assert list(TicketLabel.objects.values_list("label__name", flat=True)) == ["VIP"]
    # The transcript still says the label was added, by its name.
    assert ConversationEvent.objects.filter(kind=ConversationEvent.Kind.LABEL_ADDED, data__label="Refund").exists()
