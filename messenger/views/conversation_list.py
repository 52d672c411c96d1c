"""The inbox's conversation list: the inbox page and its polled partial.

The list is polled every ``POLL_SECONDS`` by every agent and is mostly unchanged: each row
is worked out into a flat ``ConversationRow`` and its HTML is cached by content. Reads go
through ``messenger.selectors`` (the visibility rule and the filters).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from channels.icons import icon_url
from channels.models import Channel
from helpdesk import datetimes
from helpdesk.converters import parse_id
from helpdesk.names import user_name
from helpdesk.tenancy import TenantRequest, member_required
from labels import selectors as label_selectors
from messenger.contact_names import contact_name
from messenger.conversation_order import DEFAULT_VIEW, ConversationSort, ConversationView
from messenger.models import Conversation, ConversationState, MessageStatus
from messenger.reply_window import remaining_text, reply_window
from messenger.selectors import conversations as conversation_selectors
from messenger.selectors import filters as filter_selectors
from messenger.selectors import visibility as visibility_selectors
from messenger.services.conversations import read_state
from messenger.views.avatars import kept_avatar_url
from messenger.views.polling import POLL_SECONDS, digest
from messenger.views.saved_views import saved_views_context
from messenger.window_alerts import AlertLeads, conversation_window_closing
from sla.display import SlaBadge, sla_badge

logger = logging.getLogger(__name__)

PAGE_SIZE = 25
ROW_TEMPLATE = "messenger/inbox/_conversation_row.html"
# What the row includes: its cached HTML is as old as the newest of them.
ROW_INCLUDES = ("sla/_badge.html",)
ROW_CACHE_SECONDS = 10 * 60

VIEW_LABELS = {
    ConversationView.MINE: gettext_lazy("Mine"),
    ConversationView.UNASSIGNED: gettext_lazy("Unassigned"),
    ConversationView.ALL: gettext_lazy("All"),
}
SORT_LABELS = {
    ConversationSort.NEWEST: gettext_lazy("Newest activity"),
    ConversationSort.WAITING: gettext_lazy("Longest waiting"),
    ConversationSort.WINDOW_CLOSING: gettext_lazy("Reply window closing soonest"),
}


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
    when_title: str
    window_state: str
    window_label: str
    window_short: str
    # "Window closing · 1 h" and its long words: an unanswered customer whose window is about
    # to close (messenger.window_alerts), else empty.
    window_closing_short: str
    window_closing_label: str
    closed: bool
    blocked: bool
    assignee_name: str
    # "Waiting 12 min": an open conversation whose customer waits for an answer (else empty).
    waiting_text: str
    unread_count: int
    last_message_failed: bool
    active: bool
    # The conversation's labels as (name, colour), by name (conversation_selectors.with_labels).
    labels: tuple[tuple[str, str], ...] = ()
    # The running SLA response target's badge (sla.display), None without one.
    sla: SlaBadge | None = None

    @property
    def signature(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)


def _when_texts(when: datetime | None, *, now: datetime, labels: dict[Any, tuple[str, str]]) -> tuple[str, str]:
    """How long ago the last message was ("5 min ago", the date past a week) and its absolute
    time (the title), through helpdesk.datetimes; each minute's labels worked out once."""
    if when is None:
        return "", ""
    key = when.replace(second=0, microsecond=0)
    if key not in labels:
        labels[key] = (datetimes.relative_text(when, now=now), datetimes.datetime_text(when))
    return labels[key]


def _waiting_text(conversation: Conversation, *, now: datetime) -> str:
    if conversation.waiting_since is None or conversation.state != ConversationState.OPEN:
        return ""
    return _("Waiting %(duration)s") % {"duration": remaining_text(now - conversation.waiting_since)}


