"""On the embedded defaults (SQLite) the reports say they need PostgreSQL: the page and its CSV
with a 503 and the reason, the API with the stable code; the facts job writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from reports.services import facts_refresh
from tests import factories
from tests.conftest import Tenant, api_client_for

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor == "postgresql", reason="PostgreSQL has the reports"),
]

PERIOD = {"start": "2026-03-01", "end": "2026-03-31"}


def test_the_reports_say_they_need_postgresql(tenant_a: Tenant, client: Any) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Shop")
    page = factories.make_page(channel)
    factories.make_message(factories.make_conversation(page))
    assert facts_refresh() == 0

    client.force_login(tenant_a.admin.user)
    response = client.get("/o/alpha/reports/conversations/", PERIOD)
    assert response.status_code == 503
    assert "Reports need the PostgreSQL database" in response.content.decode()
    csv = client.get("/o/alpha/reports/conversations/csv/", PERIOD)
    assert csv.status_code == 503 and b"PostgreSQL" in csv.content

    answer = api_client_for(tenant_a.admin).get("/api/v1/reports/conversations/", PERIOD)
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "reports_unavailable"
