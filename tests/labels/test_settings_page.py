"""Settings → Labels: admins list, create, rename, recolour and delete labels; agents get 403,
members of another organization 404."""

from __future__ import annotations

from typing import Any

import pytest

from labels.models import Label
from messenger.models import ConversationLabel
from messenger.services.conversations.labels import conversations_label_add
from tests import factories
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db

URL = "/o/alpha/settings/labels/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _label(tenant: Tenant, name: str, color: str = "blue") -> Label:
    return Label.objects.create(organization=tenant.organization, name=name, color=color)


def test_the_settings_navigation_links_to_labels(tenant_a: Tenant, web_client_for: Any) -> None:
    response = web_client_for(tenant_a.admin).get("/o/alpha/settings/departments/")
    assert f'href="{URL}"'.encode() in response.content


def test_the_page_lists_each_label_with_its_colour_name_and_use(tenant_a: Tenant, web_client_for: Any) -> None:
    refund = _label(tenant_a, "Refund", "red")
    _label(tenant_a, "VIP", "purple")
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    page = factories.make_page(channel)
    conversations = [factories.make_conversation(page) for _ in range(3)]
    conversations_label_add(
        organization=tenant_a.organization, acting_user=None, conversations=conversations, label=refund
    )
    response = web_client_for(tenant_a.admin).get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="hd-label hd-label-red"><span class="hd-label-name">Refund</span>' in html
    assert 'class="hd-label hd-label-purple"><span class="hd-label-name">VIP</span>' in html
    row = html[html.index(f'id="label-{refund.pk}"') :]
    assert '<td class="text-end">3</td>' in row[: row.index("</tr>")]
    assert 'aria-current="page"' in html and "labels/labels.css" in html


def test_an_admin_creates_a_label(tenant_a: Tenant, web_client_for: Any) -> None:
    response = web_client_for(tenant_a.admin).post(URL, {"name": " Refund ", "color": "green"}, follow=True)
    assert response.status_code == 200
    assert "Label “Refund” created." in response.content.decode()
    assert Label.objects.get(organization=tenant_a.organization).color == "green"


def test_a_duplicate_name_in_another_case_is_a_form_error(tenant_a: Tenant, web_client_for: Any) -> None:
    _label(tenant_a, "Refund")
    response = web_client_for(tenant_a.admin).post(URL, {"name": "REFUND", "color": "blue"})
    assert response.status_code == 409
    html = response.content.decode()
    assert 'id="id_name_errors"' in html and "A label with this name already exists." in html
    assert Label.objects.count() == 1


def test_an_unknown_colour_is_a_form_error(tenant_a: Tenant, web_client_for: Any) -> None:
    response = web_client_for(tenant_a.admin).post(URL, {"name": "Refund", "color": "chartreuse"})
    assert response.status_code == 400
    assert 'id="id_color_errors"' in response.content.decode()
    assert not Label.objects.exists()


def test_an_admin_renames_and_recolours_a_label(tenant_a: Tenant, web_client_for: Any) -> None:
    label = _label(tenant_a, "Refund")
    response = web_client_for(tenant_a.admin).post(
        f"{URL}{label.pk}/", {"action": "save", "name": "Refunds", "color": "orange"}
    )
    assert response.status_code == 302
    label.refresh_from_db()
    assert (label.name, label.color) == ("Refunds", "orange")


def test_renaming_to_a_taken_name_shows_the_refusal_on_the_row(tenant_a: Tenant, web_client_for: Any) -> None:
    label = _label(tenant_a, "Refund")
    _label(tenant_a, "VIP")
    response = web_client_for(tenant_a.admin).post(f"{URL}{label.pk}/", {"action": "save", "name": "vip"})
    assert response.status_code == 409
    assert f'id="label-{label.pk}-error" role="alert">A label with this name already exists.' in (
        response.content.decode()
    )
    label.refresh_from_db()
    assert label.name == "Refund"


def test_deleting_asks_first_and_takes_the_label_off_conversations(tenant_a: Tenant, web_client_for: Any) -> None:
    label = _label(tenant_a, "Refund")
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    conversation = factories.make_conversation(factories.make_page(channel))
    conversations_label_add(
        organization=tenant_a.organization, acting_user=None, conversations=[conversation], label=label
    )
    client = web_client_for(tenant_a.admin)
    page = client.get(URL).content.decode()
    assert 'data-confirm="Delete the label “Refund”?"' in page
    assert "conversations: 1, tickets: 0" in page
    response = client.post(f"{URL}{label.pk}/", {"action": "delete"})
    assert response.status_code == 302
    assert not Label.objects.exists()
    assert not ConversationLabel.objects.exists()


def test_an_agent_cannot_manage_labels(tenant_a: Tenant, web_client_for: Any) -> None:
    label = _label(tenant_a, "Refund")
    client = web_client_for(tenant_a.agent)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"name": "Mine", "color": "blue"}).status_code == 403
    assert client.post(f"{URL}{label.pk}/", {"action": "delete"}).status_code == 403
    assert list(Label.objects.values_list("name", flat=True)) == ["Refund"]


def test_another_organization_gets_404(tenant_a: Tenant, tenant_b: Tenant, web_client_for: Any) -> None:
    label = _label(tenant_a, "Refund")
    client = web_client_for(tenant_b.admin)
    assert client.get(URL).status_code == 404
    assert client.post(f"{URL}{label.pk}/", {"action": "delete"}).status_code == 404
    # Nor through their own organization's address.
    assert client.post(f"/o/bravo/settings/labels/{label.pk}/", {"action": "delete"}).status_code == 404
    assert client.post(f"/o/bravo/settings/labels/{label.pk}/", {"name": "Theirs"}).status_code == 404
    assert Label.objects.get().name == "Refund"
