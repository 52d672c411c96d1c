"""The composer's search: what a member may use in a conversation, matched on the shortcut,
title or either text (Japanese too), shortcut prefixes first, then the most used."""

from __future__ import annotations

from typing import Any

import pytest

from canned import selectors
from canned.models import CannedResponse
from tests import factories
from tests.canned.conftest import Desk

pytestmark = pytest.mark.django_db


def search(desk: Desk, query: str, *, membership: Any = None, conversation: Any = None) -> list[str]:
    found = selectors.canned_search(
        organization=desk.tenant.organization,
        membership=membership or desk.tenant.agent,
        conversation=conversation or desk.conversation,
        query=query,
    )
    return [response.shortcut for response in found]


def test_shortcut_title_and_both_texts_are_searched_case_aside(desk: Desk) -> None:
    desk.canned(shortcut="refund", title="Money back")
    desk.canned(shortcut="ship", title="Shipping DELAYS")
    desk.canned(shortcut="hours", title="Opening hours", body_en="We open at NINE.")
    desk.canned(shortcut="jp", title="Japanese only", body_ja="ご注文ありがとうございます。発送は明日です。")
    assert search(desk, "REF") == ["refund"]
    assert search(desk, "delays") == ["ship"]
    assert search(desk, "nine") == ["hours"]
    assert search(desk, "発送") == ["jp"]
    assert search(desk, "/ship") == ["ship"]
    assert search(desk, "nothing like it") == []


def test_shortcut_prefixes_come_first_then_the_most_used(desk: Desk) -> None:
    desk.canned(shortcut="thanks", title="Thank you")
    desk.canned(shortcut="bye", title="Goodbye and thanks")
    desk.canned(shortcut="closing", title="Closing", body_en="thanks again")
    CannedResponse.objects.filter(shortcut="closing").update(usage_count=9)
    CannedResponse.objects.filter(shortcut="bye").update(usage_count=3)
    assert search(desk, "thank") == ["thanks", "closing", "bye"]
    # Nothing typed yet: the most used first.
    assert search(desk, "") == ["closing", "bye", "thanks"]


def test_a_conversation_offers_its_departments_and_the_members_own(desk: Desk) -> None:
    desk.canned(shortcut="org")
    desk.canned(shortcut="support", scope="department", department_id=desk.tenant.department.pk)
    desk.canned(shortcut="billing", scope="department", department_id=desk.other_department.pk)
    desk.canned(by=desk.tenant.agent, scope="personal", shortcut="mine")
    colleague = factories.make_member(desk.tenant.organization, departments=[desk.tenant.department])
    desk.canned(by=colleague, scope="personal", shortcut="theirs")
    assert sorted(search(desk, "")) == ["mine", "org", "support"]
    admin = desk.tenant.admin
    assert sorted(search(desk, "", membership=admin, conversation=desk.other_conversation)) == ["billing", "org"]


def test_the_search_is_one_query_and_at_most_ten(desk: Desk, django_assert_num_queries: Any) -> None:
    for n in range(15):
        desk.canned(shortcut=f"greet{n}", title="Greeting")
    with django_assert_num_queries(1):
        assert len(search(desk, "greet")) == 10


def test_another_organizations_responses_are_never_found(desk: Desk, tenant_b: Any) -> None:
    desk.canned(shortcut="secret", title="Alpha's secret")
    channel = factories.make_channel(tenant_b.organization, tenant_b.department)
    conversation = factories.make_conversation(factories.make_page(channel))
    found = selectors.canned_search(
        organization=tenant_b.organization, membership=tenant_b.admin, conversation=conversation, query="secret"
    )
    assert found == []
