"""Writing canned responses (who may write which, shortcuts, texts, files) and using one in a
conversation (its text filled in, its files as kept-file tokens, the use counted)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from canned import selectors, variables
from canned.models import (
    SHORTCUT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    CannedAttachment,
    CannedResponse,
    CannedResponseUse,
    CannedScope,
)
from channels import message_text
from helpdesk.exceptions import InvalidInput, NotFound, PermissionDenied, ShortcutTaken
from helpdesk.models import Department, Membership, Organization
from messenger.models import Conversation
from messenger.services.sending.kept_files import kept_file_token
from messenger.services.sending.reply_files import StoredAttachment, store_attachment
from tickets.models import ACTIVE_STATES, Ticket

# Letters (any script), digits, "-" and "_": typed after "/" in the composer.
_SHORTCUT = re.compile(r"^[\w-]+$")
MAX_ATTACHMENTS = 3
# As written, before variables are filled in (filling them may make it longer: the
# composer then says so, and the send refuses it as any reply over the limit).
BODY_MAX_LENGTH = message_text.MAX_TEXT_LENGTH
STORAGE_PREFIX = "canned"


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, details={field: [message]})


def shortcut_clean(value: str) -> str:
    """The shortcut as stored: without the leading slash; letters, digits, - and _ only."""
    shortcut = str(value or "").strip().lstrip("/")
    if not shortcut:
        raise _invalid("shortcut", _("Enter a shortcut."))
    if len(shortcut) > SHORTCUT_MAX_LENGTH:
        raise _invalid(
            "shortcut", _("A shortcut can be at most %(count)s characters.") % {"count": SHORTCUT_MAX_LENGTH}
        )
    if not _SHORTCUT.match(shortcut):
        raise _invalid("shortcut", _("A shortcut holds only letters, digits, - and _ (no spaces)."))
    return shortcut


def _title_clean(value: str) -> str:
    title = " ".join(str(value or "").split())
    if not title:
        raise _invalid("title", _("Enter a title."))
    if len(title) > TITLE_MAX_LENGTH:
        raise _invalid("title", _("A title can be at most %(count)s characters.") % {"count": TITLE_MAX_LENGTH})
    return title


def _body_clean(value: str, field: str) -> str:
    body = message_text.normalize_text(str(value or ""))
    if message_text.text_length(body) > BODY_MAX_LENGTH:
        raise _invalid(field, _("A text can be at most %(count)s characters.") % {"count": f"{BODY_MAX_LENGTH:,}"})
    variables.variables_check(body, field=field)
    return body


def search_text_for(canned_response: CannedResponse) -> str:
    parts = (canned_response.shortcut, canned_response.title, canned_response.body_en, canned_response.body_ja)
    return "\n".join(parts).lower()


def _scope_check(
    *, organization: Organization, membership: Membership, scope: str, department_id: int | None
) -> Department | None:
    """The department of a department-scoped response; refuses what the member may not create."""
    if scope not in CannedScope.values:
        raise _invalid("scope", _("Choose who shares this canned response."))
    if scope != CannedScope.PERSONAL and not membership.is_admin:
        raise PermissionDenied(_("Only admins manage shared canned responses; yours are under “Only me”."))
    if scope != CannedScope.DEPARTMENT:
        return None
    department = Department.objects.filter(organization=organization, pk=department_id or -1).first()
    if department is None:
        raise _invalid("department", _("Choose a department."))
    return department


def _save(canned_response: CannedResponse, **kwargs: Any) -> None:
    canned_response.search_text = search_text_for(canned_response)
    try:
        with transaction.atomic():
            canned_response.save(**kwargs)
    except IntegrityError:
        raise ShortcutTaken(details={"shortcut": [str(ShortcutTaken.default_message)]}) from None


def _shortcut_free_check(canned_response: CannedResponse) -> None:
    """The friendly refusal before the database's (which stays the guard against races)."""
    same_scope = CannedResponse.objects.filter(
        organization_id=canned_response.organization_id,
        scope=canned_response.scope,
        shortcut__iexact=canned_response.shortcut,
    ).exclude(pk=canned_response.pk)
    if canned_response.scope == CannedScope.DEPARTMENT:
        same_scope = same_scope.filter(department=canned_response.department)
    elif canned_response.scope == CannedScope.PERSONAL:
        same_scope = same_scope.filter(owner=canned_response.owner)
    if same_scope.exists():
        raise ShortcutTaken(details={"shortcut": [str(ShortcutTaken.default_message)]})


