"""The API endpoints that do what the UI's pages and actions do and had none: a ticket's reply
and notes, the organization's settings, the caller's preferences and API tokens, the
availability rules, a conversation's and a ticket's ratings, a canned response's files."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from rest_framework.test import APIClient

from canned import services as canned_services
from canned.models import CannedAttachment, CannedResponse
from csat.models import Survey, SurveyOccasion, SurveyStatus
from helpdesk import alerts
from helpdesk.models import ApiToken, Role
from helpdesk.services import api_token_create, membership_alert_preferences_update
from messenger.models import Direction, Message, Note
from tests import factories
from tests.conftest import Tenant, api_client_for
from tests.tickets.conftest import T0, Desk, make_ticket, minutes, resolve_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def desk(tenant_a: Tenant) -> Desk:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Facebook")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel, name="Alpha page")
    conversation = factories.make_conversation(page, factories.make_contact(page, display_name="Hanako Yamada"))
    return Desk(tenant_a, channel, page, conversation)


# --- A ticket's reply and notes ---------------------------------------------------------------


def test_an_agent_replies_from_a_ticket_once_whatever_the_retries(desk: Desk) -> None:
    ticket = make_ticket(desk)
    client = api_client_for(desk.tenant.agent)
    with mock.patch("django.utils.timezone.now", return_value=T0 + minutes(30)):
        for _ in range(2):
            sent = client.post(
                f"/api/v1/tickets/{ticket.pk}/messages/",
                {"text": "We are on it."},
                format="json",
                HTTP_IDEMPOTENCY_KEY="reply-1",
            )
            assert sent.status_code == 202
    assert sent["Idempotent-Replayed"] == "true"
    (message,) = Message.objects.filter(direction=Direction.OUTBOUND)
    assert message.text == "We are on it."
    assert message.conversation_id == ticket.conversation_id
    assert sent.json()["id"] == message.pk


def test_a_reply_from_a_ticket_follows_the_conversations_rules(desk: Desk) -> None:
    ticket = make_ticket(desk)
    client = api_client_for(desk.tenant.agent)
    with mock.patch("django.utils.timezone.now", return_value=T0 + minutes(30)):
        too_long = client.post(f"/api/v1/tickets/{ticket.pk}/messages/", {"text": "x" * 5000}, format="json")
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "message_too_long"
    # Days later the reply window is closed: refused as in the inbox.
    late = client.post(f"/api/v1/tickets/{ticket.pk}/messages/", {"text": "Hello?"}, format="json")
    assert late.status_code == 409
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_another_organization_cannot_reply_to_or_note_a_ticket(desk: Desk, tenant_b: Tenant) -> None:
    ticket = make_ticket(desk)
    client = api_client_for(tenant_b.admin)
    assert client.post(f"/api/v1/tickets/{ticket.pk}/messages/", {"text": "hi"}, format="json").status_code == 404
    assert client.post(f"/api/v1/tickets/{ticket.pk}/notes/", {"body": "hi"}, format="json").status_code == 404
    assert client.get(f"/api/v1/tickets/{ticket.pk}/notes/").status_code == 404
    assert not Note.objects.exists()


def test_an_agent_adds_and_reads_the_notes_of_a_ticket(desk: Desk) -> None:
    ticket = make_ticket(desk)
    client = api_client_for(desk.tenant.agent)
    added = client.post(f"/api/v1/tickets/{ticket.pk}/notes/", {"body": "Call back on Monday"}, format="json")
    assert added.status_code == 201
    assert added.json()["body"] == "Call back on Monday"
    note = Note.objects.get()
    assert note.conversation_id == ticket.conversation_id
    listed = client.get(f"/api/v1/tickets/{ticket.pk}/notes/").json()["results"]
    assert [row["id"] for row in listed] == [note.pk]
    empty = client.post(f"/api/v1/tickets/{ticket.pk}/notes/", {"body": "   "}, format="json")
    assert empty.status_code == 400
    assert empty.json()["error"]["code"] == "note_empty"


def test_a_tickets_notes_are_those_of_its_part_of_the_thread(desk: Desk) -> None:
    """As on the ticket's page: not the notes written before its first message, nor those of
    the conversation's next part (after the customer wrote again once it was resolved)."""
    organization, conversation = desk.tenant.organization, desk.conversation
    earlier = Note.objects.create(organization=organization, conversation=conversation, author_name="A", body="before")
    Note.objects.filter(pk=earlier.pk).update(created_at=T0 - minutes(60))
    ticket = make_ticket(desk)
    during = Note.objects.create(organization=organization, conversation=conversation, author_name="A", body="during")
    Note.objects.filter(pk=during.pk).update(created_at=T0 + minutes(5))
    resolve_ticket(desk, ticket)
    desk.say("One more thing", T0 + minutes(120))
    later = Note.objects.create(organization=organization, conversation=conversation, author_name="A", body="later")
    Note.objects.filter(pk=later.pk).update(created_at=T0 + minutes(125))
    listed = api_client_for(desk.tenant.agent).get(f"/api/v1/tickets/{ticket.pk}/notes/").json()["results"]
    assert [row["body"] for row in listed] == ["during"]


