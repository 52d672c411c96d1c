"""The agent inbox: the conversation list, a conversation with its composer, and the actions.

Server-rendered; htmx polls two cheap partials every 2 seconds (the list and the open
transcript), which answer 204 when nothing changed since the version the page holds.
Every read goes through ``messenger.selectors`` (the visibility rule); every write through
``messenger.services``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache
from typing import Any, TypedDict
from urllib.parse import urlencode

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from channels.icons import icon_url
from helpdesk.converters import parse_id
from helpdesk.exceptions import HelpdeskError, NotFound
from helpdesk.models import Organization
from helpdesk.tenancy import TenantRequest, member_required
from messenger import selectors
from messenger.models import Conversation, ConversationEvent, Message
from messenger.reply_window import reply_window
from messenger.services import conversations as conversation_services
from messenger.services import sending
from messenger.views.attachments import display_attachments, safe_url

logger = logging.getLogger(__name__)

PAGE_SIZE = 25
POLL_SECONDS = 2
ROW_TEMPLATE = "messenger/inbox/_conversation_row.html"
ROW_CACHE_SECONDS = 10 * 60


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _optional_url(name: str, **kwargs: Any) -> str:
    """A URL of a higher layer (tickets), or "" while that layer is not installed."""
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return ""


def _digest(parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]


# --- The conversation list -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConversationRow:
    """One line of the list, with everything the template shows already worked out
    (the list is polled every 2 seconds: its rendering stays flat and cheap)."""

    pk: int
    url: str
    name: str
    initial: str
    avatar_url: str
    channel_name: str
    channel_icon_url: str
    channel_deleted: bool
    preview: str
    when_iso: str
    when_text: str
    window_state: str
    window_label: str
    window_short: str
    closed: bool
    blocked: bool
    assignee_name: str
    unread_count: int
    active: bool

    @property
    def signature(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)


def _when_text(when: datetime | None, *, today: date, labels: dict[Any, str]) -> str:
    """Today's messages by their time, older ones by their date (each label formatted once)."""
    if when is None:
        return ""
    local = timezone.localtime(when)
    key: Any = (local.hour, local.minute) if local.date() == today else local.date()
    if key not in labels:
        is_today = isinstance(key, tuple)
        labels[key] = (
            formats.time_format(local, "TIME_FORMAT") if is_today else formats.date_format(local, "SHORT_DATE_FORMAT")
        )
    return labels[key]


def _rows(
    conversations: list[Conversation],
    *,
    conversation_url: str,
    organization_slug: str,
    query: str,
    active_id: int | None,
) -> list[ConversationRow]:
    rows = []
    suffix = f"?{query}" if query else ""
    today = timezone.localdate()
    labels: dict[Any, str] = {}
    for conversation in conversations:
        contact, channel, assignee = conversation.contact, conversation.channel, conversation.assignee
        window = reply_window(conversation.last_inbound_at)
        name = contact.display_name or contact.psid
        rows.append(
            ConversationRow(
                pk=conversation.pk,
                url=conversation_url.replace("/0/", f"/{conversation.pk}/") + suffix,
                name=name,
                initial=name[:1].upper() or "?",
                avatar_url=safe_url(contact.avatar_url),
                channel_name=channel.name,
                channel_icon_url=icon_url(channel, organization_slug=organization_slug),
                channel_deleted=channel.deleted_at is not None,
                preview=conversation.last_message_preview,
                when_iso=conversation.last_message_at.isoformat() if conversation.last_message_at else "",
                when_text=_when_text(conversation.last_message_at, today=today, labels=labels),
                window_state=window.state.value,
                window_label=window.label,
                window_short=window.short_label,
                closed=conversation.state == "closed",
                blocked=contact.is_blocked,
                assignee_name=(assignee.get_full_name() or assignee.get_username()) if assignee else "",
                unread_count=conversation.unread_count,
                active=conversation.pk == active_id,
            )
        )
    return rows


@lru_cache(maxsize=1)
def _row_template_digest() -> str:
    """Part of every cached row's key: a changed template never serves an old row."""
    # The Django backend's template wraps the engine's; the stubs know only the backend-neutral type.
    return _digest(get_template(ROW_TEMPLATE).template.source)  # type: ignore[attr-defined]


