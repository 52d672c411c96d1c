"""The reports on the embedded defaults (SQLite, what `make run` gives a newcomer) as on
PostgreSQL: the facts job writes a new conversation's facts, and the page, its CSV and the API
answer with its figures (they once answered 503 `reports_unavailable` there)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from messenger.models import Direction
from reports import tasks
from reports.models import ConversationFact
from tests import factories
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


def test_a_first_conversation_shows_in_the_reports(tenant_a: Tenant, client: Any) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Shop")
    conversation = factories.make_conversation(factories.make_page(channel))
    wrote_at = timezone.now() - timedelta(minutes=10)
    factories.make_message(conversation, sent_at=wrote_at)
    factories.make_message(
        conversation, direction=Direction.OUTBOUND, sent_at=wrote_at + timedelta(seconds=90), author=tenant_a.admin.user
    )

    assert tasks.facts_refresh() == 1
    assert ConversationFact.objects.get(conversation=conversation).first_response_at == wrote_at + timedelta(seconds=90)
    assert tasks.facts_refresh() == 0

    client.force_login(tenant_a.admin.user)
    page = client.get("/o/alpha/reports/conversations/", {"group": "channel"})
    assert page.status_code == 200
    assert page.context["rows"] == [("Shop", ["1", "1", "0", "0"])]
    assert '<svg class="hd-chart" role="img"' in page.content.decode()
    times = client.get("/o/alpha/reports/response-times/csv/", {"group": "channel"})
    assert times.status_code == 200
    assert list(csv.reader(io.StringIO(times.content.decode())))[1] == ["Shop", "1", "90.0", "90.0", "0", "", ""]

    answer = api_client_for(tenant_a.admin).get("/api/v1/reports/conversations/", {"group": "channel"})
    assert answer.status_code == 200
    assert answer.json()["rows"] == [
        {
            "key": channel.pk,
            "label": "Shop",
            "values": {"received": 1.0, "answered": 1.0, "unanswered": 0.0, "lost": 0.0},
        }
    ]