def _rows(
    conversations: list[Conversation],
    *,
    conversation_url: str,
    organization_slug: str,
    query: str,
    active_id: int | None,
    leads: AlertLeads,
) -> list[ConversationRow]:
    rows = []
    suffix = f"?{query}" if query else ""
    now = timezone.now()
    labels: dict[Any, tuple[str, str]] = {}
    for conversation in conversations:
        contact, channel, assignee = conversation.contact, conversation.channel, conversation.assignee
        window = reply_window(conversation.last_inbound_at, now=now)
        closing = conversation_window_closing(conversation, leads=leads, now=now)
        name = contact_name(contact)
        when_text, when_title = _when_texts(conversation.last_message_at, now=now, labels=labels)
        rows.append(
            ConversationRow(
                pk=conversation.pk,
                url=conversation_url.replace("/0/", f"/{conversation.pk}/") + suffix,
                name=name,
                initial=name[:1].upper() or "?",
                avatar_url=kept_avatar_url(contact, organization_slug=organization_slug),
                channel_name=channel.name,
                channel_icon_url=icon_url(channel, organization_slug=organization_slug),
                channel_deleted=channel.deleted_at is not None,
                preview=conversation.last_message_preview,
                when_iso=conversation.last_message_at.isoformat() if conversation.last_message_at else "",
                when_text=when_text,
                when_title=when_title,
                window_state=window.state.value,
                window_label=window.label,
                window_short=window.short_label,
                window_closing_short=closing.short_label if closing else "",
                window_closing_label=closing.label if closing else "",
                closed=conversation.state == "closed",
                blocked=contact.is_blocked,
                assignee_name=user_name(assignee),
                waiting_text=_waiting_text(conversation, now=now),
                unread_count=conversation.unread_count,
                # Annotated by conversation_selectors.with_last_message_status.
                last_message_failed=getattr(conversation, "last_message_status", None) == MessageStatus.FAILED,
                active=conversation.pk == active_id,
                labels=tuple((label.name, label.color) for label in getattr(conversation, "label_list", ())),
                sla=sla_badge(conversation.response_sla(now=now)),
            )
        )
    return rows


@lru_cache(maxsize=1)
def _row_template_digest() -> str:
    """Part of every cached row's key: a changed template (or one it includes) never serves an old row."""
    # The Django backend's template wraps the engine's; the stubs know only the backend-neutral type.
    return digest([get_template(name).template.source for name in (ROW_TEMPLATE, *ROW_INCLUDES)])  # type: ignore[attr-defined]


def _rows_html(rows: list[ConversationRow]) -> list[SafeString]:
    """Each row's HTML, from the cache when a row with the same content was rendered before.

    The list is polled every 2 seconds by every agent and is mostly unchanged: a row is
    rendered once per (template, language, content) instead of at every poll. Without the
    cache (Redis down) every row is rendered, as before.
    """
    template = get_template(ROW_TEMPLATE)
    prefix = f"inbox-row:{_row_template_digest()}:{get_language()}:"
    keys = [prefix + digest(row.signature) for row in rows]
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


def _mark_open_conversation_read(request: TenantRequest, conversations: list[Conversation], active_id: int) -> None:
    """The agent has this conversation open: what arrived in it is read, whichever of the
    page's two polls (this list, or the transcript) sees it first. No query unless unread."""
    for conversation in conversations:
        if conversation.pk == active_id and conversation.unread_count:
            read_state.conversation_mark_read(
                organization=request.organization, acting_user=request.user, conversation=conversation
            )


