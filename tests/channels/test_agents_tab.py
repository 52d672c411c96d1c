"""Settings → Agents: which channels each agent of a department answers, and the selector
other areas call to scope what an agent sees."""

from __future__ import annotations

from typing import Any

import pytest

from channels import selectors, services
from channels.models import AgentChannel
from helpdesk.exceptions import NotFound
from helpdesk.models import Role
from tests import factories
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(tenant_a: Tenant, client: Any) -> Any:
    client.force_login(tenant_a.admin.user)
    return client


def _rows(html: str) -> str:
    return html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def test_the_tab_lists_the_agents_of_the_chosen_department(admin: Any, tenant_a: Tenant) -> None:
    sales = factories.make_department(tenant_a.organization, "Sales")
    seller = factories.make_member(tenant_a.organization, username="seller", departments=[sales])
    chat = factories.make_channel(tenant_a.organization, tenant_a.department, name="Support chat")
    factories.associate(tenant_a.agent, chat)
    html = admin.get("/o/alpha/settings/agents/").content.decode()
    # Departments by name: Sales comes first.
    assert f'option value="{sales.pk}" selected' in html
    rows = _rows(html)
    assert "seller" in rows and "alpha-agent" not in rows
    html = admin.get(f"/o/alpha/settings/agents/?department={tenant_a.department.pk}").content.decode()
    rows = _rows(html)
    assert "alpha-agent" in rows and "seller" not in rows
    assert "alpha-admin" not in rows  # admins see every channel anyway
    assert 'badge text-bg-light border me-1">Support chat' in html
    # "Associate" opens a modal picker of the department's channels, or a page without JavaScript.
    assert f'data-bs-target="#associate-{tenant_a.agent.pk}"' in html
    assert f'value="{chat.pk}" id="assoc-{tenant_a.agent.pk}-{chat.pk}" checked' in html
    assert seller.pk


def test_the_tab_opens_on_the_first_department_that_has_agents(admin: Any, tenant_a: Tenant) -> None:
    # "Accounts" comes first by name but nobody works there (an admin and a former agent only).
    accounts = factories.make_department(tenant_a.organization, "Accounts")
    factories.make_member(tenant_a.organization, role=Role.ADMIN, username="boss", departments=[accounts])
    former = factories.make_member(tenant_a.organization, username="former", departments=[accounts])
    former.is_active = False
    former.save(update_fields=["is_active"])
    html = admin.get("/o/alpha/settings/agents/").content.decode()
    assert f'option value="{tenant_a.department.pk}" selected' in html
    assert "alpha-agent" in _rows(html)
    # The empty department is still there to choose.
    html = admin.get(f"/o/alpha/settings/agents/?department={accounts.pk}").content.decode()
    assert f'option value="{accounts.pk}" selected' in html
    assert "No agent works in this department yet." in _rows(html)


def test_without_any_agent_the_tab_opens_on_the_first_department(admin: Any, tenant_a: Tenant) -> None:
    tenant_a.agent.departments.clear()
    accounts = factories.make_department(tenant_a.organization, "Accounts")
    html = admin.get("/o/alpha/settings/agents/").content.decode()
    assert f'option value="{accounts.pk}" selected' in html


def test_an_admin_associates_an_agent_with_channels_of_the_department(admin: Any, tenant_a: Tenant) -> None:
    factories.make_department(tenant_a.organization)
    first = factories.make_channel(tenant_a.organization, tenant_a.department, name="First")
    second = factories.make_channel(tenant_a.organization, tenant_a.department, name="Second")
    url = f"/o/alpha/settings/agents/{tenant_a.agent.pk}/channels/"
    picker = admin.get(f"{url}?department={tenant_a.department.pk}").content.decode()
    assert "First" in picker and "Second" in picker
    response = admin.post(url, {"department": tenant_a.department.pk, "channels": [first.pk, second.pk]})
    assert response["Location"] == f"/o/alpha/settings/agents/?department={tenant_a.department.pk}"
    assert selectors.channel_ids_visible_to(organization=tenant_a.organization, membership=tenant_a.agent) == sorted(
        [first.pk, second.pk]
    )
    admin.post(url, {"department": tenant_a.department.pk, "channels": [second.pk]})
    assert selectors.channel_ids_visible_to(organization=tenant_a.organization, membership=tenant_a.agent) == [
        second.pk
    ]
    admin.post(url, {"department": tenant_a.department.pk})
    assert selectors.channel_ids_visible_to(organization=tenant_a.organization, membership=tenant_a.agent) == []


