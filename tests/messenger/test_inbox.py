"""The agent inbox in the browser: the list, a conversation, the composer, the actions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from channels.models import Channel
from messenger.models import (
    Conversation,
    ConversationEvent,
    Direction,
    Message,
    MessageKind,
    MessageSource,
    MessageStatus,
)
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def sender_actions() -> Any:
    with (
        mock.patch.object(sending_tasks.send_message, "delay", autospec=True),
        mock.patch.object(sending_tasks.send_sender_action, "delay", autospec=True) as delay,
    ):
        yield delay


@pytest.fixture
def setup(tenant_a: Tenant) -> dict[str, Any]:
    org = tenant_a.organization
    mine = factories.make_channel(org, tenant_a.department, name="Support chat")
    theirs = factories.make_channel(org, factories.make_department(org, "Sales"), name="Sales chat")
    factories.associate(tenant_a.agent, mine)
    page = factories.make_page(mine, name="Alpha Shop")
    contact = factories.make_contact(
        page, psid="PSID-77", display_name="山田 花子", avatar_url="https://cdn.example/a.jpg"
    )
    conversation = factories.make_conversation(page, contact, unread_count=2)
    factories.make_message(conversation, text="荷物が届きません", sent_at=timezone.now() - timedelta(hours=2))
    other_page = factories.make_page(theirs)
    hidden_from_agent = factories.make_conversation(
        other_page, factories.make_contact(other_page, display_name="Not yours")
    )
    factories.make_message(hidden_from_agent, text="sales question")
    return {
        "mine": mine,
        "theirs": theirs,
        "page": page,
        "conversation": conversation,
        "theirs_conv": hidden_from_agent,
    }


def _url(path: str = "") -> str:
    return f"/o/alpha/inbox/{path}"


def test_the_organization_home_is_a_page_of_its_own_that_links_to_the_inbox(
    tenant_a: Tenant, web_client_for: Any
) -> None:
    response = web_client_for(tenant_a.agent).get("/o/alpha/")
    assert response.status_code == 200
    assert b'href="/o/alpha/inbox/"' in response.content


def test_the_navbar_links_to_the_inbox(tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]) -> None:
    html = web_client_for(tenant_a.agent).get(_url()).content.decode()
    assert re.search(r'<a class="nav-link active" href="/o/alpha/inbox/" aria-current="page">.*Inbox</a>', html)


def test_the_list_shows_the_agents_conversations_with_their_details(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    response = web_client_for(tenant_a.agent).get(_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "山田 花子" in html
    assert "Support chat" in html
    assert "荷物が届きません" in html
    # Facebook's picture URL expires and is never put in a page: no kept copy, initials.
    assert "https://cdn.example/a.jpg" not in html
    assert '<span class="hd-avatar" aria-hidden="true">山</span>' in html
    assert '2<span class="visually-hidden"> unread</span>' in html
    assert "Reply window: 21 h left" in html
    assert "Not yours" not in html and "sales question" not in html


def test_the_list_filters_by_state_and_search(tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]) -> None:
    client = web_client_for(tenant_a.admin)
    assert "山田 花子" in client.get(_url("?q=荷物")).content.decode()
    assert "山田 花子" not in client.get(_url("?q=nothing-like-this")).content.decode()
    assert "山田 花子" not in client.get(_url("?state=closed")).content.decode()
    assert "Not yours" in client.get(_url(f"?channel={setup['theirs'].pk}")).content.decode()


def test_search_matches_names_and_message_text_within_what_the_member_sees(
    tenant_a: Tenant, tenant_b: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    hidden = factories.make_conversation(
        setup["page"], factories.make_contact(setup["page"], display_name="Blocked one")
    )
    factories.make_message(hidden, text="secret parcel words", is_hidden=True)
    elsewhere = factories.make_page(factories.make_channel(tenant_b.organization, tenant_b.department))
    factories.make_message(
        factories.make_conversation(elsewhere, factories.make_contact(elsewhere, display_name="Other tenant")),
        text="荷物 in another organization",
    )
    agent = web_client_for(tenant_a.agent)
    by_text = agent.get(_url("?q=荷物")).content.decode()
    assert "山田 花子" in by_text and "Other tenant" not in by_text
    assert "山田 花子" in agent.get(_url("?q=山田")).content.decode()  # by name
    assert "Not yours" not in agent.get(_url("?q=sales")).content.decode()  # another channel's
    admin = web_client_for(tenant_a.admin)
    assert "Not yours" in admin.get(_url("?q=sales")).content.decode()
    # A blocked customer's hidden messages are not searched; their name still is.
    assert "Blocked one" not in admin.get(_url("?q=parcel")).content.decode()
    assert "Blocked one" in admin.get(_url("?q=blocked")).content.decode()


def test_the_polled_list_answers_204_until_something_changes(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    client = web_client_for(tenant_a.agent)
    first = client.get(_url("list/"))
    version = re.search(r'id="conversation-list-version" name="v" value="(\w+)"', first.content.decode()).group(1)
    assert client.get(_url(f"list/?v={version}")).status_code == 204
    # A new customer writes: the next poll brings the conversation.
    page = setup["page"]
    newcomer = factories.make_conversation(page, factories.make_contact(page, display_name="Newcomer"))
    factories.make_message(newcomer, text="first message")
    changed = client.get(_url(f"list/?v={version}"))
    assert changed.status_code == 200
    assert "Newcomer" in changed.content.decode()
    assert 'hx-trigger="live" data-live="conversations"' in changed.content.decode()


def test_another_channels_conversation_is_404_for_every_inbox_page(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    client = web_client_for(tenant_a.agent)
    theirs = setup["theirs_conv"]
    assert client.get(_url(f"{theirs.pk}/")).status_code == 404
    assert client.get(_url(f"{theirs.pk}/transcript/")).status_code == 404
    for action in ("send", "typing", "assign", "forward", "close", "reopen", "block", "unblock"):
        assert client.post(_url(f"{theirs.pk}/{action}/"), {"text": "x"}).status_code == 404, action
    message = theirs.messages.get()
    assert client.post(_url(f"messages/{message.pk}/retry/")).status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == "open"


def test_opening_a_conversation_marks_it_read_and_tells_facebook(
    tenant_a: Tenant,
    web_client_for: Any,
    setup: dict[str, Any],
    sender_actions: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    conversation = setup["conversation"]
    with django_capture_on_commit_callbacks(execute=True):
        response = web_client_for(tenant_a.agent).get(_url(f"{conversation.pk}/"))
    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.unread_count == 0
    sender_actions.assert_called_once_with(conversation.pk, "mark_seen")


def _outbound(conversation: Conversation, text: str, status: str, **fields: Any) -> Message:
    return factories.make_message(conversation, text=text, direction=Direction.OUTBOUND, status=status, **fields)


def test_the_transcript_shows_every_kind_of_message(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    conversation = setup["conversation"]
    original = factories.make_message(conversation, text="Where is my order?")
    factories.make_message(
        conversation,
        text="",
        kind=MessageKind.ATTACHMENT,
        attachments=[
            {"type": "image", "url": "https://cdn.example/photo.jpg"},
            {"type": "file", "url": "https://cdn.example/receipt.pdf", "title": "receipt.pdf"},
            {"type": "location", "lat": 35.68, "long": 139.76, "title": "Tokyo"},
        ],
    )
    factories.make_message(
        conversation,
        text="",
        kind=MessageKind.STICKER,
        sticker_id="369239263222822",
        attachments=[{"type": "sticker", "url": "https://cdn.example/like.png", "sticker_id": "369239263222822"}],
    )
    factories.make_message(conversation, text="", kind=MessageKind.POSTBACK, postback_title="Track my parcel")
    factories.make_message(conversation, text="Quoting you", reply_to_mid=original.mid)
    factories.make_message(
        conversation,
        text="Fixed typo",
        edit_count=2,
        edited_at=timezone.now(),
        reactions={"PSID-77": {"reaction": "love", "emoji": "❤"}},
    )
    factories.make_message(conversation, text="secret hidden text", is_hidden=True)
    _outbound(conversation, "Delivered reply", MessageStatus.DELIVERED, author=tenant_a.agent.user)
    _outbound(conversation, "Read reply", MessageStatus.READ)
    _outbound(conversation, "From Facebook inbox", MessageStatus.SENT, source=MessageSource.EXTERNAL)
    _outbound(conversation, "Failed reply", MessageStatus.FAILED, mid=None, error_code="recipient_unavailable")
    ConversationEvent.objects.create(
        organization=tenant_a.organization,
        conversation=conversation,
        kind=ConversationEvent.Kind.ASSIGNED,
        actor=tenant_a.admin.user,
        data={"to": "Kenji"},
    )

    html = web_client_for(tenant_a.agent).get(_url(f"{conversation.pk}/")).content.decode()

    assert '<img class="hd-inline-image" src="https://cdn.example/photo.jpg"' in html
    assert 'href="https://cdn.example/receipt.pdf"' in html and "receipt.pdf</a>" in html
    assert "mlat=35.68&amp;mlon=139.76" in html
    assert 'class="hd-sticker" src="https://cdn.example/like.png"' in html
    assert "Track my parcel" in html
    assert re.search(r'<blockquote class="hd-quote small mb-1">Where is my order\?</blockquote>', html)
    assert "Fixed typo" in html and ">edited</span>" in html
    assert "❤" in html
    assert "secret hidden text" not in html
    assert "bi-check2-all" in html and "hd-tick hd-tick-read" in html
    assert "Sent from Facebook's inbox" in html
    assert "This person isn&#x27;t available right now." in html and ">Retry</button>" in html
    assert "alpha-admin assigned the conversation to Kenji." in html


def test_the_contact_panel_loads_past_tickets_and_offers_conversion(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    conversation = setup["conversation"]
    html = web_client_for(tenant_a.agent).get(_url(f"{conversation.pk}/")).content.decode()
    assert "PSID-77" in html
    assert re.search(rf'<div id="contact-tickets"[^>]*data-contact-id="{conversation.contact_id}"', html)
    assert f'hx-get="/o/alpha/tickets/contact/{conversation.contact_id}/"' in html
    assert f'action="/o/alpha/tickets/convert/{conversation.pk}/"' in html and "Convert to ticket" in html


def test_the_convert_button_posts_to_the_tickets_layer_when_it_exists(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    conversation = setup["conversation"]
    with mock.patch(
        "messenger.views.conversation._optional_url",
        side_effect=lambda name, **kw: (
            f"/o/{kw['org_slug']}/tickets/convert/{kw['conversation_id']}/" if name == "tickets:convert" else ""
        ),
    ):
        html = web_client_for(tenant_a.agent).get(_url(f"{conversation.pk}/")).content.decode()
    assert f'action="/o/alpha/tickets/convert/{conversation.pk}/"' in html
    assert "Convert to ticket" in html


def test_the_polled_transcript_answers_204_until_a_new_message_arrives(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    conversation = setup["conversation"]
    client = web_client_for(tenant_a.agent)
    html = client.get(_url(f"{conversation.pk}/")).content.decode()
    version = re.search(r'name="v" value="(\w+)"', html.split('id="transcript-state"')[1]).group(1)
    last = re.search(r'name="last" value="(\w+)"', html).group(1)
    poll = _url(f"{conversation.pk}/transcript/?v={version}&last={last}")
    assert client.get(poll).status_code == 204
    factories.make_message(conversation, text="Hello again?")
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=1)
    response = client.get(poll)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Hello again?" in body
    assert "New activity in the conversation with 山田 花子." in body
    assert 'id="reply-window"' in body and 'hx-swap-oob="true"' in body
    conversation.refresh_from_db()
    assert conversation.unread_count == 0


def test_sending_from_the_composer_queues_the_reply_and_returns_the_transcript(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    conversation = setup["conversation"]
    response = web_client_for(tenant_a.agent).post(
        _url(f"{conversation.pk}/send/"), {"text": "We are checking 📦"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "We are checking 📦" in response.content.decode()
    message = Message.objects.get(direction=Direction.OUTBOUND)
    assert (message.status, message.author_id) == (MessageStatus.QUEUED, tenant_a.agent.user_id)


def test_a_too_long_reply_is_refused_in_the_composer(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    conversation = setup["conversation"]
    response = web_client_for(tenant_a.agent).post(
        _url(f"{conversation.pk}/send/"), {"text": "😀" * 1601}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#composer-feedback"
    assert "at most 1,600 characters" in response.content.decode()
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_without_javascript_a_refused_reply_comes_back_as_a_message(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    conversation = setup["conversation"]
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=8))
    response = web_client_for(tenant_a.agent).post(_url(f"{conversation.pk}/send/"), {"text": "hi"}, follow=True)
    assert "The reply window is closed: the customer must write first." in response.content.decode()


def test_without_javascript_a_too_long_reply_is_refused_and_stays_in_the_composer(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    conversation = setup["conversation"]
    draft = "Votre colis arrive demain. " + "é" * 1600
    response = web_client_for(tenant_a.agent).post(
        _url(f"{conversation.pk}/send/"), {"text": draft, "filters": "state=open"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "A message can be at most 1,600 characters." in html
    assert f">{draft}</textarea>" in html
    assert '<option value="open" selected>' in html  # the list keeps its filters
    assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_the_composer_shows_the_window_and_is_disabled_once_it_closed(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    conversation = setup["conversation"]
    client = web_client_for(tenant_a.agent)
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=3, hours=1))
    html = client.get(_url(f"{conversation.pk}/")).content.decode()
    assert "Human agent window: 3 days left" in html
    assert 'data-can-reply="true"' in html
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=8))
    html = client.get(_url(f"{conversation.pk}/")).content.decode()
    assert "Window closed: the customer must write first" in html
    assert 'data-can-reply="false"' in html
    assert re.search(r'<textarea [^>]*id="composer-text"[^>]* disabled', html)


def test_a_deleted_channel_says_why_it_cannot_be_answered(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    conversation = setup["conversation"]
    Channel.objects.filter(pk=conversation.channel_id).update(deleted_at=timezone.now())
    client = web_client_for(tenant_a.agent)
    html = client.get(_url(f"{conversation.pk}/")).content.decode()
    assert "This channel was deleted" in html
    assert "cannot be forwarded" in html and "cannot be blocked" in html
    response = client.post(_url(f"{conversation.pk}/block/"), follow=True)
    assert "This channel was deleted" in response.content.decode()
    conversation.contact.refresh_from_db()
    assert conversation.contact.is_blocked is False


def test_actions_from_the_page_write_system_lines(tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]) -> None:
    conversation = setup["conversation"]
    client = web_client_for(tenant_a.agent)
    assert client.post(_url(f"{conversation.pk}/assign/"), {"assignee": tenant_a.agent.pk}).status_code == 302
    assert client.post(_url(f"{conversation.pk}/close/")).status_code == 302
    response = client.post(
        _url(f"{conversation.pk}/forward/"), {"to": f"channel:{setup['theirs'].pk}", "note": "for sales"}
    )
    # The agent does not see the sales channel: back to the inbox.
    assert response["Location"] == "/o/alpha/inbox/"
    kinds = list(
        ConversationEvent.objects.filter(conversation=conversation).order_by("id").values_list("kind", flat=True)
    )
    assert kinds == ["assigned", "closed", "forwarded"]


def test_a_failed_message_is_retried_from_the_page(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    conversation = setup["conversation"]
    failed = _outbound(conversation, "Failed reply", MessageStatus.FAILED, mid=None, error_code="graph_timeout")
    response = web_client_for(tenant_a.agent).post(_url(f"messages/{failed.pk}/retry/"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    failed.refresh_from_db()
    assert failed.status == MessageStatus.QUEUED


@pytest.mark.parametrize("rows", [5, 25])
def test_the_inbox_page_costs_the_same_queries_for_5_or_25_conversations(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any], rows: int, django_assert_num_queries: Any
) -> None:
    page = setup["page"]
    for n in range(rows - 1):
        conversation = factories.make_conversation(page, factories.make_contact(page, display_name=f"C{n}"))
        factories.make_message(conversation)
        Conversation.objects.filter(pk=conversation.pk).update(assignee=tenant_a.admin.user)
    client = web_client_for(tenant_a.agent)
    client.get(_url())
    # session, user, membership (middleware), the channels (the filter's menu, and each row's),
    # the page's conversations with their contacts and assignees, its labels, the views' counts,
    # the saved views (their counts: none to count), the labels of the filters
    with django_assert_num_queries(9):
        response = client.get(_url())
    assert response.content.decode().count('class="hd-conversation-item') == rows
    with django_assert_num_queries(8):
        client.get(_url("list/"))


def test_a_file_and_a_text_from_the_composer_go_as_two_messages(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any], settings: Any, tmp_path: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    conversation = setup["conversation"]
    client = web_client_for(tenant_a.agent)
    photo = SimpleUploadedFile("photo.jpg", b"\xff\xd8jpeg", content_type="image/jpeg")
    response = client.post(
        _url(f"{conversation.pk}/send/"), {"text": "Here it is", "file": photo}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    sent = list(Message.objects.filter(direction=Direction.OUTBOUND).order_by("id").values_list("kind", "text"))
    assert sent == [("attachment", ""), ("text", "Here it is")]
    # A text that is too long refuses both: the file does not go out alone.
    photo = SimpleUploadedFile("photo.jpg", b"\xff\xd8jpeg", content_type="image/jpeg")
    response = client.post(
        _url(f"{conversation.pk}/send/"), {"text": "x" * 1601, "file": photo}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert Message.objects.filter(direction=Direction.OUTBOUND).count() == 2


def test_payload_urls_that_are_not_web_addresses_never_become_links(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    conversation = setup["conversation"]
    factories.make_message(
        conversation, text="", kind=MessageKind.ATTACHMENT, attachments=[{"type": "file", "url": "javascript:alert(1)"}]
    )
    html = web_client_for(tenant_a.agent).get(_url(f"{conversation.pk}/")).content.decode()
    assert "javascript:alert" not in html


def test_a_conversation_page_costs_the_same_queries_for_a_short_or_long_transcript(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    conversation = setup["conversation"]
    client = web_client_for(tenant_a.agent)
    client.get(_url(f"{conversation.pk}/"))
    with CaptureQueriesContext(connection) as short:
        client.get(_url(f"{conversation.pk}/"))
    for n in range(30):
        factories.make_message(conversation, text=f"line {n}", reply_to_mid="m_quoted" if n % 2 else "")
        _outbound(conversation, f"answer {n}", MessageStatus.READ, author=tenant_a.agent.user)
        ConversationEvent.objects.create(
            organization=tenant_a.organization, conversation=conversation, kind="closed", actor=tenant_a.agent.user
        )
    with CaptureQueriesContext(connection) as long:
        client.get(_url(f"{conversation.pk}/"))
    assert len(long.captured_queries) == len(short.captured_queries) + 1  # + the quoted messages' lookup


@contextmanager
def _counting_renders(name: str) -> Iterator[mock.Mock]:
    """A mock called at each rendering of the template ``name`` (the others render as usual)."""
    from django.template.loader import get_template

    template_class = type(get_template(name))
    real_render = template_class.render
    render = mock.Mock()

    def counting_render(template: Any, *args: Any, **kwargs: Any) -> Any:
        if template.template.name == name:
            render()
        return real_render(template, *args, **kwargs)

    with mock.patch.object(template_class, "render", counting_render):
        yield render


def test_a_row_is_rendered_once_and_shown_again_from_the_cache_until_it_changes(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    client = web_client_for(tenant_a.agent)
    with _counting_renders("messenger/inbox/_conversation_row.html") as render:
        first = client.get(_url("list/")).content.decode()
        assert render.call_count == 1
        again = client.get(_url("list/")).content.decode()
        assert render.call_count == 1  # the same row, from the cache
        assert again == first and "荷物が届きません" in again
        # A new message changes the row: rendered anew, with its new preview.
        factories.make_message(setup["conversation"], text="まだですか？")
        changed = client.get(_url("list/")).content.decode()
        assert render.call_count == 2
        assert "まだですか？" in changed


def test_the_list_is_rendered_whole_while_the_cache_is_down(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    from django.core.cache import caches

    cache = caches["default"]
    with (
        mock.patch.object(cache, "get_many", side_effect=ConnectionError("cache down")),
        mock.patch.object(cache, "set_many", side_effect=ConnectionError("cache down")),
    ):
        response = web_client_for(tenant_a.agent).get(_url("list/"))
    assert response.status_code == 200
    assert "山田 花子" in response.content.decode()


def test_the_filter_form_is_kept_once_rendered_and_shows_a_renamed_channel_or_label_at_once(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    from labels.models import Label

    label = Label.objects.create(organization=tenant_a.organization, name="VIP", color="red")
    client = web_client_for(tenant_a.agent)
    with _counting_renders("messenger/inbox/_filters.html") as render:
        first = client.get(_url()).content.decode()
        assert render.call_count == 1 and "Support chat" in first and "VIP" in first
        assert client.get(_url()).content.decode().count("Support chat") == first.count("Support chat")
        assert render.call_count == 1  # the same form, from the cache
        # Other filters: another form (the state chosen is selected in it).
        closed = client.get(_url("?state=closed")).content.decode()
        assert render.call_count == 2 and '<option value="closed" selected>' in closed
        Channel.objects.filter(pk=setup["mine"].pk).update(name="Support desk")
        label.name = "Very important"
        label.save()
        renamed = client.get(_url()).content.decode()
        assert render.call_count == 3
        assert "Support desk" in renamed and "Very important" in renamed and "VIP" not in renamed


def test_the_inbox_page_is_rendered_whole_while_the_cache_is_down(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    from django.core.cache import caches

    cache = caches["default"]
    down = ConnectionError("cache down")
    with (
        mock.patch.object(cache, "get", side_effect=down),
        mock.patch.object(cache, "set", side_effect=down),
        mock.patch.object(cache, "get_many", side_effect=down),
        mock.patch.object(cache, "set_many", side_effect=down),
    ):
        response = web_client_for(tenant_a.agent).get(_url())
    assert response.status_code == 200
    page = response.content.decode()
    assert "山田 花子" in page and "Support chat" in page and 'name="state"' in page


def test_the_transcript_shows_a_failure_reason_and_a_file_without_writing_on_the_messages(
    tenant_a: Tenant, web_client_for: Any, setup: dict[str, Any]
) -> None:
    from messenger.views.transcript import TranscriptLine

    conversation = setup["conversation"]
    _outbound(conversation, "Failed reply", MessageStatus.FAILED, mid=None, error_code="graph_timeout")
    factories.make_message(
        conversation,
        text="",
        kind=MessageKind.ATTACHMENT,
        attachments=[{"type": "file", "url": "https://cdn.fbsbx.com/v/invoice.pdf", "title": "invoice.pdf"}],
    )
    response = web_client_for(tenant_a.agent).get(_url(f"{conversation.pk}/"))
    html = response.content.decode()
    assert "Facebook did not answer in time." in html
    assert "invoice.pdf" in html
    lines = response.context["lines"]
    assert lines and all(isinstance(line, TranscriptLine) for line in lines)
    failed = next(line for line in lines if line.message is not None and line.message.status == MessageStatus.FAILED)
    assert failed.failure_reason == "Facebook did not answer in time."
    # The template reads the presenters: the model instances carry nothing but their fields.
    assert not any(hasattr(line.message, "failure_reason") for line in lines if line.message is not None)
