"""A customer's data on request (APPI, GDPR): an admin exports everything the product holds
about a contact, or erases it.

Erasing keeps the rows that reports count (the contact, its conversations as stubs, the
tickets without their words) and removes what the customer wrote or sent: message texts and
attachments (the files deleted from storage), the search copies, the profile, notes and
ticket texts about them, survey comments, the raw webhook events that carried them and the
API's kept answers (Idempotency-Key) that quote them. A later message from the same customer
starts new data as usual.
"""

from __future__ import annotations

import io
import json
import logging
import posixpath
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from csat.models import Survey
from helpdesk import signals
from helpdesk.exceptions import HelpdeskError, NotFound, PermissionDenied
from helpdesk.idempotency import Mentions, idempotency_replies_erase
from helpdesk.models import Membership, Organization
from messenger.contact_names import contact_name
from messenger.models import (
    Contact,
    Conversation,
    ConversationEvent,
    ConversationReferral,
    Message,
    MessageSearchText,
    Note,
    WebhookEvent,
)
from messenger.selectors import visibility as visibility_selectors
from outgoing.models import OutgoingEvent
from privacy.audit import audit_event
from privacy.signals import contact_erased
from tickets.models import Ticket, TicketEvent

logger = logging.getLogger(__name__)

EXPORT_FORMAT_VERSION = 1


class ErasureNotConfirmed(HelpdeskError):
    code = "erase_not_confirmed"
    status = 400
    default_message = _("Confirm the erasure: tick the box or type the contact's name.")


def contact_for_admin(*, organization: Organization, membership: Membership, contact_id: Any) -> Contact:
    """The contact, for an admin of its organization (NotFound for another organization's,
    PermissionDenied for an agent)."""
    contact = visibility_selectors.contact_get(organization=organization, membership=membership, contact_id=contact_id)
    if not membership.is_admin:
        raise PermissionDenied(_("Only admins can export or erase a customer's data."))
    return contact


def _stored_files(message: Message) -> list[str]:
    return [str(item["stored_name"]) for item in message.attachments or [] if item.get("stored_name")]


def _contact_reference(contact: Contact) -> str:
    # The audit log outlives an erasure: it names the contact by number, never by name.
    return f"#{contact.pk}"


def _conversations(*, organization: Organization, contact: Contact) -> list[Conversation]:
    return list(Conversation.objects.filter(organization=organization, contact=contact).order_by("pk"))


@dataclass(frozen=True)
class ContactExport:
    file_name: str
    content: bytes


