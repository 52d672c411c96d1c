"""Using a canned response in a conversation: filled in, in the right language, flagged when
too long, its files as kept-file tokens sent as their own messages, and the use counted."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from canned import services
from canned.models import CannedResponse, CannedResponseUse
from helpdesk.exceptions import MessageTooLong, NotFound
from messenger.models import Message, MessageStatus
from messenger.services.sending import kept_files, replies
from messenger.services.sending.kept_files import InvalidAttachment
from messenger.tasks import sending as sending_tasks
from tests import factories
from tests.canned.conftest import Desk
from tests.channels import images
from tests.conftest import Tenant
from tests.graph_stub import GraphStub, graph
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
__all__ = ["graph"]


def use(desk: Desk, response: CannedResponse, *, membership: Any = None, conversation: Any = None) -> Any:
    membership = membership or desk.tenant.agent
    return services.canned_response_use(
        organization=desk.tenant.organization,
        membership=membership,
        acting_user=membership.user,
        conversation=conversation or desk.conversation,
        canned_id=response.pk,
    )


def test_the_text_is_filled_in_and_the_use_counted(desk: Desk) -> None:
    response = desk.canned(shortcut="hi", body_en="Hello {{contact.first_name}}, {{agent.name}} here.")
    agent = desk.tenant.agent.user
    agent.first_name, agent.last_name = "Ken", "Sato"
    agent.save()
    rendered = use(desk, response)
    assert (rendered.text, rendered.language, rendered.too_long) == ("Hello Hanako, Ken Sato here.", "en", False)
    assert rendered.length == len("Hello Hanako, Ken Sato here.")
    use(desk, response)
    response.refresh_from_db()
    assert response.usage_count == 2 and response.last_used_at is not None
    uses = CannedResponseUse.objects.filter(canned_response=response)
    assert uses.count() == 2
    assert {(u.user_id, u.conversation_id) for u in uses} == {(agent.pk, desk.conversation.pk)}


def test_the_customers_locale_chooses_the_text(desk: Desk) -> None:
    response = desk.canned(
        shortcut="thanks", body_en="Thank you {{contact.name}}", body_ja="{{contact.name}}様、ありがとうございます"
    )
    assert use(desk, response).text == "Thank you Hanako Yamada"
    desk.conversation.contact.locale = "ja_JP"
    desk.conversation.contact.save()
    rendered = use(desk, response)
    assert (rendered.language, rendered.text) == ("ja", "Yamada Hanako様、ありがとうございます")


def test_the_open_tickets_number_is_filled_in(desk: Desk) -> None:
    response = desk.canned(shortcut="t", body_en="Your ticket is #{{ticket.number}}.")
    assert use(desk, response).text == "Your ticket is #."
    first = desk.conversation.messages.first()
    ticket = Ticket.objects.create(
        organization=desk.tenant.organization,
        department=desk.tenant.department,
        channel=desk.channel,
        conversation=desk.conversation,
        contact=desk.conversation.contact,
        subject="Order",
        origin="manual",
        first_message=first,
        last_message=first,
    )
    assert use(desk, response).text == f"Your ticket is #{ticket.pk}."


def test_too_long_once_filled_is_flagged_and_the_send_still_refuses_it(desk: Desk) -> None:
    contact = desk.conversation.contact
    contact.first_name, contact.last_name = "Hanako" * 10, ""
    contact.save()
    response = desk.canned(shortcut="long", body_en="x" * 1570 + " {{contact.first_name}}")
    rendered = use(desk, response)
    assert rendered.too_long and rendered.length == 1631 and rendered.excess == 31
    with pytest.raises(MessageTooLong):
        replies.reply_send(
            organization=desk.tenant.organization,
            acting_user=desk.tenant.agent.user,
            conversation=desk.conversation,
            text=rendered.text,
        )


def test_a_response_of_another_department_or_a_colleague_cannot_be_used(desk: Desk) -> None:
    billing = desk.canned(shortcut="billing", scope="department", department_id=desk.other_department.pk)
    colleague = factories.make_member(desk.tenant.organization, departments=[desk.tenant.department])
    theirs = desk.canned(by=colleague, scope="personal", shortcut="theirs")
    for response in (billing, theirs):
        with pytest.raises(NotFound):
            use(desk, response)
    assert CannedResponseUse.objects.count() == 0


def _with_file(desk: Desk, settings: Any, tmp_path: Any, data: bytes, name: str) -> CannedResponse:
    settings.MEDIA_ROOT = tmp_path
    response = desk.canned(shortcut="manual", body_en="Here is the manual, {{contact.first_name}}.")
    services.canned_attachment_add(
        organization=desk.tenant.organization,
        membership=desk.tenant.admin,
        canned_response=response,
        upload=SimpleUploadedFile(name, data, content_type="text/html"),
    )
    return response


def test_a_file_is_checked_like_an_agents_and_at_most_three(desk: Desk, settings: Any, tmp_path: Any) -> None:
    png = images.image_bytes("PNG")
    response = _with_file(desk, settings, tmp_path, png, "photo.html")
    [kept] = response.attachments.all()
    # Its type from its bytes, not from its name or the browser's header.
    assert (kept.type, kept.content_type, kept.title) == ("image", "image/png", "photo.html")
    assert kept.stored_name.startswith(f"canned/{desk.tenant.organization.pk}/")
    for n in range(2):
        services.canned_attachment_add(
            organization=desk.tenant.organization,
            membership=desk.tenant.admin,
            canned_response=response,
            upload=SimpleUploadedFile(f"f{n}.pdf", b"%PDF-1.4 x"),
        )
    with pytest.raises(Exception) as refused:
        services.canned_attachment_add(
            organization=desk.tenant.organization,
            membership=desk.tenant.admin,
            canned_response=response,
            upload=SimpleUploadedFile("f4.pdf", b"%PDF-1.4 x"),
        )
    assert "file" in refused.value.details  # type: ignore[attr-defined]
    with pytest.raises(Exception) as empty:
        services.canned_attachment_add(
            organization=desk.tenant.organization,
            membership=desk.tenant.admin,
            canned_response=desk.canned(shortcut="other"),
            upload=SimpleUploadedFile("empty.pdf", b""),
        )
    assert "file" in empty.value.details  # type: ignore[attr-defined]


def test_a_kept_file_is_sent_as_its_own_message_from_a_copy_through_the_graph_api(
    desk: Desk, graph: GraphStub, settings: Any, tmp_path: Any
) -> None:
    pdf = b"%PDF-1.4 the manual"
    response = _with_file(desk, settings, tmp_path, pdf, "manual.pdf")
    rendered = use(desk, response)
    [attachment] = rendered.attachments
    assert attachment.title == "manual.pdf"
    with mock.patch.object(sending_tasks.send_message, "delay", autospec=True):
        file_message, text_message = replies.reply_send(
            organization=desk.tenant.organization,
            acting_user=desk.tenant.agent.user,
            conversation=desk.conversation,
            text=rendered.text,
            kept_files=[attachment.kept_file],
        )
    assert (file_message.kind, text_message.text) == ("attachment", "Here is the manual, Hanako.")
    assert file_message.pk < text_message.pk  # the file first, the text last
    [sent_file] = file_message.attachments
    [kept] = response.attachments.all()
    # The message owns a copy: deleting the canned response leaves it in place.
    assert sent_file["stored_name"].startswith(f"messenger/outbound/{desk.tenant.organization.pk}/")
    assert sent_file["stored_name"] != kept.stored_name
    services.canned_response_delete(
        organization=desk.tenant.organization, membership=desk.tenant.admin, canned_response=response
    )
    assert (tmp_path / sent_file["stored_name"]).read_bytes() == pdf

    conf = sending_tasks.send_message.app.conf
    propagates, conf.task_eager_propagates = conf.task_eager_propagates, False
    try:
        for message in (file_message, text_message):
            sending_tasks.send_message.apply(args=[message.pk])
    finally:
        conf.task_eager_propagates = propagates
    assert set(Message.objects.filter(pk__in=[file_message.pk, text_message.pk]).values_list("status", flat=True)) == {
        MessageStatus.SENT
    }
    [uploaded] = graph.uploads()
    assert uploaded.files["filedata"].data == pdf and uploaded.files["filedata"].file_name == "manual.pdf"
    assert uploaded.json["message"]["attachment"]["type"] == "file"
    sends = graph.sends()
    assert [("attachment" in body["message"]) for body in sends] == [True, False]
    assert sends[1]["message"]["text"] == "Here is the manual, Hanako."
    assert "/media/" not in json.dumps(sends)


def test_a_token_of_another_organization_a_forged_or_an_expired_one_is_refused(
    desk: Desk, tenant_b: Tenant, settings: Any, tmp_path: Any
) -> None:
    response = _with_file(desk, settings, tmp_path, b"%PDF-1.4 x", "a.pdf")
    [attachment] = use(desk, response).attachments
    channel = factories.make_channel(tenant_b.organization, tenant_b.department)
    conversation_b = factories.make_conversation(factories.make_page(channel))
    factories.make_message(conversation_b, sent_at=timezone.now() - timedelta(minutes=5))
    forged = signing.dumps({"o": desk.tenant.organization.pk, "n": "canned/1/x"}, salt="another salt")
    expired = mock.patch.object(kept_files, "MAX_AGE_SECONDS", -1)
    for organization, conversation, token in (
        (tenant_b.organization, conversation_b, attachment.kept_file),
        (desk.tenant.organization, desk.conversation, forged),
        (desk.tenant.organization, desk.conversation, "junk"),
    ):
        with pytest.raises(InvalidAttachment) as refused:
            replies.reply_send(
                organization=organization,
                acting_user=None,
                conversation=conversation,
                text="Hi",
                kept_files=[token],
            )
        assert refused.value.code == "invalid_attachment" and refused.value.status == 400
    with expired, pytest.raises(InvalidAttachment):
        replies.reply_send(
            organization=desk.tenant.organization,
            acting_user=None,
            conversation=desk.conversation,
            text="Hi",
            kept_files=[attachment.kept_file],
        )
    assert Message.objects.filter(direction="outbound").count() == 0