def conversation_list_context(
    request: TenantRequest,
    *,
    active_id: int | None,
    params: Any = None,
    active_is_open: bool = False,
    channels: Iterable[Channel] = (),
) -> dict[str, Any]:
    """What the list's templates show (the inbox page, the polled partial, and the list beside
    an open conversation); ``params``: the list's query (filters, cursor), the request's own
    query unless given; ``active_is_open``: the request comes from the page of the active
    conversation (its polled list), which is then read; ``channels``: the member's channels,
    when the page reads them anyway (its channel menu)."""
    organization, membership = request.organization, request.membership
    params = request.GET if params is None else params
    filters = filter_selectors.ConversationFilters.from_params(params)
    conversations = conversation_selectors.with_last_message_status(
        conversation_selectors.conversation_list(organization=organization, membership=membership, filters=filters)
    )
    cursor = params.get("cursor") or None
    page = conversation_selectors.conversation_page(
        conversations, cursor=cursor, page_size=PAGE_SIZE, sort=filters.sort, channels=channels
    )
    counts = conversation_selectors.conversation_counts(organization=organization, membership=membership)
    saved = saved_views_context(request, current=filters.as_params())
    if active_is_open and active_id is not None:
        _mark_open_conversation_read(request, page.conversations, active_id)
    filter_query = urlencode(filters.as_params())
    conversation_url = reverse("messenger:conversation", kwargs={"org_slug": organization.slug, "conversation_id": 0})
    rows = _rows(
        page.conversations,
        conversation_url=conversation_url,
        organization_slug=organization.slug,
        query=filter_query,
        active_id=active_id,
        leads=AlertLeads.of(organization),
    )
    saved_counts = [(entry.view.pk, entry.count) for entry in saved["saved_views"]]
    version = digest([row.signature for row in rows] + [active_id, page.next_cursor, counts, saved_counts])
    list_params = {**filters.as_params(), **({"active": str(active_id)} if active_id else {})}
    return {
        "filters": filters,
        "view_tabs": _view_tabs(filters, counts=counts),
        "sort_choices": [(sort.value, label) for sort, label in SORT_LABELS.items()],
        "filter_query": filter_query,
        "rows": rows,
        "row_html": _rows_html(rows),
        "cursor": cursor,
        "next_cursor": page.next_cursor,
        "list_version": version,
        "list_query": urlencode(list_params),
        "active_id": active_id,
        "poll_seconds": POLL_SECONDS,
        **saved,
    }


@dataclass(frozen=True, slots=True)
class ViewTab:
    view: str
    label: str
    count: int
    # The inbox with this view and the list's other filters and sort (from the first page).
    query: str
    active: bool


def _view_tabs(
    filters: filter_selectors.ConversationFilters, *, counts: conversation_selectors.ConversationCounts
) -> list[ViewTab]:
    tabs = []
    for view, label in VIEW_LABELS.items():
        # The views replace the assignee menu of old links: a tab drops its filter.
        params = {**filters.as_params(), "view": view.value}
        params.pop("assignee", None)
        if view == DEFAULT_VIEW:
            del params["view"]
        tabs.append(
            ViewTab(
                view=view.value,
                label=str(label),
                count=getattr(counts, view.value),
                query=urlencode(params),
                active=filters.view == view,
            )
        )
    return tabs


@member_required
@require_GET
def inbox(request: TenantRequest) -> HttpResponse:
    # Read once: the channel menu, and each row's channel.
    channels = list(
        visibility_selectors.channel_list_visible(organization=request.organization, membership=request.membership)
    )
    context = conversation_list_context(request, active_id=None, channels=channels)
    context["channels"] = channels
    context["filter_labels"] = label_selectors.label_list(organization=request.organization)
    return render(request, "messenger/inbox/inbox.html", context)


@member_required
@require_GET
def inbox_list(request: TenantRequest) -> HttpResponse:
    """The polled partial: 204 when the page already shows this version."""
    active = request.GET.get("active", "")
    active_id = parse_id(active)
    context = conversation_list_context(
        request, active_id=active_id if active_id > 0 else None, active_is_open=active_id > 0
    )
    if request.GET.get("v") == context["list_version"]:
        return HttpResponse(status=204)
    # The views' counts (and the saved views') sit outside the list: the answer updates them out of band.
    context["polled"] = True
    return render(request, "messenger/inbox/_conversation_list.html", context)