def contact_export(*, organization: Organization, acting_user: Any, contact: Contact) -> ContactExport:
    """A zip: `contact.json` (profile, conversations with their messages and notes, tickets)
    and the customer's kept files under `attachments/<message id>/`."""
    if contact.organization_id != organization.pk:
        raise NotFound
    conversations = _conversations(organization=organization, contact=contact)
    conversation_ids = [conversation.pk for conversation in conversations]
    messages = list(
        Message.objects.filter(organization=organization, conversation_id__in=conversation_ids).order_by(
            "sent_at", "pk"
        )
    )
    notes = list(Note.objects.filter(organization=organization, conversation_id__in=conversation_ids).order_by("pk"))
    tickets = list(Ticket.objects.filter(organization=organization, contact=contact).order_by("pk"))
    buffer = io.BytesIO()
    files: dict[int, list[str]] = {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for message in messages:
            for index, stored_name in enumerate(_stored_files(message)):
                arcname = f"attachments/{message.pk}/{index}-{posixpath.basename(stored_name)}"
                try:
                    with default_storage.open(stored_name, "rb") as handle:
                        archive.writestr(arcname, handle.read())
                except OSError:
                    logger.warning("Export of contact %s: a kept file is missing", contact.pk)
                    continue
                files.setdefault(message.pk, []).append(arcname)
        document = {
            "format": EXPORT_FORMAT_VERSION,
            "profile": {
                "id": contact.pk,
                "psid": contact.psid,
                "name": contact_name(contact),
                "display_name": contact.display_name,
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "avatar_url": contact.avatar_url,
                "locale": contact.locale,
                "page": {"id": contact.page.page_id, "name": contact.page.name},
                "is_blocked": contact.is_blocked,
                "created_at": contact.created_at,
            },
            "conversations": [
                {
                    "id": conversation.pk,
                    "state": conversation.state,
                    "created_at": conversation.created_at,
                    "last_message_at": conversation.last_message_at,
                    "messages": [
                        {
                            "id": message.pk,
                            "direction": message.direction,
                            "source": message.source,
                            "kind": message.kind,
                            "text": message.text,
                            "sent_at": message.sent_at,
                            "status": message.status,
                            "attachments": [
                                {key: value for key, value in item.items() if key != "stored_name"}
                                for item in message.attachments or []
                            ],
                            "files": files.get(message.pk, []),
                            "postback_title": message.postback_title,
                            "reactions": message.reactions,
                        }
                        for message in messages
                        if message.conversation_id == conversation.pk
                    ],
                    "notes": [
                        {"id": note.pk, "author": note.author_name, "body": note.body, "created_at": note.created_at}
                        for note in notes
                        if note.conversation_id == conversation.pk
                    ],
                }
                for conversation in conversations
            ],
            "tickets": [
                {
                    "id": ticket.pk,
                    "conversation_id": ticket.conversation_id,
                    "subject": ticket.subject,
                    "description": ticket.description,
                    "state": ticket.state,
                    "priority": ticket.priority,
                    "created_at": ticket.created_at,
                }
                for ticket in tickets
            ],
        }
        archive.writestr("contact.json", json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2))
    audit_event(
        organization_id=organization.pk,
        event="contact_exported",
        instance=contact,
        object_repr=_contact_reference(contact),
        detail={"conversations": len(conversations), "messages": len(messages), "tickets": len(tickets)},
        actor=acting_user,
    )
    return ContactExport(file_name=f"contact-{contact.pk}.zip", content=buffer.getvalue())


def erase_confirmed(*, contact: Contact, confirm: bool, typed_name: str) -> bool:
    """A ticked box, or the contact's name typed as shown (blank-insensitive)."""
    return confirm or (bool(typed_name.strip()) and typed_name.strip() == contact_name(contact).strip())


def _mentions(
    *,
    organization: Organization,
    contact: Contact,
    conversations: list[Conversation],
    messages: QuerySet[Message],
    tickets: QuerySet[Ticket],
) -> Mentions:
    """What tells of the contact in an answer the API keeps (helpdesk.idempotency): their id
    on the page and name, what was written in their conversations and tickets, and the ids of
    those records."""
    texts: list[str] = [conversation.last_message_preview for conversation in conversations]
    for text, postback_title in messages.values_list("text", "postback_title"):
        texts += [text, postback_title]
    conversation_ids = [conversation.pk for conversation in conversations]
    texts += Note.objects.filter(organization=organization, conversation_id__in=conversation_ids).values_list(
        "body", flat=True
    )
    for subject, description in tickets.values_list("subject", "description"):
        texts += [subject, description]
    return Mentions(
        needles=[contact.psid, contact.display_name, contact.first_name, contact.last_name, contact.avatar_url],
        texts=texts,
        ids={
            "contact": [contact.pk],
            "conversation": conversation_ids,
            "message": list(messages.values_list("pk", flat=True)),
            "ticket": list(tickets.values_list("pk", flat=True)),
        },
    )