def test_an_agent_of_another_department_gets_404_for_a_tickets_notes(desk: Desk) -> None:
    ticket = make_ticket(desk)
    sales = factories.make_department(desk.tenant.organization, "Sales")
    outsider = factories.make_member(desk.tenant.organization, role=Role.AGENT, username="sales", departments=[sales])
    client = api_client_for(outsider)
    assert client.get(f"/api/v1/tickets/{ticket.pk}/notes/").status_code == 404
    assert client.post(f"/api/v1/tickets/{ticket.pk}/messages/", {"text": "x"}, format="json").status_code == 404


# --- The organization's settings ----------------------------------------------------------------


def test_an_admin_reads_and_changes_the_organization_settings(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    read = client.get("/api/v1/organization/")
    assert read.status_code == 200
    assert read.json()["slug"] == "alpha"
    changed = client.patch(
        "/api/v1/organization/", {"time_zone": "Asia/Tokyo", "unassigned_alert_minutes": 30}, format="json"
    )
    assert changed.status_code == 200
    tenant_a.organization.refresh_from_db()
    tenant_b.organization.refresh_from_db()
    assert (tenant_a.organization.time_zone, tenant_a.organization.unassigned_alert_minutes) == ("Asia/Tokyo", 30)
    assert tenant_b.organization.time_zone != "Asia/Tokyo"
    assert changed.json()["name"] == tenant_a.organization.name


def test_bad_organization_settings_are_400_with_the_field(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    for body, field in (
        ({"time_zone": "Mars/Olympus"}, None),
        ({"unassigned_alert_minutes": 0}, "unassigned_alert_minutes"),
        ({"name": "  "}, "name"),
    ):
        response = client.patch("/api/v1/organization/", body, format="json")
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "invalid"
        if field:
            assert field in response.json()["error"]["details"]


def test_an_agent_may_not_read_or_change_the_organization_settings(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.agent)
    assert client.get("/api/v1/organization/").status_code == 403
    assert client.patch("/api/v1/organization/", {"name": "Mine"}, format="json").status_code == 403


# --- The caller's preferences ---------------------------------------------------------------------


def test_a_member_changes_their_own_preferences(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.agent)
    assert client.get("/api/v1/me/preferences/").json()["language"] == ""
    changed = client.patch(
        "/api/v1/me/preferences/", {"language": "ja", "alert_ways": ["in_app", "email"]}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["language"] == "ja"
    assert changed.json()["alert_ways"] == ["in_app", "email"]
    tenant_a.agent.refresh_from_db()
    tenant_a.admin.refresh_from_db()
    assert tenant_a.agent.language == "ja"
    assert tenant_a.admin.language == ""
    assert alerts.choices_of(tenant_a.agent).ways == {"in_app", "email"}


def test_an_agent_keeps_the_admin_only_alert_as_it_was(tenant_a: Tenant) -> None:
    """Not offered to agents: neither turned off by leaving it out nor on by naming it."""
    client = api_client_for(tenant_a.agent)
    kept = alerts.choices_of(tenant_a.agent).events & alerts.ADMIN_EVENTS
    assert kept  # on by default
    client.patch("/api/v1/me/preferences/", {"alert_events": ["mention"]}, format="json")
    assert alerts.choices_of(tenant_a.agent).events == {"mention"} | kept
    membership_alert_preferences_update(membership=tenant_a.admin, events=[], ways=["in_app"])
    tenant_a.admin.role = Role.AGENT
    tenant_a.admin.save(update_fields=["role"])
    api_client_for(tenant_a.admin).patch(
        "/api/v1/me/preferences/", {"alert_events": ["mention", "unassigned_too_long"]}, format="json"
    )
    assert alerts.choices_of(tenant_a.admin).events == {"mention"}


def test_bad_preferences_are_400(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.agent)
    unknown_language = client.patch("/api/v1/me/preferences/", {"language": "xx"}, format="json")
    assert unknown_language.status_code == 400
    unknown_way = client.patch("/api/v1/me/preferences/", {"alert_ways": ["pigeon"]}, format="json")
    assert unknown_way.status_code == 400
    assert unknown_way.json()["error"]["code"] == "invalid"


# --- API tokens -------------------------------------------------------------------------------------


def test_a_member_lists_and_revokes_only_their_own_tokens(tenant_a: Tenant, tenant_b: Tenant) -> None:
    mine, _key = api_token_create(membership=tenant_a.agent, name="script")
    colleague, _ = api_token_create(membership=tenant_a.admin, name="admin's")
    elsewhere, _ = api_token_create(membership=tenant_b.agent, name="bravo's")
    client = api_client_for(tenant_a.agent)
    listed = client.get("/api/v1/api-tokens/").json()["results"]
    assert "script" in {row["name"] for row in listed}
    assert all("key" not in row and "key_hash" not in row for row in listed)
    assert not {colleague.pk, elsewhere.pk} & {row["id"] for row in listed}
    assert client.delete(f"/api/v1/api-tokens/{colleague.pk}/").status_code == 404
    assert client.delete(f"/api/v1/api-tokens/{elsewhere.pk}/").status_code == 404
    assert client.delete(f"/api/v1/api-tokens/{mine.pk}/").status_code == 204
    assert client.delete(f"/api/v1/api-tokens/{mine.pk}/").status_code == 404
    assert ApiToken.objects.get(pk=mine.pk).revoked_at is not None
    assert ApiToken.objects.get(pk=colleague.pk).revoked_at is None


def test_tokens_are_not_created_through_the_api(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).post("/api/v1/api-tokens/", {"name": "x"}, format="json")
    assert response.status_code == 405


# --- Availability rules -------------------------------------------------------------------------------


def test_an_admin_changes_the_availability_rules(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    before = client.get("/api/v1/availability/settings/").json()
    changed = client.patch("/api/v1/availability/settings/", {"idle_minutes": 30}, format="json")
    assert changed.status_code == 200
    assert changed.json() == {**before, "idle_minutes": 30}
    bad = client.patch("/api/v1/availability/settings/", {"default_capacity": 0}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_capacity"


def test_an_agent_may_not_see_the_availability_rules(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.agent)
    assert client.get("/api/v1/availability/settings/").status_code == 403
    assert client.patch("/api/v1/availability/settings/", {"idle_minutes": 30}, format="json").status_code == 403


# --- Ratings -------------------------------------------------------------------------------------------


def _survey(desk: Desk, ticket: Any = None, **fields: Any) -> Survey:
    return Survey.objects.create(
        organization=desk.tenant.organization,
        conversation=desk.conversation,
        channel=desk.channel,
        department=desk.tenant.department,
        agent=desk.tenant.agent.user,
        ticket=ticket,
        occasion=SurveyOccasion.TICKET_RESOLVED if ticket else SurveyOccasion.CONVERSATION_CLOSED,
        occasion_id=1,
        status=SurveyStatus.SENT,
        language="en",
        asked_at=T0,
        **fields,
    )


def test_a_member_reads_the_ratings_of_a_conversation_and_a_ticket(desk: Desk) -> None:
    ticket = make_ticket(desk)
    closed = _survey(desk, score=5, comment="Great")
    resolved = _survey(desk, ticket=ticket, score=2)
    client = api_client_for(desk.tenant.agent)
    conversation_ratings = client.get(f"/api/v1/conversations/{desk.conversation.pk}/ratings/").json()["results"]
    assert {row["id"] for row in conversation_ratings} == {closed.pk, resolved.pk}
    ticket_ratings = client.get(f"/api/v1/tickets/{ticket.pk}/ratings/").json()["results"]
    assert [(row["id"], row["score"], row["agent"]["id"]) for row in ticket_ratings] == [
        (resolved.pk, 2, desk.tenant.agent.user.pk)
    ]


def test_ratings_follow_who_may_see_the_conversation(desk: Desk, tenant_b: Tenant) -> None:
    ticket = make_ticket(desk)
    _survey(desk, score=5)
    other_org = api_client_for(tenant_b.admin)
    assert other_org.get(f"/api/v1/conversations/{desk.conversation.pk}/ratings/").status_code == 404
    assert other_org.get(f"/api/v1/tickets/{ticket.pk}/ratings/").status_code == 404
    not_on_channel = factories.make_member(desk.tenant.organization, role=Role.AGENT, username="elsewhere")
    assert (
        api_client_for(not_on_channel).get(f"/api/v1/conversations/{desk.conversation.pk}/ratings/").status_code == 404
    )


# --- A canned response's files -------------------------------------------------------------------------


def _canned(tenant: Tenant, scope: str = "organization") -> CannedResponse:
    return canned_services.canned_response_create(
        organization=tenant.organization,
        membership=tenant.admin,
        acting_user=tenant.admin.user,
        scope=scope,
        shortcut="times",
        title="Timetable",
        body_en="Our timetable.",
    )


def _upload(name: str = "timetable.pdf", content: bytes = b"%PDF-1.4 timetable") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/pdf")


def test_an_admin_adds_downloads_and_removes_a_canned_responses_file(
    tenant_a: Tenant, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    canned = _canned(tenant_a)
    client = api_client_for(tenant_a.admin)
    added = client.post(f"/api/v1/canned-responses/{canned.pk}/attachments/", {"file": _upload()}, format="multipart")
    assert added.status_code == 201
    (attachment,) = added.json()["attachments"]
    assert attachment["title"] == "timetable.pdf"
    url = f"/api/v1/canned-responses/{canned.pk}/attachments/{attachment['id']}/"
    downloaded = api_client_for(tenant_a.agent).get(url)
    assert downloaded.status_code == 200
    assert b"".join(downloaded.streaming_content) == b"%PDF-1.4 timetable"
    assert client.delete(url).status_code == 204
    assert not CannedAttachment.objects.exists()


def test_an_agent_may_not_change_the_organizations_canned_files(tenant_a: Tenant, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    canned = _canned(tenant_a)
    client = api_client_for(tenant_a.agent)
    refused = client.post(f"/api/v1/canned-responses/{canned.pk}/attachments/", {"file": _upload()}, format="multipart")
    assert refused.status_code == 403
    assert not CannedAttachment.objects.exists()


def test_a_canned_file_of_another_organization_is_404(
    tenant_a: Tenant, tenant_b: Tenant, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    canned = _canned(tenant_a)
    attachment = canned_services.canned_attachment_add(
        organization=tenant_a.organization, membership=tenant_a.admin, canned_response=canned, upload=_upload()
    )
    client = api_client_for(tenant_b.admin)
    url = f"/api/v1/canned-responses/{canned.pk}/attachments/{attachment.pk}/"
    assert client.get(url).status_code == 404
    assert client.delete(url).status_code == 404
    assert (
        client.post(
            f"/api/v1/canned-responses/{canned.pk}/attachments/", {"file": _upload()}, format="multipart"
        ).status_code
        == 404
    )
    assert CannedAttachment.objects.count() == 1


def test_a_canned_upload_without_a_file_or_past_three_is_400(tenant_a: Tenant, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    canned = _canned(tenant_a)
    client = api_client_for(tenant_a.admin)
    url = f"/api/v1/canned-responses/{canned.pk}/attachments/"
    assert client.post(url, {}, format="multipart").status_code == 400
    for index in range(3):
        assert client.post(url, {"file": _upload(f"f{index}.pdf")}, format="multipart").status_code == 201
    fourth = client.post(url, {"file": _upload("f4.pdf")}, format="multipart")
    assert fourth.status_code == 400
    assert CannedAttachment.objects.count() == 3


def test_a_session_client_uploads_with_an_idempotency_key(tenant_a: Tenant, settings: Any, tmp_path: Any) -> None:
    """A multipart body a session's CSRF check has already read is still recognised on retry."""
    settings.MEDIA_ROOT = tmp_path
    canned = _canned(tenant_a)
    client = APIClient(enforce_csrf_checks=False)
    client.force_login(tenant_a.admin.user)
    url = f"/api/v1/canned-responses/{canned.pk}/attachments/"
    first = client.post(url, {"file": _upload()}, format="multipart", HTTP_IDEMPOTENCY_KEY="upload")
    again = client.post(url, {"file": _upload()}, format="multipart", HTTP_IDEMPOTENCY_KEY="upload")
    other = client.post(
        url, {"file": _upload(content=b"%PDF other")}, format="multipart", HTTP_IDEMPOTENCY_KEY="upload"
    )
    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 422)
    assert again["Idempotent-Replayed"] == "true"
    assert CannedAttachment.objects.count() == 1
