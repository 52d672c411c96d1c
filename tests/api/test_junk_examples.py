"""The junk that answered 500 before, one example each, with the status it gets now.

tests/api/test_junk_input.py sends such junk to every route; these name the cases that were
found: Unicode digits ("²" is a digit to str.isdigit() but not to int()), numbers of 5,000
digits (beyond Python's int-str limit) or beyond 64 bits, NUL, lone surrogates, deep JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from helpdesk.converters import parse_id, parse_int
from helpdesk.models import Department, Membership
from messenger.models import Conversation, WebhookEvent, WebhookOutcome
from tests import factories
from tests.conftest import Tenant, api_client_for
from tests.messenger.fixtures import PAGE_ID, text_item
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

HUGE = "9" * 5000


@dataclass
class Desk:
    tenant: Tenant
    conversation: Conversation
    ticket: Ticket


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Before the tenants' users are made (autouse fixtures come first)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def desk(tenant_a: Tenant) -> Desk:
    from tickets.services import ticket_create_from_conversation

    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel, page_id=PAGE_ID)
    conversation = factories.make_conversation(page, assignee=tenant_a.agent.user)
    factories.make_message(conversation, text="Hello")
    ticket = ticket_create_from_conversation(
        organization=tenant_a.organization,
        acting_user=tenant_a.admin.user,
        membership=tenant_a.admin,
        conversation_id=conversation.pk,
    )
    return Desk(tenant_a, conversation, ticket)


def web(membership: Membership) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(membership.user)
    return client


def api(membership: Membership) -> Any:
    client = api_client_for(membership)
    client.raise_request_exception = False
    return client


# --- The parsing rule ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["²", "٣", "𝟗", "1²", HUGE, str(2**63), "-1", "0", " 7", "7 ", "+7", "1_000", "7.0", "", "\x00", None, True],
)
def test_only_ascii_digits_within_64_bits_make_an_id(value: Any) -> None:
    assert parse_id(value) == -1


def test_a_whole_number_is_read_within_its_bounds() -> None:
    assert parse_id("42") == 42
    assert parse_id(str(2**63 - 1)) == 2**63 - 1
    assert parse_int("-5") == -5
    assert parse_int("٣") is None
    assert parse_int("150", minimum=1, maximum=100) is None


# --- Query strings -------------------------------------------------------------------------


@pytest.mark.parametrize("active", ["²", HUGE, str(2**63)], ids=["superscript-two", "5000-digits", "2**63"])
def test_the_inbox_list_ignores_an_active_conversation_that_is_no_id(desk: Desk, active: str) -> None:
    # The inbox list is the page that takes `active` (the conversation to highlight).
    response = web(desk.tenant.agent).get(f"/o/alpha/inbox/list/?active={active}")
    assert response.status_code == 200
    assert f"/o/alpha/inbox/{desk.conversation.pk}/" in response.content.decode()


@pytest.mark.parametrize("channel", ["²", "٣", "0", HUGE])
def test_the_inbox_ignores_a_channel_filter_that_is_no_id_as_it_ignores_other_junk(desk: Desk, channel: str) -> None:
    response = web(desk.tenant.agent).get("/o/alpha/inbox/list/", {"channel": channel})
    assert response.status_code == 200
    assert f"/o/alpha/inbox/{desk.conversation.pk}/" in response.content.decode()


@pytest.mark.parametrize("before", ["²", "٣", HUGE, str(2**63)])
def test_the_webhook_event_log_ignores_an_older_than_that_is_no_id(desk: Desk, before: str) -> None:
    WebhookEvent.objects.create(
        organization=desk.tenant.organization,
        page_id=PAGE_ID,
        kind="message",
        mid="m_shown",
        payload=text_item(mid="m_shown"),
        outcome=WebhookOutcome.STORED,
        received_at=timezone.now() - timedelta(minutes=1),
    )
    response = web(desk.tenant.admin).get("/o/alpha/settings/webhook-events/", {"before": before})
    assert response.status_code == 200
    assert b"m_shown" in response.content


@pytest.mark.parametrize("page_size", ["²", "𝟗", HUGE, str(2**63), "0", "101"])
def test_an_api_page_size_that_is_no_whole_number_from_1_to_100_is_refused(desk: Desk, page_size: str) -> None:
    response = api(desk.tenant.admin).get("/api/v1/departments/", {"page_size": page_size})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "page_size" in response.json()["error"]["details"]


@pytest.mark.parametrize("page_size", ["²", HUGE, "-1"])
def test_the_conversation_list_ignores_a_page_size_that_is_no_number_as_its_other_filters(
    desk: Desk, page_size: str
) -> None:
    response = api(desk.tenant.agent).get("/api/v1/conversations/", {"page_size": page_size})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [desk.conversation.pk]


@pytest.mark.parametrize("assignee", ["²", HUGE, str(2**63)])
def test_the_ticket_list_refuses_an_assignee_that_is_no_user_id(desk: Desk, assignee: str) -> None:
    response = api(desk.tenant.admin).get("/api/v1/tickets/", {"assignee": assignee})
    assert response.status_code == 400
    assert "assignee" in response.json()["error"]["details"]


# --- Assignees -----------------------------------------------------------------------------


@pytest.mark.parametrize("assignee", ["²", "٣", HUGE, str(2**63)])
def test_assigning_a_conversation_to_no_id_in_the_inbox_is_refused_and_changes_nothing(
    desk: Desk, assignee: str
) -> None:
    client = web(desk.tenant.agent)
    response = client.post(f"/o/alpha/inbox/{desk.conversation.pk}/assign/", {"assignee": assignee}, follow=True)
    assert response.redirect_chain[0][1] == 302
    assert response.status_code == 200
    assert "This person is not an agent of the conversation" in response.content.decode()
    desk.conversation.refresh_from_db()
    assert desk.conversation.assignee_id == desk.tenant.agent.user_id


@pytest.mark.parametrize("assignee", ["²", HUGE, 2**63, -1, [], {"id": 1}, True])
def test_assigning_a_conversation_to_no_id_in_the_api_is_refused(desk: Desk, assignee: Any) -> None:
    response = api(desk.tenant.agent).post(
        f"/api/v1/conversations/{desk.conversation.pk}/assign/", {"assignee_id": assignee}, format="json"
    )
    assert response.status_code == 400
    assert "assignee_id" in response.json()["error"]["details"]


@pytest.mark.parametrize("assignee", ["²", HUGE, str(2**63)])
def test_a_ticket_assignee_that_is_no_id_is_a_form_error(desk: Desk, assignee: str) -> None:
    response = web(desk.tenant.admin).post(
        f"/o/alpha/tickets/{desk.ticket.pk}/details/", {"priority": "normal", "assignee": assignee}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["assignee"]


@pytest.mark.parametrize("assignee", ["²", 2**63, [], "none"])
def test_a_ticket_assignee_that_is_no_id_is_refused_by_the_api(desk: Desk, assignee: Any) -> None:
    response = api(desk.tenant.admin).patch(f"/api/v1/tickets/{desk.ticket.pk}/", {"assignee": assignee}, format="json")
    assert response.status_code == 400
    assert "assignee" in response.json()["error"]["details"]


# --- Members and departments ---------------------------------------------------------------


@pytest.mark.parametrize("membership_id", ["0", "999999999999999999"])
def test_the_page_of_a_member_who_does_not_exist_is_404(desk: Desk, membership_id: str) -> None:
    assert web(desk.tenant.admin).get(f"/o/alpha/settings/members/{membership_id}/").status_code == 404
    assert web(desk.tenant.admin).post(f"/o/alpha/settings/members/{membership_id}/").status_code == 404


@pytest.mark.parametrize("department", ["²", str(2**63), HUGE])
def test_a_department_that_is_no_id_is_a_form_error_on_the_member_page(desk: Desk, department: str) -> None:
    agent = desk.tenant.agent
    response = web(desk.tenant.admin).post(
        f"/o/alpha/settings/members/{agent.pk}/", {"role": "admin", "is_active": "on", "departments": [department]}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["departments"]
    agent.refresh_from_db()
    assert agent.role == "agent"


@pytest.mark.parametrize(("name", "error"), [("a\x00b", "Null characters"), ("x" * 121, "At most 120 characters")])
def test_a_department_name_the_database_cannot_hold_is_refused_on_its_row(desk: Desk, name: str, error: str) -> None:
    department = desk.tenant.department
    response = web(desk.tenant.admin).post(f"/o/alpha/settings/departments/{department.pk}/", {"name": name})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert Department.objects.get(pk=department.pk).name == "Support"


# --- JSON bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ['{"name": "\\ud800"}', '{"\\udfff": "x"}', '{"name": ' + "[" * 5000 + "]" * 5000 + "}", '{"name": ' + HUGE + "}"],
    ids=["lone-surrogate-value", "lone-surrogate-key", "5000-deep", "5000-digit-number"],
)
def test_a_json_body_no_database_or_response_can_hold_is_refused_as_a_parse_error(desk: Desk, body: str) -> None:
    response = api(desk.tenant.admin).post("/api/v1/departments/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert not Department.objects.filter(organization=desk.tenant.organization).exclude(name="Support").exists()


def test_an_emoji_written_as_a_surrogate_pair_is_still_text(desk: Desk) -> None:
    body = json.dumps({"name": "Support \U0001f600"})  # json.dumps writes \ud83d\ude00
    assert "\\ud83d" in body
    response = api(desk.tenant.admin).post("/api/v1/departments/", body, content_type="application/json")
    assert response.status_code == 201
    assert Department.objects.filter(name="Support \U0001f600").exists()
