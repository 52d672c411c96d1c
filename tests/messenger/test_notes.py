"""Private notes and mentions: stored and shown in the transcript and the ticket thread as
notes, seen and written only by the members who see the conversation, mentions that notify
(in the app and by email, in the reader's language) or refuse the whole note."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk.exceptions import MentionNotAllowed, NoteEmpty, NoteTooLong, NotFound
from helpdesk.models import Membership, Notification, Role
from messenger import mentions
from messenger.models import Conversation, ConversationState, Note, NoteMention
from messenger.services import notes
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.PUBLIC_URL = "https://help.example"


@pytest.fixture(autouse=True)
def _nothing_leaves() -> Any:
    with (
        mock.patch.object(sending_tasks.send_message, "delay", autospec=True) as send,
        mock.patch.object(sending_tasks.send_sender_action, "delay", autospec=True),
    ):
        yield send


class World:
    def __init__(self, tenant: Tenant) -> None:
        org = tenant.organization
        self.tenant = tenant
        self.channel = factories.make_channel(org, tenant.department, name="Support chat")
        factories.associate(tenant.agent, self.channel)
        # A colleague on the same channel who reads the helpdesk in Japanese.
        self.colleague = factories.make_member(
            org,
            username="hanako",
            departments=[tenant.department],
            first_name="Hanako",
            last_name="Sato",
            email="hanako@example.com",
        )
        Membership.objects.filter(pk=self.colleague.pk).update(language="ja", time_zone="Asia/Tokyo")
        self.colleague.refresh_from_db()
        factories.associate(self.colleague, self.channel)
        # An agent of another department's channel: may not see this conversation.
        sales = factories.make_department(org, "Sales")
        self.outsider = factories.make_member(org, username="sam", departments=[sales], email="sam@example.com")
        factories.associate(self.outsider, factories.make_channel(org, sales, name="Sales chat"))
        self.page = factories.make_page(self.channel, name="Alpha Shop")
        self.contact = factories.make_contact(self.page, psid="PSID-9", display_name="Kenji Mori")
        self.conversation = factories.make_conversation(self.page, self.contact)
        factories.make_message(
            self.conversation, text="Where is my parcel?", sent_at=timezone.now() - timedelta(hours=1)
        )

    def url(self, rest: str = "") -> str:
        return f"/o/{self.tenant.organization.slug}/inbox/{self.conversation.pk}/{rest}"

    def api_url(self) -> str:
        return f"/api/v1/conversations/{self.conversation.pk}/notes/"

    def add(self, body: str, member: Membership | None = None) -> Note:
        member = member or self.tenant.agent
        return notes.note_add(
            organization=self.tenant.organization,
            acting_user=member.user,
            membership=member,
            conversation=self.conversation,
            body=body,
        )


@pytest.fixture
def world(tenant_a: Tenant) -> World:
    return World(tenant_a)


def _post_note(client: Any, world: World, text: str) -> Any:
    return client.post(world.url("notes/"), {"text": text}, HTTP_HX_REQUEST="true")


# --- Writing and showing a note -------------------------------------------------------------------


def test_a_note_from_the_composer_is_stored_and_shown_in_the_transcript_as_a_note(
    world: World, web_client_for: Any
) -> None:
    response = _post_note(web_client_for(world.tenant.agent), world, "  Customer called twice, be gentle.  ")

    assert response.status_code == 200
    note = Note.objects.get()
    assert (note.body, note.author, note.conversation) == (
        "Customer called twice, be gentle.",
        world.tenant.agent.user,
        world.conversation,
    )
    html = response.content.decode()
    assert 'id="transcript-panel"' in html
    card = re.search(rf'<li id="note-{note.pk}".*?</li>', html, re.S)
    assert card is not None
    assert "hd-note" in card.group(0) and "bi-lock-fill" in card.group(0)
    assert "Note · only your team sees this" in card.group(0)
    assert "Customer called twice, be gentle." in card.group(0)
    assert world.tenant.agent.user.username in card.group(0)  # the author's name (no full name: the username)
    # Nothing went to the customer: no message, no send queued.
    assert world.conversation.messages.count() == 1


def test_a_note_may_be_longer_than_a_reply_but_not_empty_nor_over_5000_characters(
    world: World, web_client_for: Any
) -> None:
    client = web_client_for(world.tenant.agent)
    assert _post_note(client, world, "x" * 5000).status_code == 200  # the Send limit (1,600) does not apply

    empty = _post_note(client, world, "   \n ")
    assert empty.status_code == 400
    assert empty["HX-Retarget"] == "#composer-feedback"
    assert "Write something in the note." in empty.content.decode()
    too_long = _post_note(client, world, "x" * 5001)
    assert too_long.status_code == 400
    assert "A note can be at most 5,000 characters." in too_long.content.decode()
    assert Note.objects.count() == 1
    with pytest.raises(NoteEmpty):
        world.add("")
    with pytest.raises(NoteTooLong):
        world.add("y" * 5001)
    nul = _post_note(client, world, "a\x00b")
    assert (nul.status_code, Note.objects.count()) == (400, 1)


def test_without_javascript_a_refused_note_comes_back_in_the_composer_in_note_mode(
    world: World, web_client_for: Any
) -> None:
    response = web_client_for(world.tenant.agent).post(world.url("notes/"), {"text": "ask @sam"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-mode="note"' in html
    assert "ask @sam</textarea>" in html
    assert "@sam cannot be mentioned" in html


def test_a_note_may_be_added_where_a_reply_may_not(world: World) -> None:
    """A note is internal: closed conversation, closed reply window, blocked customer,
    disabled or deleted channel, the member may still write one."""
    Conversation.objects.filter(pk=world.conversation.pk).update(
        state=ConversationState.CLOSED, last_inbound_at=timezone.now() - timedelta(days=30)
    )
    world.contact.is_blocked = True
    world.contact.save(update_fields=["is_blocked"])
    world.channel.is_enabled = False
    world.channel.deleted_at = timezone.now()
    world.channel.save(update_fields=["is_enabled", "deleted_at"])
    world.conversation.refresh_from_db()

    note = world.add("Closed, but keep this in mind for next time.")

    assert note.pk and world.conversation.notes.count() == 1


def test_the_composer_offers_the_reply_and_note_modes(world: World, web_client_for: Any) -> None:
    html = web_client_for(world.tenant.agent).get(world.url()).content.decode()
    assert 'data-mode="reply"' in html
    assert 'role="tablist"' in html and 'id="composer-mode-note"' in html
    assert f'data-note-url="{world.url("notes/")}"' in html
    assert f'data-mentionable-url="{world.url("mentionable/")}"' in html
    assert "Write a note for your team — @ to mention" in html
    assert 'role="listbox"' in html
    assert "messenger/notes.js" in html


def test_notes_show_in_the_ticket_thread(world: World, web_client_for: Any) -> None:
    from tickets.services import ticket_create_from_conversation

    tenant = world.tenant
    ticket = ticket_create_from_conversation(
        organization=tenant.organization,
        acting_user=tenant.agent.user,
        membership=tenant.agent,
        conversation_id=world.conversation.pk,
    )
    note = world.add("Refund approved by the manager.")

    html = web_client_for(tenant.agent).get(f"/o/alpha/tickets/{ticket.pk}/").content.decode()

    assert f'id="note-{note.pk}"' in html
    assert "Refund approved by the manager." in html
    assert "Note · only your team sees this" in html


# --- Who sees and writes notes ---------------------------------------------------------------------


def test_an_agent_who_cannot_see_the_conversation_can_neither_read_nor_add_notes(
    world: World, web_client_for: Any
) -> None:
    world.add("Only for the support team.")
    client = web_client_for(world.outsider)
    assert client.get(world.url()).status_code == 404
    assert client.get(world.url("transcript/")).status_code == 404
    assert _post_note(client, world, "let me in").status_code == 404
    assert client.get(world.url("mentionable/")).status_code == 404
    api = api_client_for(world.outsider)
    assert api.get(world.api_url()).status_code == 404
    assert api.post(world.api_url(), {"body": "let me in"}, format="json").status_code == 404
    with pytest.raises(NotFound):
        world.add("sneaky", member=world.outsider)
    assert Note.objects.count() == 1


def test_an_agent_of_the_department_not_on_the_channel_cannot_see_notes(world: World, web_client_for: Any) -> None:
    unassociated = factories.make_member(world.tenant.organization, departments=[world.tenant.department])
    assert _post_note(web_client_for(unassociated), world, "hello").status_code == 404
    assert api_client_for(unassociated).get(world.api_url()).status_code == 404


def test_an_admin_sees_and_adds_notes_on_any_channel(world: World, web_client_for: Any) -> None:
    world.add("From the agent.")
    response = _post_note(web_client_for(world.tenant.admin), world, "From the admin.")
    assert response.status_code == 200
    html = response.content.decode()
    assert "From the agent." in html and "From the admin." in html


def test_a_member_of_another_organization_gets_404_on_every_notes_url(
    world: World, tenant_b: Tenant, web_client_for: Any
) -> None:
    world.add("Private to alpha.")
    client = web_client_for(tenant_b.admin)
    conversation_id = world.conversation.pk
    for url in (f"/o/alpha/inbox/{conversation_id}/notes/", f"/o/bravo/inbox/{conversation_id}/notes/"):
        assert client.post(url, {"text": "hi"}, HTTP_HX_REQUEST="true").status_code == 404
    for url in (f"/o/alpha/inbox/{conversation_id}/mentionable/", f"/o/bravo/inbox/{conversation_id}/mentionable/"):
        assert client.get(url).status_code == 404
    api = api_client_for(tenant_b.admin)
    assert api.get(world.api_url()).status_code == 404
    assert api.post(world.api_url(), {"body": "hi"}, format="json").status_code == 404
    assert Note.objects.count() == 1
    with pytest.raises(NotFound):
        world.add("cross", member=tenant_b.admin)


# --- Mentions -------------------------------------------------------------------------------------------


def test_a_mention_notifies_the_colleague_in_the_app_and_by_email_in_their_language(
    world: World, web_client_for: Any, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = _post_note(web_client_for(world.tenant.agent), world, "@hanako can you check the parcel?")
    assert response.status_code == 200
    note = Note.objects.get()
    assert list(NoteMention.objects.values_list("note_id", "user_id")) == [(note.pk, world.colleague.user_id)]

    (notice,) = Notification.objects.filter(kind=Notification.Kind.MENTION)
    assert notice.user_id == world.colleague.user_id
    assert notice.url == f"/o/alpha/inbox/{world.conversation.pk}/#note-{note.pk}"
    assert notice.dedupe_key == f"note-mention:{note.pk}"
    # Shown in the colleague's own language when read.
    bell = web_client_for(world.colleague).get("/o/alpha/notifications/")
    assert "メモであなたをメンションしました" in bell.content.decode()

    (mail,) = mailoutbox
    assert mail.to == ["hanako@example.com"]
    assert (
        mail.subject
        == f"{world.tenant.agent.user.username} さんが Kenji Mori との会話のメモであなたをメンションしました"
    )
    assert "@hanako can you check the parcel?" in mail.body
    assert f"https://help.example/o/alpha/inbox/{world.conversation.pk}/#note-{note.pk}" in mail.body


def test_mentioning_yourself_is_kept_but_tells_nobody(
    world: World, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    world.tenant.agent.user.email = "agent@example.com"
    world.tenant.agent.user.save(update_fields=["email"])
    with django_capture_on_commit_callbacks(execute=True):
        note = world.add(f"Reminder for @{world.tenant.agent.user.username}: call back at 3.")
    assert list(note.mentions.values_list("user_id", flat=True)) == [world.tenant.agent.user_id]
    assert not Notification.objects.exists()
    assert mailoutbox == []


def test_mentioning_someone_who_cannot_see_the_conversation_refuses_the_whole_note(
    world: World, web_client_for: Any, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = _post_note(web_client_for(world.tenant.agent), world, "@hanako and @sam and @nobody, look")

    assert response.status_code == 400
    assert response["HX-Retarget"] == "#composer-feedback"
    assert "@sam, @nobody cannot be mentioned" in response.content.decode()
    assert not Note.objects.exists() and not NoteMention.objects.exists() and not Notification.objects.exists()
    assert mailoutbox == []
    with pytest.raises(MentionNotAllowed) as refused:
        world.add("@sam")
    assert refused.value.usernames == ["sam"]


def test_an_inactive_member_cannot_be_mentioned(world: World) -> None:
    Membership.objects.filter(pk=world.colleague.pk).update(is_active=False)
    with pytest.raises(MentionNotAllowed):
        world.add("@hanako please")


def test_mentions_are_found_case_aside_and_never_inside_an_email_address(world: World) -> None:
    note = world.add("Mail hanako@example.com, then ask @Hanako. Thanks!")
    assert list(note.mentions.values_list("user_id", flat=True)) == [world.colleague.user_id]
    assert mentions.mention_candidates("write to a@b.com or x@y") == set()


def test_mentions_show_as_highlighted_names_and_the_note_is_never_html(world: World, web_client_for: Any) -> None:
    note = world.add('<img src=x onerror="alert(1)"> @hanako, see <b>this</b>\nsecond line')
    html = web_client_for(world.tenant.agent).get(world.url()).content.decode()
    card = re.search(rf'<li id="note-{note.pk}".*?</li>', html, re.S)
    assert card is not None
    text = card.group(0)
    assert '<span class="hd-mention" title="@hanako">@Hanako Sato</span>, see' in text
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in text and "<img" not in text
    assert "&lt;b&gt;this&lt;/b&gt;\nsecond line" in text


def test_the_mention_list_offers_only_members_who_may_see_the_conversation(world: World, web_client_for: Any) -> None:
    client = web_client_for(world.tenant.agent)
    everyone = client.get(world.url("mentionable/")).json()["members"]
    usernames = {member["username"] for member in everyone}
    assert usernames == {"alpha-admin", "alpha-agent", "hanako"}
    assert {"username": "hanako", "name": "Hanako Sato"} in everyone
    assert client.get(world.url("mentionable/"), {"q": "Sat"}).json()["members"] == [
        {"username": "hanako", "name": "Hanako Sato"}
    ]
    assert client.get(world.url("mentionable/"), {"q": "sa"}).json()["members"] == [
        {"username": "hanako", "name": "Hanako Sato"}
    ]  # sam works in Sales: not offered


# --- The transcript ------------------------------------------------------------------------------------


def test_the_polled_transcript_shows_a_colleagues_new_note(world: World, web_client_for: Any) -> None:
    client = web_client_for(world.tenant.agent)
    first = client.get(world.url("transcript/"))
    version = re.search(r'name="v" value="([^"]+)"', first.content.decode()).group(1)  # type: ignore[union-attr]
    assert client.get(world.url("transcript/"), {"v": version}).status_code == 204

    note = world.add("I'll take the next one.", member=world.colleague)

    again = client.get(world.url("transcript/"), {"v": version, "last": "m1"})
    assert again.status_code == 200
    assert f'id="note-{note.pk}"' in again.content.decode()


def test_the_transcript_costs_the_same_queries_with_one_note_or_twenty_with_mentions(
    world: World, web_client_for: Any
) -> None:
    client = web_client_for(world.tenant.agent)
    world.add("first")
    client.get(world.url("transcript/"))
    with CaptureQueriesContext(connection) as one:
        response = client.get(world.url("transcript/"))
    assert response.status_code == 200
    for n in range(19):
        world.add(f"note {n} for @hanako and @alpha-admin")
    with CaptureQueriesContext(connection) as twenty:
        response = client.get(world.url("transcript/"))
    assert response.content.decode().count('class="hd-mention"') == 38
    assert len(twenty.captured_queries) == len(one.captured_queries)


def test_only_the_notes_of_the_messages_period_are_shown_with_a_long_transcript(world: World, monkeypatch: Any) -> None:
    from messenger.selectors import transcript as transcript_selectors

    old = world.add("old note")
    Note.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    for n in range(3):
        factories.make_message(world.conversation, text=f"later {n}", sent_at=timezone.now() - timedelta(minutes=5 - n))
    recent = world.add("recent note")

    transcript = transcript_selectors.conversation_transcript(
        organization=world.tenant.organization, conversation=world.conversation, limit=2
    )

    shown = [entry.note.pk for entry in transcript.entries if entry.note]
    assert shown == [recent.pk]


# --- The API ----------------------------------------------------------------------------------------------


def test_the_api_adds_a_note_with_its_mentions(world: World, django_capture_on_commit_callbacks: Any) -> None:
    api = api_client_for(world.tenant.agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(world.api_url(), {"body": "@hanako please call back"}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["body"] == "@hanako please call back"
    assert data["conversation_id"] == world.conversation.pk
    assert data["author"]["user_id"] == world.tenant.agent.user_id
    assert data["mentions"] == [{"id": world.colleague.user_id, "username": "hanako", "name": "Hanako Sato"}]
    assert Notification.objects.filter(user=world.colleague.user, kind=Notification.Kind.MENTION).count() == 1


def test_the_api_refuses_a_mention_of_someone_who_cannot_see_the_conversation(world: World) -> None:
    response = api_client_for(world.tenant.agent).post(world.api_url(), {"body": "@sam look"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "mention_not_allowed"
    assert error["details"] == {"usernames": ["sam"]}
    assert "@sam" in error["message"]
    assert not Note.objects.exists()
    empty = api_client_for(world.tenant.agent).post(world.api_url(), {"body": "  "}, format="json")
    assert (empty.status_code, empty.json()["error"]["code"]) == (400, "note_empty")


def test_the_api_lists_notes_oldest_first_in_pages_at_a_fixed_cost(
    world: World, django_assert_num_queries: Any
) -> None:
    for n in range(5):
        world.add(f"note {n} @hanako")
    api = api_client_for(world.tenant.agent)
    # The token with its membership, the conversation, the page of notes, their mentions.
    api.get(world.api_url())
    with django_assert_num_queries(4):
        first = api.get(world.api_url(), {"page_size": 3}).json()
    assert [note["body"] for note in first["results"]] == ["note 0 @hanako", "note 1 @hanako", "note 2 @hanako"]
    assert first["results"][0]["mentions"][0]["username"] == "hanako"
    for n in range(5, 30):
        world.add(f"note {n} @hanako @alpha-admin")
    with django_assert_num_queries(4):
        second = api.get(first["next"]).json()
    assert [note["body"] for note in second["results"]] == [
        "note 3 @hanako",
        "note 4 @hanako",
        "note 5 @hanako @alpha-admin",
    ]


def test_the_notes_endpoint_is_in_the_openapi_schema(tenant_a: Tenant) -> None:
    schema = api_client_for(tenant_a.admin).get("/api/schema/", {"format": "json"}).json()
    path = schema["paths"]["/api/v1/conversations/{conversation_id}/notes/"]
    assert set(path) >= {"get", "post"}
    assert "mention_not_allowed" in str(path["post"]["responses"]["400"])
    assert "201" in path["post"]["responses"]


def test_a_foreign_organizations_admin_gets_404_even_with_its_own_role(world: World, tenant_b: Tenant) -> None:
    assert tenant_b.admin.role == Role.ADMIN
    assert api_client_for(tenant_b.admin).get(world.api_url()).status_code == 404