def _rows_html(rows: list[ConversationRow]) -> list[SafeString]:
    """Each row's HTML, from the cache when a row with the same content was rendered before.

    The list is polled every 2 seconds by every agent and is mostly unchanged: a row is
    rendered once per (template, language, content) instead of at every poll. Without the
    cache (Redis down) every row is rendered, as before.
    """
    template = get_template(ROW_TEMPLATE)
    prefix = f"inbox-row:{_row_template_digest()}:{get_language()}:"
    keys = [prefix + _digest(row.signature) for row in rows]
    try:
        cached: dict[str, str] | None = cache.get_many(keys)
    except Exception:  # the cache backend's own connection errors
        logger.warning("inbox: the cache is unavailable, rendering every row", exc_info=True)
        cached = None
    fragments: list[SafeString] = []
    rendered: dict[str, str] = {}
    for key, row in zip(keys, rows, strict=True):
        fragment = cached.get(key) if cached is not None else None
        if fragment is None:
            fragment = rendered[key] = template.render({"row": row})
        # Rendered (and escaped) by the template above; the cache is the server's own.
        fragments.append(mark_safe(fragment))  # noqa: S308
    if rendered and cached is not None:
        try:
            cache.set_many(rendered, ROW_CACHE_SECONDS)
        except Exception:
            logger.warning("inbox: the cache is unavailable, rows not kept", exc_info=True)
    return fragments


def _list_context(request: TenantRequest, *, active_id: int | None, params: Any = None) -> dict[str, Any]:
    """``params``: the list's query (filters, cursor); the request's own query unless given."""
    organization, membership = request.organization, request.membership
    params = request.GET if params is None else params
    filters = selectors.ConversationFilters.from_params(params)
    conversations = selectors.conversation_list(organization=organization, membership=membership, filters=filters)
    cursor = params.get("cursor") or None
    page = selectors.conversation_page(conversations, cursor=cursor, page_size=PAGE_SIZE)
    filter_query = urlencode(filters.as_params())
    conversation_url = reverse("messenger:conversation", kwargs={"org_slug": organization.slug, "conversation_id": 0})
    rows = _rows(
        page.conversations,
        conversation_url=conversation_url,
        organization_slug=organization.slug,
        query=filter_query,
        active_id=active_id,
    )
    version = _digest([row.signature for row in rows] + [active_id, page.next_cursor])
    list_params = {**filters.as_params(), **({"active": str(active_id)} if active_id else {})}
    return {
        "filters": filters,
        "filter_query": filter_query,
        "rows": rows,
        "row_html": _rows_html(rows),
        "cursor": cursor,
        "next_cursor": page.next_cursor,
        "list_version": version,
        "list_query": urlencode(list_params),
        "active_id": active_id,
        "poll_seconds": POLL_SECONDS,
    }


@member_required
@require_GET
def inbox(request: TenantRequest) -> HttpResponse:
    context = _list_context(request, active_id=None)
    context["channels"] = selectors.channel_list_visible(
        organization=request.organization, membership=request.membership
    )
    return render(request, "messenger/inbox/inbox.html", context)


@member_required
@require_GET
def inbox_list(request: TenantRequest) -> HttpResponse:
    """The polled partial: 204 when the page already shows this version."""
    active = request.GET.get("active", "")
    active_id = parse_id(active)
    context = _list_context(request, active_id=active_id if active_id > 0 else None)
    if request.GET.get("v") == context["list_version"]:
        return HttpResponse(status=204)
    return render(request, "messenger/inbox/_conversation_list.html", context)


# --- One conversation ------------------------------------------------------------------------


def _conversation_or_404(request: TenantRequest, conversation_id: int) -> Conversation:
    try:
        return selectors.conversation_get(
            organization=request.organization, membership=request.membership, conversation_id=conversation_id
        )
    except NotFound:
        raise Http404 from None


