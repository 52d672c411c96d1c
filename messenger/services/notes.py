"""Private notes of the team in a conversation, and the mentions in them.

A note is not a Message: it is stored in its own table and nothing of the sending path
(messenger.services.sending, the Send API client) takes one, so no note can reach Facebook
whatever a caller forgets. A note is internal: it may be written wherever the member may read
the conversation (closed, a blocked customer's, a disabled or deleted channel's, outside the
reply window).

``@username`` in a note names a member who may see the conversation (the rule read the other
way round: messenger.selectors.visibility.member_list_mentionable). Each is kept as a
NoteMention and told in the app and by email, in their own language and time zone, as their
Preferences allow (helpdesk.alerts); naming anyone else (or nobody) refuses the whole note.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext as _

from helpdesk import alerts
from helpdesk.exceptions import InvalidInput, MentionNotAllowed, NoteEmpty, NoteTooLong, NotFound
from helpdesk.models import Membership, Notification, Organization
from helpdesk.names import name_parts, user_name
from helpdesk.notifications import notification_words, reading_as
from helpdesk.services import Reader, mails_send_after_commit, notification_create
from messenger import mentions, notification_texts
from messenger.conversation_changes import NOTE, conversation_told
from messenger.models import Conversation, Note, NoteMention
from messenger.selectors import conversations as conversation_selectors
from messenger.selectors import visibility as visibility_selectors

NOTE_MAX_LENGTH = 5000
# What a notice quotes of the note.
EXCERPT_LENGTH = 200


def _checked_body(body: str) -> str:
    body = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise NoteEmpty
    if len(body) > NOTE_MAX_LENGTH:
        raise NoteTooLong(limit=NOTE_MAX_LENGTH)
    if "\x00" in body:
        # PostgreSQL text cannot hold one.
        raise InvalidInput(_("Null characters are not allowed."))
    return body


def _mentioned_members(*, organization: Organization, conversation: Conversation, body: str) -> list[Membership]:
    """The members the note names, or MentionNotAllowed naming those who may not be."""
    candidates = mentions.mention_candidates(body)
    if not candidates:
        return []
    allowed = list(
        visibility_selectors.member_list_mentionable(organization=organization, conversation=conversation)
        .annotate(username_lower=Lower("user__username"))
        .filter(username_lower__in=candidates)
    )
    known, unknown = mentions.resolve_mentions(body, usernames=[m.user.get_username() for m in allowed])
    if unknown:
        raise MentionNotAllowed(usernames=unknown)
    by_name = {m.user.get_username(): m for m in allowed}
    return [by_name[name] for name in known]


def conversation_url(*, organization: Organization, conversation: Conversation, note: Note) -> str:
    url = reverse("messenger:conversation", kwargs={"org_slug": organization.slug, "conversation_id": conversation.pk})
    return f"{url}#note-{note.pk}"


@transaction.atomic
def note_add(
    *,
    organization: Organization,
    acting_user: Any,
    membership: Membership,
    conversation: Conversation,
    body: str,
) -> Note:
    """Add a note to a conversation the member may see (callers found it through
    messenger.selectors; asked again here): NotFound otherwise. NoteEmpty, NoteTooLong
    (5,000 characters: a note is never sent, the Send limit does not apply) and
    MentionNotAllowed store nothing."""
    if conversation.organization_id != organization.pk or membership.organization_id != organization.pk:
        raise NotFound
    if membership.user_id != acting_user.pk:
        raise NotFound
    conversation_selectors.conversation_get(
        organization=organization, membership=membership, conversation_id=conversation.pk
    )
    body = _checked_body(body)
    mentioned = _mentioned_members(organization=organization, conversation=conversation, body=body)
    note = Note.objects.create(
        organization=organization,
        conversation=conversation,
        author=acting_user,
        author_name=user_name(acting_user),
        body=body,
    )
    NoteMention.objects.bulk_create(
        [NoteMention(organization=organization, note=note, user_id=member.user_id) for member in mentioned]
    )
    conversation_told(conversation, what=NOTE)
    _notify(
        organization=organization,
        acting_user=acting_user,
        conversation=conversation,
        note=note,
        recipients=[member for member in mentioned if member.user_id != acting_user.pk],
    )
    return note


def _notify(
    *,
    organization: Organization,
    acting_user: Any,
    conversation: Conversation,
    note: Note,
    recipients: list[Membership],
) -> None:
    """An in-app notice to each member named (once per note), and an email after commit in
    their language and time zone."""
    if not recipients:
        return
    excerpt = " ".join(note.body.split())
    if len(excerpt) > EXCERPT_LENGTH:
        excerpt = excerpt[: EXCERPT_LENGTH - 1].rstrip() + "…"
    params = notification_texts.mention_params(
        author=name_parts(acting_user), contact=conversation.contact, excerpt=excerpt
    )
    url = conversation_url(organization=organization, conversation=conversation, note=note)
    notification_create(
        organization=organization,
        user_ids=[member.user_id for member in recipients],
        kind=Notification.Kind.MENTION,
        params=params,
        url=url,
        dedupe_key=f"note-mention:{note.pk}",
    )
    mailing = alerts.wanting(
        organization=organization,
        user_ids=[member.user_id for member in recipients],
        event=alerts.MENTION,
        way=alerts.EMAIL,
    )
    readers = [
        Reader(
            user_id=member.user_id,
            email=member.user.email,
            language=member.language or organization.language,
            time_zone=member.time_zone or organization.time_zone,
        )
        for member in recipients
        if member.user.email and member.user_id in mailing
    ]
    mails = []
    for reader in readers:
        with reading_as(language=reader.language, time_zone=reader.time_zone):
            text = notification_words(Notification.Kind.MENTION, params)
        mails.append(
            (text.title, f"{text.body}\n\n{settings.PUBLIC_URL}{url}\n", settings.DEFAULT_FROM_EMAIL, [reader.email])
        )
    mails_send_after_commit(mails)
