"""The Contacts page and API: list and search (Japanese too), who sees what, notes, and merging
contacts of the same person across pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from contacts.models import ContactNote, Person, PersonContact
from messenger.models import Contact, Conversation
from tests import factories
from tests.conftest import Tenant, api_client_for
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@dataclass
class Desk:
    tenant: Tenant
    seen: Contact  # on a channel the agent is associated with
    hidden: Contact  # on another channel of the organization
    seen_conversation: Conversation
    hidden_conversation: Conversation


@pytest.fixture
def desk(tenant_a: Tenant) -> Desk:
    organization = tenant_a.organization
    channel = factories.make_channel(organization, tenant_a.department, name="Shop")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel, name="Shop page")
    other_channel = factories.make_channel(organization, tenant_a.department, name="Careers")
    other_page = factories.make_page(other_channel, name="Careers page")
    seen = factories.make_contact(page, display_name="山田 花子", first_name="花子", last_name="山田", psid="7000001")
    hidden = factories.make_contact(other_page, display_name="Hanako Yamada", psid="7000002")
    return Desk(
        tenant_a,
        seen,
        hidden,
        factories.make_conversation(page, seen, last_message_preview="こんにちは"),
        factories.make_conversation(other_page, hidden, last_message_preview="Hello"),
    )


def _ticket(conversation: Conversation, subject: str) -> Ticket:
    message = factories.make_message(conversation)
    return Ticket.objects.create(
        first_message=message,
        last_message=message,
        organization=conversation.organization,
        conversation=conversation,
        contact=conversation.contact,
        channel=conversation.channel,
        department=conversation.department,
        subject=subject,
        origin="manual",
    )


def _list(client: Client, desk: Desk, **params: Any) -> str:
    response = client.get(reverse("contacts:list", kwargs={"org_slug": desk.tenant.organization.slug}), params)
    assert response.status_code == 200
    return response.content.decode()


def _detail_url(desk: Desk, contact: Contact) -> str:
    return reverse("contacts:detail", kwargs={"org_slug": desk.tenant.organization.slug, "contact_id": contact.pk})


# --- List and search -------------------------------------------------------------------------------


def test_the_navigation_has_contacts_and_the_list_shows_them(client: Client, desk: Desk) -> None:
    client.force_login(desk.tenant.admin.user)
    body = _list(client, desk)
    assert 'href="/o/alpha/contacts/"' in body
    assert "山田 花子" in body and "Hanako Yamada" in body


def test_search_finds_japanese_names_latin_names_and_psids(client: Client, desk: Desk) -> None:
    client.force_login(desk.tenant.admin.user)
    assert "山田 花子" in _list(client, desk, q="花子")
    assert "Hanako Yamada" not in _list(client, desk, q="花子")
    assert "Hanako Yamada" in _list(client, desk, q="hanako")
    body = _list(client, desk, q="7000001")
    assert "山田 花子" in body and "Hanako Yamada" not in body
    assert "No contacts match this search." in _list(client, desk, q="nobody")


def test_the_list_is_paged(client: Client, desk: Desk) -> None:
    page = desk.seen.page
    for n in range(30):
        factories.make_conversation(page, factories.make_contact(page, display_name=f"Bulk {n:02d}"))
    client.force_login(desk.tenant.admin.user)
    first = _list(client, desk)
    assert "Page 1 of 2" in first
    assert first.count("hd-contact-link") == 25
    assert _list(client, desk, page="2").count("hd-contact-link") == 7


def test_an_agent_sees_only_contacts_of_their_channels(client: Client, desk: Desk) -> None:
    client.force_login(desk.tenant.agent.user)
    body = _list(client, desk)
    assert "山田 花子" in body and "Hanako Yamada" not in body
    assert client.get(_detail_url(desk, desk.hidden)).status_code == 404
    assert client.get(_detail_url(desk, desk.seen)).status_code == 200


def test_an_agent_without_the_channel_sees_nothing(client: Client, desk: Desk) -> None:
    loner = factories.make_member(desk.tenant.organization, departments=[desk.tenant.department])
    client.force_login(loner.user)
    body = _list(client, desk)
    assert "山田 花子" not in body and "Hanako Yamada" not in body
    assert client.get(_detail_url(desk, desk.seen)).status_code == 404
    response = api_client_for(loner).get("/api/v1/contacts/")
    assert response.json()["results"] == []


def test_another_organization_gets_404(client: Client, desk: Desk, tenant_b: Tenant) -> None:
    client.force_login(tenant_b.admin.user)
    url = reverse("contacts:detail", kwargs={"org_slug": "bravo", "contact_id": desk.seen.pk})
    assert client.get(url).status_code == 404
    assert client.get(_detail_url(desk, desk.seen)).status_code == 404
    api = api_client_for(tenant_b.admin)
    assert api.get(f"/api/v1/contacts/{desk.seen.pk}/").status_code == 404
    assert api.get(f"/api/v1/contacts/{desk.seen.pk}/notes/").status_code == 404
    assert api.post(f"/api/v1/contacts/{desk.seen.pk}/notes/", {"text": "x"}).status_code == 404
    assert api.get("/api/v1/contacts/").json()["results"] == []


def test_the_contact_page_shows_conversations_and_tickets_the_member_sees(client: Client, desk: Desk) -> None:
    _ticket(desk.seen_conversation, "Broken kettle")
    client.force_login(desk.tenant.agent.user)
    body = client.get(_detail_url(desk, desk.seen)).content.decode()
    assert f"/inbox/{desk.seen_conversation.pk}/" in body and "Broken kettle" in body
    assert f"/inbox/{desk.hidden_conversation.pk}/" not in body
    assert 'id="contact-actions"' in body


# --- Notes ------------------------------------------------------------------------------------------


def test_notes_are_added_edited_and_deleted_by_their_author_only(client: Client, desk: Desk) -> None:
    slug = desk.tenant.organization.slug
    client.force_login(desk.tenant.agent.user)
    client.post(reverse("contacts:note_add", kwargs={"org_slug": slug, "contact_id": desk.seen.pk}), {"text": "VIP"})
    note = ContactNote.objects.get()
    assert (note.text, note.author_id, note.organization_id) == (
        "VIP",
        desk.tenant.agent.user_id,
        desk.tenant.organization.pk,
    )
    edit = reverse("contacts:note_edit", kwargs={"org_slug": slug, "contact_id": desk.seen.pk, "note_id": note.pk})
    client.post(edit, {"text": "VIP customer", "action": "save"})
    note.refresh_from_db()
    assert note.text == "VIP customer"

    client.force_login(desk.tenant.admin.user)
    assert "VIP customer" in client.get(_detail_url(desk, desk.seen)).content.decode()
    client.post(edit, {"action": "delete"})
    assert ContactNote.objects.filter(pk=note.pk).exists()
    api = api_client_for(desk.tenant.admin)
    response = api.delete(f"/api/v1/contacts/{desk.seen.pk}/notes/{note.pk}/")
    assert (response.status_code, response.json()["error"]["code"]) == (403, "not_note_author")

    client.force_login(desk.tenant.agent.user)
    client.post(edit, {"action": "delete"})
    assert not ContactNote.objects.exists()


def test_notes_through_the_api(desk: Desk) -> None:
    api = api_client_for(desk.tenant.agent)
    url = f"/api/v1/contacts/{desk.seen.pk}/notes/"
    created = api.post(url, {"text": "Prefers Japanese"}, format="json")
    assert created.status_code == 201
    note_id = created.json()["id"]
    assert [n["text"] for n in api.get(url).json()] == ["Prefers Japanese"]
    assert api.patch(f"{url}{note_id}/", {"text": "日本語で"}, format="json").json()["text"] == "日本語で"
    assert api.post(url, {"text": ""}, format="json").status_code == 400
    assert api.get(f"/api/v1/contacts/{desk.hidden.pk}/notes/").status_code == 404
    assert api.delete(f"{url}{note_id}/").status_code == 204


# --- Merge and unmerge ----------------------------------------------------------------------------


def test_an_admin_merges_two_contacts_and_the_page_shows_both(client: Client, desk: Desk) -> None:
    _ticket(desk.hidden_conversation, "Job application")
    slug = desk.tenant.organization.slug
    client.force_login(desk.tenant.admin.user)
    candidates = client.get(_detail_url(desk, desk.seen), {"merge_q": "Hanako"}).content.decode()
    assert "Hanako Yamada" in candidates and "data-confirm" in candidates
    merge = reverse("contacts:merge", kwargs={"org_slug": slug, "contact_id": desk.seen.pk})
    assert client.post(merge, {"other": desk.hidden.pk}).status_code == 302
    person = Person.objects.get()
    assert set(PersonContact.objects.filter(person=person).values_list("contact_id", flat=True)) == {
        desk.seen.pk,
        desk.hidden.pk,
    }
    body = client.get(_detail_url(desk, desk.seen)).content.decode()
    assert "Careers page" in body and "Hello" in body and "Job application" in body

    # The agent sees only their own channel's side of the person.
    client.force_login(desk.tenant.agent.user)
    body = client.get(_detail_url(desk, desk.seen)).content.decode()
    assert "Job application" not in body and "Careers page" not in body


def test_an_agent_cannot_merge_a_contact_they_do_not_see(desk: Desk) -> None:
    api = api_client_for(desk.tenant.agent)
    response = api.post(f"/api/v1/contacts/{desk.seen.pk}/merge/", {"contact_id": desk.hidden.pk}, format="json")
    assert response.status_code == 404
    assert not Person.objects.exists()


def test_an_agent_cannot_join_people_who_have_contacts_they_do_not_see(desk: Desk) -> None:
    """Joining two people moves all their contacts: the agent's two visible contacts are each
    in a person with a contact on a page they do not see; an admin may join them."""
    page = desk.seen.page
    other = factories.make_conversation(page, factories.make_contact(page, display_name="Other")).contact
    admin = api_client_for(desk.tenant.admin)
    merged = admin.post(f"/api/v1/contacts/{desk.seen.pk}/merge/", {"contact_id": desk.hidden.pk}, format="json")
    assert merged.status_code == 200
    hidden_two = factories.make_conversation(
        desk.hidden_conversation.page, factories.make_contact(desk.hidden_conversation.page, display_name="Hidden 2")
    ).contact
    paired = admin.post(f"/api/v1/contacts/{other.pk}/merge/", {"contact_id": hidden_two.pk}, format="json")
    assert paired.status_code == 200
    agent = api_client_for(desk.tenant.agent)
    refused = agent.post(f"/api/v1/contacts/{desk.seen.pk}/merge/", {"contact_id": other.pk}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "merge_needs_admin")
    assert Person.objects.count() == 2
    joined = admin.post(f"/api/v1/contacts/{desk.seen.pk}/merge/", {"contact_id": other.pk}, format="json")
    assert joined.status_code == 200 and Person.objects.count() == 1


def test_merging_a_contact_with_itself_is_refused(desk: Desk) -> None:
    api = api_client_for(desk.tenant.admin)
    response = api.post(f"/api/v1/contacts/{desk.seen.pk}/merge/", {"contact_id": desk.seen.pk}, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_merge")


def test_merging_with_another_organizations_contact_is_404(desk: Desk, tenant_b: Tenant) -> None:
    channel = factories.make_channel(tenant_b.organization, tenant_b.department)
    foreign = factories.make_conversation(factories.make_page(channel)).contact
    api = api_client_for(desk.tenant.admin)
    response = api.post(f"/api/v1/contacts/{desk.seen.pk}/merge/", {"contact_id": foreign.pk}, format="json")
    assert response.status_code == 404
    assert not Person.objects.exists()


def test_merging_joins_groups_and_unmerging_dissolves_a_pair(desk: Desk) -> None:
    page = desk.seen.page
    third = factories.make_conversation(page, factories.make_contact(page, display_name="Third")).contact
    fourth = factories.make_conversation(page, factories.make_contact(page, display_name="Fourth")).contact
    api = api_client_for(desk.tenant.admin)
    assert (
        api.post(f"/api/v1/contacts/{desk.seen.pk}/merge/", {"contact_id": desk.hidden.pk}, format="json").status_code
        == 200
    )
    assert api.post(f"/api/v1/contacts/{third.pk}/merge/", {"contact_id": fourth.pk}, format="json").status_code == 200
    assert Person.objects.count() == 2
    detail = api.post(f"/api/v1/contacts/{desk.seen.pk}/merge/", {"contact_id": fourth.pk}, format="json").json()
    assert Person.objects.count() == 1
    assert {c["id"] for c in detail["person_contacts"]} == {desk.hidden.pk, third.pk, fourth.pk}
    assert {c["id"] for c in detail["conversations"]} == set(
        Conversation.objects.filter(contact__in=[desk.seen, desk.hidden, third, fourth]).values_list("pk", flat=True)
    )

    assert api.post(f"/api/v1/contacts/{third.pk}/unmerge/", format="json").status_code == 200
    assert PersonContact.objects.count() == 3
    response = api.post(f"/api/v1/contacts/{third.pk}/unmerge/", format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "not_merged")
    api.post(f"/api/v1/contacts/{fourth.pk}/unmerge/", format="json")
    api.post(f"/api/v1/contacts/{desk.hidden.pk}/unmerge/", format="json")
    assert not Person.objects.exists() and not PersonContact.objects.exists()


def test_the_contacts_api_lists_searches_and_links(desk: Desk) -> None:
    ticket = _ticket(desk.seen_conversation, "Kettle")
    api = api_client_for(desk.tenant.agent)
    rows = api.get("/api/v1/contacts/", {"q": "山田"}).json()["results"]
    assert [row["id"] for row in rows] == [desk.seen.pk]
    detail = api.get(f"/api/v1/contacts/{desk.seen.pk}/").json()
    assert detail["conversations"] == [
        {"id": desk.seen_conversation.pk, "url": f"/api/v1/conversations/{desk.seen_conversation.pk}/"}
    ]
    assert detail["tickets"] == [{"id": ticket.pk, "url": f"/api/v1/tickets/{ticket.pk}/"}]


def test_the_schema_lists_the_contacts_endpoints(client: Client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/api/v1/contacts/", "/api/v1/contacts/{id}/merge/", "/api/v1/contacts/{contact_id}/notes/"):
        assert path in schema


def test_the_list_reads_a_fixed_number_of_queries(
    client: Client, desk: Desk, django_assert_max_num_queries: Any
) -> None:
    page = desk.seen.page
    for n in range(10):
        factories.make_conversation(page, factories.make_contact(page, display_name=f"Many {n}"))
    api = api_client_for(desk.tenant.agent)
    api.get("/api/v1/contacts/")  # warms the token and membership caches
    with django_assert_max_num_queries(8):
        rows = api.get("/api/v1/contacts/").json()["results"]
    assert len(rows) == 11
    client.force_login(desk.tenant.agent.user)
    _list(client, desk)
    with django_assert_max_num_queries(14):
        assert _list(client, desk).count("hd-contact-link") == 11


def test_admins_reach_the_contacts_data_export_and_erase_from_the_contact_page(client: Client, desk: Desk) -> None:
    data_url = reverse(
        "privacy:contact_data", kwargs={"org_slug": desk.tenant.organization.slug, "contact_id": desk.seen.pk}
    )
    client.force_login(desk.tenant.admin.user)
    assert f'href="{data_url}"' in client.get(_detail_url(desk, desk.seen)).content.decode()
    client.force_login(desk.tenant.agent.user)
    assert data_url not in client.get(_detail_url(desk, desk.seen)).content.decode()