def describe_event(event: ConversationEvent) -> str:
    """A system line, with names as they were at the time."""
    data = event.data or {}
    actor = (event.actor.get_full_name() or event.actor.get_username()) if event.actor else _("The system")
    Kind = ConversationEvent.Kind
    if event.kind == Kind.ASSIGNED:
        return _("%(actor)s assigned the conversation to %(to)s.") % {"actor": actor, "to": data.get("to", "?")}
    if event.kind == Kind.UNASSIGNED:
        if data.get("reason") == conversation_services.UNASSIGNED_LEFT_DEPARTMENT:
            return _(
                "%(actor)s removed %(agent)s from the department %(department)s: the conversation was unassigned."
            ) % {"actor": actor, "agent": data.get("previous", "?"), "department": data.get("department", "?")}
        return _("%(actor)s unassigned the conversation.") % {"actor": actor}
    if event.kind == Kind.FORWARDED:
        if data.get("to_channel"):
            line = _("%(actor)s forwarded the conversation to the channel %(channel)s (%(department)s).") % {
                "actor": actor,
                "channel": data["to_channel"],
                "department": data.get("to_department", ""),
            }
        else:
            line = _("%(actor)s forwarded the conversation to %(to)s.") % {"actor": actor, "to": data.get("to", "?")}
        if data.get("note"):
            line += " " + _("Note: “%(note)s”") % {"note": data["note"]}
        return line
    if event.kind == Kind.CLOSED:
        return _("%(actor)s closed the conversation.") % {"actor": actor}
    if event.kind == Kind.REOPENED:
        return _("%(actor)s reopened the conversation.") % {"actor": actor}
    if event.kind == Kind.BLOCKED:
        return _("%(actor)s blocked the customer.") % {"actor": actor}
    if event.kind == Kind.UNBLOCKED:
        return _("%(actor)s unblocked the customer.") % {"actor": actor}
    if event.kind == Kind.CHANNEL_MOVED:
        line = _("%(actor)s moved the channel %(channel)s from the department %(from)s to %(to)s.") % {
            "actor": actor,
            "channel": data.get("channel", "?"),
            "from": data.get("from_department", "?"),
            "to": data.get("to_department", "?"),
        }
        if data.get("unassigned"):
            line += " " + _("%(agent)s does not answer this channel any more and was unassigned.") % {
                "agent": data["unassigned"]
            }
        return line
    if event.kind == Kind.CONVERTED:
        return _("%(actor)s converted the conversation to a ticket.") % {"actor": actor}
    return str(event.get_kind_display())