def test_saving_one_department_leaves_the_agents_other_departments_alone(tenant_a: Tenant) -> None:
    sales = factories.make_department(tenant_a.organization, "Sales")
    tenant_a.agent.departments.add(sales)
    support_chat = factories.make_channel(tenant_a.organization, tenant_a.department)
    sales_chat = factories.make_channel(tenant_a.organization, sales)
    factories.associate(tenant_a.agent, support_chat)
    services.agent_channels_set(
        organization=tenant_a.organization,
        acting_user=None,
        membership=tenant_a.agent,
        department_id=sales.pk,
        channel_ids=[sales_chat.pk],
    )
    assert set(AgentChannel.objects.filter(membership=tenant_a.agent).values_list("channel_id", flat=True)) == {
        support_chat.pk,
        sales_chat.pk,
    }


def test_a_channel_of_another_department_or_organization_is_404(admin: Any, tenant_a: Tenant, tenant_b: Tenant) -> None:
    sales = factories.make_department(tenant_a.organization, "Sales")
    sales_chat = factories.make_channel(tenant_a.organization, sales)
    foreign = factories.make_channel(tenant_b.organization, tenant_b.department)
    url = f"/o/alpha/settings/agents/{tenant_a.agent.pk}/channels/"
    for channel in (sales_chat, foreign):
        response = admin.post(url, {"department": tenant_a.department.pk, "channels": [channel.pk]})
        assert response.status_code == 404
    assert not AgentChannel.objects.exists()
    # An agent of another organization, or outside the department: 404 too.
    assert admin.get(f"/o/alpha/settings/agents/{tenant_b.agent.pk}/channels/").status_code == 404
    assert admin.get(f"/o/alpha/settings/agents/{tenant_a.agent.pk}/channels/?department={sales.pk}").status_code == 404


def test_admins_see_every_channel_and_agents_only_theirs(tenant_a: Tenant, tenant_b: Tenant) -> None:
    chat = factories.make_channel(tenant_a.organization, tenant_a.department)
    assert selectors.channel_ids_visible_to(organization=tenant_a.organization, membership=tenant_a.admin) is None
    assert selectors.channel_ids_visible_to(organization=tenant_a.organization, membership=tenant_a.agent) == []
    factories.associate(tenant_a.agent, chat)
    assert selectors.channel_ids_visible_to(organization=tenant_a.organization, membership=tenant_a.agent) == [chat.pk]
    # A membership of another organization sees nothing here.
    assert selectors.channel_ids_visible_to(organization=tenant_a.organization, membership=tenant_b.admin) == []


def test_an_agent_keeps_seeing_a_deleted_channels_conversations(tenant_a: Tenant) -> None:
    chat = factories.make_channel(tenant_a.organization, tenant_a.department)
    factories.associate(tenant_a.agent, chat)
    services.channel_delete(organization=tenant_a.organization, acting_user=None, channel=chat)
    assert selectors.channel_ids_visible_to(organization=tenant_a.organization, membership=tenant_a.agent) == [chat.pk]


def test_channel_agents_must_belong_to_the_channels_department(tenant_a: Tenant, tenant_b: Tenant) -> None:
    chat = factories.make_channel(tenant_a.organization, tenant_a.department)
    outsider = factories.make_member(tenant_a.organization, role=Role.AGENT)
    with pytest.raises(NotFound):
        services.channel_agents_set(
            organization=tenant_a.organization, acting_user=None, channel=chat, membership_ids=[tenant_b.agent.pk]
        )
    from helpdesk.exceptions import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        services.channel_agents_set(
            organization=tenant_a.organization, acting_user=None, channel=chat, membership_ids=[outsider.pk]
        )
    assert refused.value.details == {"membership_ids": [outsider.pk]}