def _fill(
    canned_response: CannedResponse,
    *,
    organization: Organization,
    membership: Membership,
    scope: str,
    department_id: int | None,
    shortcut: str,
    title: str,
    body_en: str,
    body_ja: str,
) -> None:
    department = _scope_check(
        organization=organization, membership=membership, scope=scope, department_id=department_id
    )
    canned_response.scope = scope
    canned_response.department = department
    if scope == CannedScope.PERSONAL:
        # Someone else's own response is never reached (may_manage); one's own stays one's own.
        canned_response.owner = membership
    else:
        canned_response.owner = None
    canned_response.shortcut = shortcut_clean(shortcut)
    canned_response.title = _title_clean(title)
    canned_response.body_en = _body_clean(body_en, "body_en")
    canned_response.body_ja = _body_clean(body_ja, "body_ja")
    if not canned_response.body_en and not canned_response.body_ja:
        raise _invalid("body_en", _("Write the text in English, in Japanese, or in both."))
    _shortcut_free_check(canned_response)


def canned_response_create(
    *,
    organization: Organization,
    membership: Membership,
    acting_user: Any,
    scope: str,
    shortcut: str,
    title: str,
    body_en: str = "",
    body_ja: str = "",
    department_id: int | None = None,
) -> CannedResponse:
    """A new canned response. Agents create their own (scope personal) only: 403 otherwise."""
    canned_response = CannedResponse(organization=organization, created_by=acting_user)
    _fill(
        canned_response,
        organization=organization,
        membership=membership,
        scope=scope,
        department_id=department_id,
        shortcut=shortcut,
        title=title,
        body_en=body_en,
        body_ja=body_ja,
    )
    _save(canned_response)
    return canned_response


def _manage_check(*, organization: Organization, membership: Membership, canned_response: CannedResponse) -> None:
    if canned_response.organization_id != organization.pk:
        raise NotFound
    if not selectors.may_manage(membership=membership, canned_response=canned_response):
        raise PermissionDenied(_("Only admins manage shared canned responses."))


def canned_response_update(
    *,
    organization: Organization,
    membership: Membership,
    canned_response: CannedResponse,
    **changes: Any,
) -> CannedResponse:
    """Change what is given (scope, department_id, shortcut, title, body_en, body_ja)."""
    _manage_check(organization=organization, membership=membership, canned_response=canned_response)
    current = {
        "scope": canned_response.scope,
        "department_id": canned_response.department_id,
        "shortcut": canned_response.shortcut,
        "title": canned_response.title,
        "body_en": canned_response.body_en,
        "body_ja": canned_response.body_ja,
    }
    unknown = set(changes) - set(current)
    if unknown:
        raise TypeError(f"unknown fields: {sorted(unknown)}")
    _fill(canned_response, organization=organization, membership=membership, **{**current, **changes})
    _save(canned_response)
    return canned_response


def canned_response_delete(
    *, organization: Organization, membership: Membership, canned_response: CannedResponse
) -> None:
    """Delete it and its files (messages already sent keep their own copies)."""
    _manage_check(organization=organization, membership=membership, canned_response=canned_response)
    stored_names = list(canned_response.attachments.values_list("stored_name", flat=True))
    canned_response.delete()

    def files_delete() -> None:
        for name in stored_names:
            default_storage.delete(name)

    transaction.on_commit(files_delete)


def canned_attachment_add(
    *, organization: Organization, membership: Membership, canned_response: CannedResponse, upload: UploadedFile
) -> CannedAttachment:
    """Keep a file with the response (checked as an agent's outbound file); at most three."""
    _manage_check(organization=organization, membership=membership, canned_response=canned_response)
    if canned_response.attachments.count() >= MAX_ATTACHMENTS:
        raise _invalid("file", _("A canned response can carry at most %(count)s files.") % {"count": MAX_ATTACHMENTS})
    stored = store_attachment(organization=organization, upload=upload, prefix=STORAGE_PREFIX)
    return CannedAttachment.objects.create(
        organization=organization,
        canned_response=canned_response,
        stored_name=stored.stored_name,
        title=stored.title,
        size=stored.size,
        content_type=stored.content_type,
        type=stored.type,
    )