def _entry_key(entry: selectors.TranscriptEntry) -> str:
    """The transcript line's key: "m<message id>", or "e<event id>" for a system line."""
    if entry.message is not None:
        return f"m{entry.message.pk}"
    return f"e{entry.event.pk}" if entry.event is not None else ""


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One line of the transcript as the template shows it: the selector's entry with the
    words and addresses worked out (a system line's sentence, a message's attachments to
    show, why a reply failed)."""

    at: datetime
    message: Message | None
    event: ConversationEvent | None
    quoted: Message | None
    description: str = ""
    attachments: tuple[dict[str, Any], ...] = ()
    failure_reason: str = ""


def _transcript_line(entry: selectors.TranscriptEntry, *, organization: Organization) -> TranscriptLine:
    line = TranscriptLine(at=entry.at, message=entry.message, event=entry.event, quoted=entry.quoted)
    if entry.event is not None:
        return replace(line, description=describe_event(entry.event))
    if entry.message is None:
        return line
    message = entry.message
    return replace(
        line,
        attachments=tuple(
            display_attachments(message.attachments, organization_slug=organization.slug, message_id=message.pk)
        ),
        failure_reason=sending.failure_reason(message) if message.status == "failed" else "",
    )


def _transcript_context(request: TenantRequest, conversation: Conversation) -> dict[str, Any]:
    organization = request.organization
    transcript = selectors.conversation_transcript(organization=organization, conversation=conversation)
    lines = [_transcript_line(entry, organization=organization) for entry in transcript.entries]
    window = reply_window(conversation.last_inbound_at)
    refusal = sending.reply_refusal(conversation=conversation)
    contact = conversation.contact
    version = _digest(
        [
            (
                e.message.pk,
                e.message.status,
                e.message.text,
                e.message.edit_count,
                e.message.reactions,
                e.message.attempts,
                e.message.error_code,
                e.message.attachments_tried_at,
                [a.get("stored_name") for a in e.message.attachments if isinstance(a, dict)]
                if isinstance(e.message.attachments, list)
                else None,
            )
            if e.message
            else ("e", e.event.pk if e.event else None)
            for e in transcript.entries
        ]
        + [
            conversation.state,
            conversation.assignee_id,
            conversation.channel_id,
            contact.is_blocked,
            window.label,
            refusal.code if refusal else None,
        ]
    )
    last = transcript.entries[-1] if transcript.entries else None
    return {
        "conversation": conversation,
        "contact": contact,
        "transcript": transcript,
        "lines": lines,
        "window": window,
        "refusal": refusal,
        "transcript_version": version,
        "last_entry_key": _entry_key(last) if last else "",
        "max_length": sending.MAX_TEXT_LENGTH,
        "poll_seconds": POLL_SECONDS,
    }


@member_required
@require_GET
def conversation_detail(request: TenantRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    conversation_services.conversation_mark_read(
        organization=request.organization, acting_user=request.user, conversation=conversation
    )
    return _conversation_page(request, conversation)


def _conversation_page(
    request: TenantRequest, conversation: Conversation, *, params: Any = None, draft: str = "", status: int = 200
) -> HttpResponse:
    """The whole conversation page; ``draft``: what stays in the composer."""
    organization, membership = request.organization, request.membership
    context = _list_context(request, active_id=conversation.pk, params=params)
    context.update(_transcript_context(request, conversation))
    context.update(
        {
            "channels": selectors.channel_list_visible(organization=organization, membership=membership),
            "assignable": selectors.member_list_assignable(
                organization=organization, channel_id=conversation.channel_id
            ),
            "forward_channels": selectors.channel_list_forward_targets(
                organization=organization, conversation=conversation
            ),
            "convert_url": _optional_url(
                "tickets:convert", org_slug=organization.slug, conversation_id=conversation.pk
            ),
            "contact_tickets_url": _optional_url(
                "tickets:contact_tickets", org_slug=organization.slug, contact_id=conversation.contact_id
            ),
            "draft": draft,
        }
    )
    return render(request, "messenger/inbox/conversation.html", context, status=status)


@member_required
@require_GET
def conversation_transcript(request: TenantRequest, conversation_id: int) -> HttpResponse:
    """The polled partial of an open conversation: 204 when nothing changed."""
    conversation = _conversation_or_404(request, conversation_id)
    if conversation.unread_count:
        # The agent is looking at it: what just arrived is read.
        conversation_services.conversation_mark_read(
            organization=request.organization, acting_user=request.user, conversation=conversation
        )
    context = _transcript_context(request, conversation)
    if request.GET.get("v") == context["transcript_version"]:
        return HttpResponse(status=204)
    context["announce"] = request.GET.get("last", "") not in ("", context["last_entry_key"])
    context["partial"] = True
    return render(request, "messenger/inbox/_transcript.html", context)


def _back_to(request: TenantRequest, conversation_id: int) -> HttpResponse:
    url = reverse(
        "messenger:conversation", kwargs={"org_slug": request.organization.slug, "conversation_id": conversation_id}
    )
    query = request.POST.get("filters", "")
    return redirect(f"{url}?{query}" if query else url)


@member_required
@require_POST
def conversation_send(request: TenantRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    upload = request.FILES.get("file")
    text = request.POST.get("text", "")
    try:
        sending.reply_send(
            organization=request.organization,
            acting_user=request.user,
            conversation=conversation,
            text=text,
            upload=upload,
        )
    except HelpdeskError as error:
        if _is_htmx(request):
            response = render(
                request, "messenger/inbox/_composer_feedback.html", {"error": error.message}, status=error.status
            )
            response["HX-Retarget"] = "#composer-feedback"
            response["HX-Reswap"] = "innerHTML"
            return response
        # Without JavaScript: the page again, with what the agent wrote still in the composer.
        messages.error(request, str(error.message))
        filters = QueryDict(request.POST.get("filters", ""))
        return _conversation_page(request, conversation, params=filters, draft=text, status=error.status)
    if _is_htmx(request):
        context = {**_transcript_context(request, conversation), "partial": True}
        return render(request, "messenger/inbox/_transcript.html", context)
    return _back_to(request, conversation.pk)


@member_required
@require_POST
def conversation_typing(request: TenantRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    if sending.reply_refusal(conversation=conversation) is None:
        conversation_services.conversation_typing(
            organization=request.organization, acting_user=request.user, conversation=conversation
        )
    return HttpResponse(status=204)


def _int_or_none(value: str | None) -> int | None:
    """An id posted by a form; None for nothing, or for junk (which then matches nobody)."""
    if not value:
        return None
    return parse_id(value)


ACTION_DONE = {
    "assign": gettext_lazy("Assignment saved."),
    "forward": gettext_lazy("Conversation forwarded."),
    "close": gettext_lazy("Conversation closed."),
    "reopen": gettext_lazy("Conversation reopened."),
    "block": gettext_lazy("Customer blocked."),
    "unblock": gettext_lazy("Customer unblocked."),
}


class _ActionArguments(TypedDict):
    """What every conversation action of the services takes."""

    organization: Organization
    acting_user: Any
    conversation: Conversation


@member_required
@require_POST
def conversation_action(request: TenantRequest, conversation_id: int, action: str) -> HttpResponse:
    organization = request.organization
    conversation = _conversation_or_404(request, conversation_id)
    common: _ActionArguments = {"organization": organization, "acting_user": request.user, "conversation": conversation}
    try:
        if action == "assign":
            conversation_services.conversation_assign(
                **common, assignee_membership_id=_int_or_none(request.POST.get("assignee"))
            )
        elif action == "forward":
            target = request.POST.get("to", "")
            kind, _sep, target_id = target.partition(":")
            conversation_services.conversation_forward(
                **common,
                to_membership_id=_int_or_none(target_id) if kind == "member" else None,
                to_channel_id=_int_or_none(target_id) if kind == "channel" else None,
                note=request.POST.get("note", ""),
            )
        elif action == "close":
            conversation_services.conversation_close(**common)
        elif action == "reopen":
            conversation_services.conversation_reopen(**common)
        elif action == "block":
            conversation_services.contact_block(**common)
        elif action == "unblock":
            conversation_services.contact_unblock(**common)
        else:
            raise Http404
    except HelpdeskError as error:
        messages.error(request, str(error.message))
        return _back_to(request, conversation.pk)
    messages.success(request, str(ACTION_DONE[action]))
    try:
        # Forwarded to a channel this agent does not see: back to the inbox.
        selectors.conversation_get(
            organization=organization, membership=request.membership, conversation_id=conversation.pk
        )
    except NotFound:
        return redirect("messenger:inbox", org_slug=organization.slug)
    return _back_to(request, conversation.pk)


@member_required
@require_POST
def message_retry(request: TenantRequest, message_id: int) -> HttpResponse:
    organization = request.organization
    try:
        message = selectors.message_get(organization=organization, membership=request.membership, message_id=message_id)
    except NotFound:
        raise Http404 from None
    conversation = _conversation_or_404(request, message.conversation_id)
    try:
        sending.message_retry(organization=organization, acting_user=request.user, message=message)
    except HelpdeskError as error:
        if _is_htmx(request):
            response = render(
                request, "messenger/inbox/_composer_feedback.html", {"error": error.message}, status=error.status
            )
            response["HX-Retarget"] = "#composer-feedback"
            response["HX-Reswap"] = "innerHTML"
            return response
        messages.error(request, str(error.message))
        return _back_to(request, conversation.pk)
    if _is_htmx(request):
        context = {**_transcript_context(request, conversation), "partial": True}
        return render(request, "messenger/inbox/_transcript.html", context)
    messages.success(request, _("The message is being sent again."))
    return _back_to(request, conversation.pk)
