"""Settings → Tickets: per department, the idle time before a chat becomes a ticket."""

from __future__ import annotations

from typing import Any

import pytest

from channels import selectors, services
from channels.models import DepartmentSettings
from helpdesk.exceptions import InvalidInput, NotFound
from helpdesk.models import Department
from tests import factories
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db

URL = "/o/alpha/settings/tickets/"


@pytest.fixture
def admin(tenant_a: Tenant, client: Any) -> Any:
    client.force_login(tenant_a.admin.user)
    return client


def _field(department: Department) -> str:
    return f"delay_{department.pk}"


def test_every_department_starts_at_sixty_minutes(admin: Any, tenant_a: Tenant) -> None:
    html = admin.get(URL).content.decode()
    assert "Support" in html
    assert f'name="{_field(tenant_a.department)}"' in html and 'value="60"' in html
    assert (
        selectors.ticket_delay_minutes(organization=tenant_a.organization, department_id=tenant_a.department.pk) == 60
    )


def test_an_admin_sets_each_departments_delay(admin: Any, tenant_a: Tenant) -> None:
    sales = factories.make_department(tenant_a.organization, "Sales")
    response = admin.post(URL, {_field(tenant_a.department): "90", _field(sales): "1440"})
    assert response.status_code == 302
    assert selectors.ticket_delays_by_department(organization=tenant_a.organization) == {
        tenant_a.department.pk: 90,
        sales.pk: 1440,
    }
    assert 'value="90"' in admin.get(URL).content.decode()


@pytest.mark.parametrize(
    ("value", "message"),
    [("59", "At least 60 minutes."), ("1441", "At most 24 hours (1440 minutes)."), ("", "This field is required.")],
)
def test_a_delay_out_of_range_is_a_form_error(admin: Any, tenant_a: Tenant, value: str, message: str) -> None:
    response = admin.post(URL, {_field(tenant_a.department): value})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not DepartmentSettings.objects.exists()


def test_the_service_refuses_out_of_range_and_other_organizations(tenant_a: Tenant, tenant_b: Tenant) -> None:
    for minutes in (59, 1441, True):
        with pytest.raises(InvalidInput):
            services.department_ticket_delay_set(
                organization=tenant_a.organization,
                acting_user=None,
                department_id=tenant_a.department.pk,
                minutes=minutes,
            )
    with pytest.raises(NotFound):
        services.department_ticket_delay_set(
            organization=tenant_a.organization, acting_user=None, department_id=tenant_b.department.pk, minutes=90
        )


def test_the_sweep_reads_every_delay_in_one_query(
    tenant_a: Tenant, tenant_b: Tenant, django_assert_num_queries: Any
) -> None:
    services.department_ticket_delay_set(
        organization=tenant_b.organization, acting_user=None, department_id=tenant_b.department.pk, minutes=120
    )
    with django_assert_num_queries(1):
        delays = selectors.ticket_delays_by_department()
    assert delays == {tenant_a.department.pk: 60, tenant_b.department.pk: 120}


def test_the_expression_annotates_rows_by_their_department(tenant_a: Tenant) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department)
    conversation = factories.make_conversation(factories.make_page(channel))
    services.department_ticket_delay_set(
        organization=tenant_a.organization, acting_user=None, department_id=tenant_a.department.pk, minutes=75
    )
    annotated = (
        type(conversation).objects.annotate(delay=selectors.ticket_delay_minutes_expression()).get(pk=conversation.pk)
    )
    assert annotated.delay == 75
