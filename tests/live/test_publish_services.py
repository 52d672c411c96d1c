"""Every change a member or a job makes tells the pages, after commit, with the right address:
conversations (state, assignment, forwarding, labels, notes, replies and their ticks, routing,
bulk actions), tickets (made by hand and by the sweep, changed, labelled, answered),
notifications (to their member only) and the scope of members whose visibility changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from availability.models import Status
from channels import services as channel_services
from channels.models import AssignmentMode
from helpdesk import services as helpdesk_services
from helpdesk.models import Role
from labels.models import Label
from messenger.models import Conversation, ConversationState, Direction, MessageSource, MessageStatus
from messenger.routing import drain
from messenger.services.conversations import assignment, bulk, labels, state
from messenger.services.notes import note_add
from messenger.services.sending import delivery, replies
from tests import factories
from tests.conftest import Tenant
from tests.live.capture import Published, published
from tests.messenger.routing_world import set_status
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db
__all__ = ["published"]


@pytest.fixture
def desk(tenant_a: Tenant) -> dict[str, Any]:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Shop")
    factories.associate(tenant_a.agent, channel)
    page = factories.make_page(channel)
    conversation = factories.make_conversation(page, last_inbound_at=timezone.now())
    factories.make_message(conversation, text="Where is my parcel?")
    return {"a": tenant_a, "channel": channel, "page": page, "conversation": conversation}


@pytest.fixture(autouse=True)
def _no_broker() -> Any:
    with (
        mock.patch("messenger.tasks.sending.send_message.delay", autospec=True),
        mock.patch("messenger.tasks.sending.send_sender_action.delay", autospec=True),
    ):
        yield


def _conversation_events(published: Published) -> list[tuple[int, str, int | None, Any]]:
    return [
        (e.data["conversation"], e.data["what"], e.channel_id, e.data.get("assignee"))
        for e in published.of_kind("conversation")
    ]


def test_closing_a_conversation_is_told_to_its_channel_after_commit(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    a, conversation = desk["a"], desk["conversation"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        state.conversation_close(organization=a.organization, acting_user=a.agent.user, conversation=conversation)
    assert published.events == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert _conversation_events(published) == [(conversation.pk, "state", desk["channel"].pk, None)]


def test_assigning_then_forwarding_to_another_channel_tells_both_channels(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    a, conversation, shop = desk["a"], desk["conversation"], desk["channel"]
    with django_capture_on_commit_callbacks(execute=True):
        assignment.conversation_assign(
            organization=a.organization,
            acting_user=a.admin.user,
            conversation=conversation,
            assignee_membership_id=a.agent.pk,
        )
    assert _conversation_events(published) == [(conversation.pk, "assignment", shop.pk, a.agent.user_id)]
    published.clear()
    billing = factories.make_channel(a.organization, a.department, name="Billing")
    with django_capture_on_commit_callbacks(execute=True):
        assignment.conversation_forward(
            organization=a.organization, acting_user=a.admin.user, conversation=conversation, to_channel_id=billing.pk
        )
    told = {(channel_id, what) for _pk, what, channel_id, _assignee in _conversation_events(published)}
    assert told == {(shop.pk, "assignment"), (billing.pk, "assignment")}


def test_a_bulk_action_is_one_event_per_conversation_in_one_flush(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    a = desk["a"]
    others = [factories.make_conversation(desk["page"]) for _ in range(3)]
    ids = [desk["conversation"].pk, *(c.pk for c in others)]
    with django_capture_on_commit_callbacks(execute=True):
        bulk.conversations_bulk(
            organization=a.organization,
            acting_user=a.admin.user,
            membership=a.admin,
            conversation_ids=ids,
            action="assign",
            assignee_id=a.agent.pk,
        )
    [batch] = published.batches
    assert sorted((e.data["conversation"], e.data["what"], e.data["assignee"]) for e in batch) == [
        (pk, "assignment", a.agent.user_id) for pk in sorted(ids)
    ]
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        bulk.conversations_bulk(
            organization=a.organization,
            acting_user=a.admin.user,
            membership=a.admin,
            conversation_ids=ids,
            action="close",
        )
    assert sorted(pk for pk, what, _c, _a in _conversation_events(published) if what == "state") == sorted(ids)


def test_labels_and_notes_are_told_and_a_mention_notifies_its_member_only(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    a, conversation = desk["a"], desk["conversation"]
    label = Label.objects.create(organization=a.organization, name="VIP")
    with django_capture_on_commit_callbacks(execute=True):
        labels.conversations_label_add(
            organization=a.organization, acting_user=a.agent.user, conversations=[conversation], label=label
        )
    assert _conversation_events(published) == [(conversation.pk, "labels", desk["channel"].pk, None)]
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        note_add(
            organization=a.organization,
            acting_user=a.agent.user,
            membership=a.agent,
            conversation=conversation,
            body=f"@{a.admin.user.username} have a look",
        )
    assert [what for _pk, what, _c, _a in _conversation_events(published)] == ["note"]
    [notice] = published.of_kind("notification")
    assert notice.user_id == a.admin.user_id and notice.channel_id is None
    assert notice.data["what"] == "mention" and notice.data["notification"] > 0


def test_a_reply_is_told_then_its_failure(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    a, conversation = desk["a"], desk["conversation"]
    with django_capture_on_commit_callbacks(execute=True):
        [message] = replies.reply_send(
            organization=a.organization, acting_user=a.agent.user, conversation=conversation, text="On its way"
        )
    assert _conversation_events(published) == [(conversation.pk, "agent_message", desk["channel"].pk, None)]
    published.clear()
    # Its window closed meanwhile: the delivery refuses it, and the tick says failed.
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(days=30))
    with django_capture_on_commit_callbacks(execute=True):
        delivery.message_deliver(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert _conversation_events(published) == [(conversation.pk, "status", desk["channel"].pk, None)]


def test_the_sweep_failing_a_stuck_send_tells_its_conversation(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    from messenger.services.sending import recovery

    conversation = desk["conversation"]
    factories.make_message(
        conversation,
        direction=Direction.OUTBOUND,
        source=MessageSource.AGENT,
        status=MessageStatus.SENDING,
        status_changed_at=timezone.now() - timedelta(hours=2),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert recovery.message_sweep()[0] == 1
    assert _conversation_events(published) == [(conversation.pk, "status", desk["channel"].pk, None)]


def test_routing_tells_each_conversation_given_to_an_agent(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    a, channel = desk["a"], desk["channel"]
    channel.assignment_mode = AssignmentMode.ROUND_ROBIN
    channel.save(update_fields=["assignment_mode"])
    conversation = desk["conversation"]
    Conversation.objects.filter(pk=conversation.pk).update(queued_at=timezone.now())
    set_status(a.agent, Status.ONLINE)
    with django_capture_on_commit_callbacks(execute=True):
        assert drain.agent_backlog_drain(membership=a.agent) == 1
    assert _conversation_events(published) == [(conversation.pk, "assignment", channel.pk, a.agent.user_id)]


def test_tickets_made_changed_and_labelled_are_told_to_their_channel_and_department(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    a, conversation = desk["a"], desk["conversation"]
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_services.ticket_create_from_conversation(
            organization=a.organization, acting_user=a.admin.user, membership=a.admin, conversation_id=conversation.pk
        )
    [made] = published.of_kind("ticket")
    assert made.data == {"ticket": ticket.pk, "conversation": conversation.pk, "what": "created"}
    assert (made.channel_id, made.department_id) == (desk["channel"].pk, a.department.pk)
    assert _conversation_events(published) == [(conversation.pk, "state", desk["channel"].pk, None)]
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.ticket_update(
            organization=a.organization,
            acting_user=a.admin.user,
            membership=a.admin,
            ticket_id=ticket.pk,
            state="pending",
            priority="high",
            assignee_id=a.agent.user_id,
        )
    assert sorted(e.data["what"] for e in published.of_kind("ticket")) == ["assignment", "details", "state"]
    published.clear()
    label = Label.objects.create(organization=a.organization, name="Refund")
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.tickets_label_add(
            organization=a.organization, acting_user=a.admin.user, tickets=[ticket], label=label
        )
    assert [e.data["what"] for e in published.of_kind("ticket")] == ["labels"]


def test_the_sweep_tells_each_ticket_it_makes(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    Conversation.objects.filter(pk=desk["conversation"].pk).update(last_message_at=timezone.now() - timedelta(days=2))
    desk["conversation"].messages.update(sent_at=timezone.now() - timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert ticket_services.ticket_sweep_idle_conversations(workers=1) == 1
    [made] = published.of_kind("ticket")
    assert made.data["what"] == "created" and made.data["conversation"] == desk["conversation"].pk


def test_scope_changes_reach_the_members_whose_visibility_changed(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    a, shop = desk["a"], desk["channel"]
    colleague = factories.make_member(a.organization, username="alpha-colleague", departments=[a.department])

    def scoped() -> set[int | None]:
        return {e.user_id for e in published.of_kind("scope")}

    with django_capture_on_commit_callbacks(execute=True):
        channel_services.channel_agents_set(
            organization=a.organization, acting_user=a.admin.user, channel=shop, membership_ids=[colleague.pk]
        )
    assert scoped() == {a.agent.user_id, colleague.user_id}  # one left, one joined
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        helpdesk_services.member_update(
            organization=a.organization, acting_user=a.admin.user, membership=colleague, role=Role.ADMIN
        )
    assert scoped() == {colleague.user_id}
    published.clear()
    elsewhere = factories.make_department(a.organization, "Billing")
    factories.make_member(a.organization, username="alpha-billing", departments=[elsewhere])
    with django_capture_on_commit_callbacks(execute=True):
        channel_services.channel_update(
            organization=a.organization, acting_user=a.admin.user, channel=shop, department_id=elsewhere.pk
        )
    assert colleague.user_id in scoped()
    # Nothing of this is a conversation's words: every scope event is addressed to one member.
    assert all(e.user_id is not None and e.data == {} for e in published.of_kind("scope"))


def test_a_deactivated_member_is_told_to_reload_their_scope(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    a = desk["a"]
    with django_capture_on_commit_callbacks(execute=True):
        helpdesk_services.member_update(
            organization=a.organization, acting_user=a.admin.user, membership=a.agent, is_active=False
        )
    assert [e.user_id for e in published.of_kind("scope")] == [a.agent.user_id]
    assert ConversationState.OPEN  # the conversations themselves are untouched


def test_a_customers_file_recorded_after_download_redraws_its_message(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    from messenger.models import MessageKind
    from messenger.services.attachments import downloads
    from messenger.services.attachments.entries import DownloadFailure

    conversation = desk["conversation"]
    url = "https://cdn.example/expired.png"
    message = factories.make_message(
        conversation, text="", kind=MessageKind.ATTACHMENT, attachments=[{"type": "image", "url": url}]
    )
    with django_capture_on_commit_callbacks(execute=True):
        downloads._record(message_id=message.pk, results={0: (url, DownloadFailure("not_found"))}, now=timezone.now())
    assert _conversation_events(published) == [(conversation.pk, "edit", desk["channel"].pk, None)]


def test_a_channel_that_assigns_by_itself_tells_each_conversation_it_gives(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    from messenger.routing.route import channel_queue_drain

    a, channel, conversation = desk["a"], desk["channel"], desk["conversation"]
    channel.assignment_mode = AssignmentMode.ROUND_ROBIN
    channel.save(update_fields=["assignment_mode"])
    Conversation.objects.filter(pk=conversation.pk).update(queued_at=timezone.now())
    set_status(a.agent, Status.ONLINE)
    with django_capture_on_commit_callbacks(execute=True):
        given = channel_queue_drain(organization_id=a.organization.pk, channel_id=channel.pk)
    assert given == [conversation.pk]
    assert _conversation_events(published) == [(conversation.pk, "assignment", channel.pk, a.agent.user_id)]


def test_blocking_the_customer_is_a_contact_change(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    from messenger.services.conversations.blocking import contact_block

    a, conversation = desk["a"], desk["conversation"]
    with django_capture_on_commit_callbacks(execute=True):
        contact_block(organization=a.organization, acting_user=a.agent.user, conversation=conversation)
    assert _conversation_events(published) == [(conversation.pk, "contact", desk["channel"].pk, None)]


def test_a_reply_from_the_ticket_page_tells_the_ticket_and_its_conversation(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    a, conversation = desk["a"], desk["conversation"]
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_services.ticket_create_from_conversation(
            organization=a.organization, acting_user=a.admin.user, membership=a.admin, conversation_id=conversation.pk
        )
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.ticket_reply_send(
            organization=a.organization, acting_user=a.agent.user, membership=a.agent, ticket_id=ticket.pk, text="Done"
        )
    assert [e.data["what"] for e in published.of_kind("ticket")] == ["reply"]
    assert [what for _pk, what, _c, _a in _conversation_events(published)] == ["agent_message"]


def test_a_new_conversation_notice_is_one_notification_event_per_member_who_sees_it(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    from helpdesk.models import Notification
    from messenger.webhook.followups import conversation_announce

    a, conversation = desk["a"], desk["conversation"]
    factories.make_member(a.organization, username="alpha-elsewhere", departments=[a.department])  # not the channel's
    with django_capture_on_commit_callbacks(execute=True):
        assert conversation_announce(conversation_id=conversation.pk) == 2
    notices = {e.user_id: e.data["notification"] for e in published.of_kind("notification")}
    assert notices == dict(Notification.objects.values_list("user_id", "pk"))
    assert set(notices) == {a.admin.user_id, a.agent.user_id}
    # Told once: announcing again notifies nobody, and tells nobody.
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert conversation_announce(conversation_id=conversation.pk) == 0
    assert published.events == []


def test_a_customers_name_fetched_is_told_to_their_conversation(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    from messenger.services.contacts import contact_profile_fetch

    guest = factories.make_contact(desk["page"], is_guest=True, profile_fetched_at=None)
    conversation = factories.make_conversation(desk["page"], guest)
    with django_capture_on_commit_callbacks(execute=True):
        assert contact_profile_fetch(contact_id=guest.pk)  # a guest has no profile: the fallback name
    assert _conversation_events(published) == [(conversation.pk, "contact", desk["channel"].pk, None)]


def test_a_label_renamed_recoloured_or_deleted_refreshes_the_organizations_lists(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    from labels import services as label_services

    a = desk["a"]
    label = Label.objects.create(organization=a.organization, name="VIP")
    with django_capture_on_commit_callbacks(execute=True):
        label_services.label_update(organization=a.organization, acting_user=a.admin.user, label=label, name="Gold")
    [renamed] = published.of_kind("label")
    assert renamed.data == {"label": label.pk, "what": "updated"}
    assert set(renamed.topics) == {"conversations", "tickets"}
    # Labels are the whole organization's: no channel, no member address.
    assert (renamed.organization_id, renamed.channel_id, renamed.user_id) == (a.organization.pk, None, None)
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        label_services.label_update(organization=a.organization, acting_user=a.admin.user, label=label)
    assert published.events == []  # nothing changed, nothing told
    label_id = label.pk
    with django_capture_on_commit_callbacks(execute=True):
        label_services.label_delete(organization=a.organization, acting_user=a.admin.user, label=label)
    assert [e.data for e in published.of_kind("label")] == [{"label": label_id, "what": "deleted"}]


def test_notifications_read_tell_that_members_other_tabs_only(
    desk: dict[str, Any], published: Published, django_capture_on_commit_callbacks: Any
) -> None:
    a = desk["a"]
    with django_capture_on_commit_callbacks(execute=True):
        helpdesk_services.notification_create(
            organization=a.organization,
            user_ids=[a.agent.user_id, a.admin.user_id],
            kind="new_conversation",
            title="Hi",
        )
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        helpdesk_services.notification_mark_read(
            organization=a.organization, user_id=a.agent.user_id, notification_ids=None
        )
    [read] = published.of_kind("notification")
    assert (read.user_id, read.data) == (a.agent.user_id, {"notification": 0, "what": "read"})
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        helpdesk_services.notification_mark_read(
            organization=a.organization, user_id=a.agent.user_id, notification_ids=None
        )
    assert published.events == []  # nothing left unread