@transaction.atomic
def contact_erase(
    *, organization: Organization, acting_user: Any, contact: Contact, confirmed: bool, now: datetime
) -> dict[str, int]:
    """Erase the customer's words, files and profile; keep the counted stubs. Returns counts."""
    if contact.organization_id != organization.pk:
        raise NotFound
    if not confirmed:
        raise ErasureNotConfirmed
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    conversations = _conversations(organization=organization, contact=contact)
    conversation_ids = [conversation.pk for conversation in conversations]
    messages = Message.objects.filter(organization=organization, conversation_id__in=conversation_ids)
    stored = [name for message in messages.only("attachments") for name in _stored_files(message)]
    mids = [mid for mid in messages.exclude(mid__isnull=True).values_list("mid", flat=True) if mid]
    tickets = Ticket.objects.filter(organization=organization, contact=contact)
    # Read before the words go: the API's kept answers that quote them go too.
    mentions = _mentions(
        organization=organization, contact=contact, conversations=conversations, messages=messages, tickets=tickets
    )
    message_count = messages.update(
        text="",
        attachments=[],
        sticker_id="",
        quick_reply_payload="",
        quick_replies=None,
        postback_title="",
        postback_payload="",
        reactions={},
        error_message="",
    )
    MessageSearchText.objects.filter(organization=organization, conversation_id__in=conversation_ids).delete()
    Conversation.objects.filter(pk__in=conversation_ids).update(last_message_preview="")
    Note.objects.filter(organization=organization, conversation_id__in=conversation_ids).update(body="")
    # A forwarding's note may quote the customer; the names in other events are the team's.
    for event in ConversationEvent.objects.filter(
        organization=organization, conversation_id__in=conversation_ids, data__has_key="note"
    ):
        event.data = {**event.data, "note": ""}
        event.save(update_fields=["data"])
    ticket_ids = list(tickets.values_list("pk", flat=True))
    ticket_count = tickets.update(subject="", description="")
    TicketEvent.objects.filter(
        organization=organization, ticket_id__in=ticket_ids, kind=TicketEvent.Kind.SUBJECT_CHANGED
    ).update(data={})
    Survey.objects.filter(organization=organization, conversation_id__in=conversation_ids).update(comment="")
    raw = Q(payload__icontains=contact.psid)
    if mids:
        raw |= Q(mid__in=mids)
    WebhookEvent.objects.filter(organization=organization, page_id=contact.page.page_id).filter(raw).delete()
    ConversationReferral.objects.filter(organization=organization, conversation_id__in=conversation_ids).delete()
    # Outgoing webhooks keep each event's body (the message, conversation or ticket as the API
    # shows it) for their delivery log and retries: those events go, deliveries with them.
    message_ids = list(messages.values_list("pk", flat=True))
    OutgoingEvent.objects.filter(organization=organization).filter(
        Q(conversation_id__in=conversation_ids)
        | Q(resource=signals.MESSAGE, resource_id__in=message_ids)
        | Q(resource=signals.TICKET, resource_id__in=ticket_ids)
        | Q(resource=signals.CONVERSATION, resource_id__in=conversation_ids)
    ).delete()
    idempotency_replies_erase(organization=organization, mentions=mentions)
    if contact.avatar_stored_name:
        stored.append(contact.avatar_stored_name)
    contact.display_name = ""
    contact.first_name = ""
    contact.last_name = ""
    contact.avatar_url = ""
    contact.avatar_stored_name = ""
    contact.locale = ""
    # Fetched, nothing to retry or refresh: the jobs do not ask Facebook for it again.
    contact.profile_fetched_at = now
    contact.profile_retry_at = None
    contact.avatar_fetched_at = None
    contact.save(
        update_fields=[
            "display_name",
            "first_name",
            "last_name",
            "avatar_url",
            "avatar_stored_name",
            "locale",
            "profile_fetched_at",
            "profile_retry_at",
            "avatar_fetched_at",
        ]
    )
    # The apps above (contacts: the notes about the contact) erase what they hold.
    contact_erased.send(sender=None, organization_id=organization.pk, contact_id=contact.pk)
    counts = {"conversations": len(conversation_ids), "messages": message_count, "tickets": ticket_count, "files": 0}
    audit_event(
        organization_id=organization.pk,
        event="contact_erased",
        instance=contact,
        object_repr=_contact_reference(contact),
        detail=counts,
        actor=acting_user,
    )

    def delete_files() -> None:
        for name in stored:
            try:
                default_storage.delete(name)
            except OSError:
                logger.warning("Erasing contact %s: a kept file could not be deleted", contact.pk)

    # The rows are gone first; the files follow once that is committed (a rollback keeps both).
    transaction.on_commit(delete_files)
    counts["files"] = len(stored)
    return counts