def canned_attachment_remove(
    *, organization: Organization, membership: Membership, canned_response: CannedResponse, attachment_id: Any
) -> None:
    _manage_check(organization=organization, membership=membership, canned_response=canned_response)
    attachment = canned_response.attachments.filter(pk=selectors.as_id(attachment_id)).first()
    if attachment is None:
        raise NotFound
    stored_name = attachment.stored_name
    attachment.delete()
    transaction.on_commit(lambda: default_storage.delete(stored_name))


# --- Using one in a conversation -------------------------------------------------------------


def body_language(*, canned_response: CannedResponse, contact_locale: str, organization_language: str) -> str:
    """The language of the text sent: the customer's (Facebook's locale) when known, else the
    organization's; when only one text is written, that one."""
    if not canned_response.body_ja:
        return "en"
    if not canned_response.body_en:
        return "ja"
    if contact_locale:
        return "ja" if contact_locale.lower().startswith("ja") else "en"
    return "ja" if organization_language.lower().startswith("ja") else "en"


@dataclass(frozen=True, slots=True)
class RenderedAttachment:
    title: str
    kept_file: str


@dataclass(frozen=True, slots=True)
class RenderedResponse:
    text: str
    language: str
    length: int
    too_long: bool
    attachments: list[RenderedAttachment]

    @property
    def excess(self) -> int:
        return max(0, self.length - message_text.MAX_TEXT_LENGTH)


def _active_ticket_number(*, organization: Organization, conversation: Conversation) -> int | None:
    return (
        Ticket.objects.filter(organization=organization, conversation=conversation, state__in=sorted(ACTIVE_STATES))
        .values_list("pk", flat=True)
        .first()
    )


def canned_response_use(
    *,
    organization: Organization,
    membership: Membership,
    acting_user: Any,
    conversation: Conversation,
    canned_id: Any,
    ticket: Ticket | None = None,
) -> RenderedResponse:
    """The response's text filled in for this conversation, its files as kept-file tokens
    (sent with the reply), and the use counted. Only a response the member may use in a
    conversation they may see (else NotFound).

    ``ticket``: the ticket of this conversation the agent writes from (its page), whose number
    ``{{ticket.number}}`` takes even once it is resolved; without one, the conversation's open
    or pending ticket."""
    if conversation.organization_id != organization.pk:
        raise NotFound
    if ticket is not None and (ticket.organization_id != organization.pk or ticket.conversation_id != conversation.pk):
        raise NotFound
    canned_response = selectors.canned_usable_get(
        organization=organization, membership=membership, conversation=conversation, canned_id=canned_id
    )
    language = body_language(
        canned_response=canned_response,
        contact_locale=conversation.contact.locale,
        organization_language=organization.language,
    )
    body = canned_response.body_ja if language == "ja" else canned_response.body_en
    text = variables.render(
        body,
        conversation,
        acting_user,
        language=language,
        ticket_number=ticket.pk
        if ticket is not None
        else _active_ticket_number(organization=organization, conversation=conversation),
    )
    text = message_text.normalize_text(text)
    length = message_text.text_length(text)
    attachments = [
        RenderedAttachment(
            title=attachment.title,
            kept_file=kept_file_token(
                organization=organization,
                stored=StoredAttachment(
                    type=attachment.type,
                    stored_name=attachment.stored_name,
                    title=attachment.title,
                    size=attachment.size,
                    content_type=attachment.content_type,
                ),
            ),
        )
        for attachment in canned_response.attachments.all()
    ]
    with transaction.atomic():
        CannedResponse.objects.filter(pk=canned_response.pk).update(
            usage_count=F("usage_count") + 1, last_used_at=timezone.now()
        )
        CannedResponseUse.objects.create(
            organization=organization,
            canned_response=canned_response,
            user=acting_user if getattr(acting_user, "is_authenticated", False) else None,
            conversation=conversation,
        )
    return RenderedResponse(
        text=text,
        language=language,
        length=length,
        too_long=length > message_text.MAX_TEXT_LENGTH,
        attachments=attachments,
    )
