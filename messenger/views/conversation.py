"""One conversation in the inbox: its page (the list beside it, the transcript, the composer
and the contact panel) and the polled partial of its transcript. Opening it marks it read."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from helpdesk.exceptions import ColleagueReplied, NotFound
from helpdesk.tenancy import TenantRequest, member_required
from labels import selectors as label_selectors
from messenger.models import Conversation
from messenger.selectors import conversations as conversation_selectors
from messenger.selectors import visibility as visibility_selectors
from messenger.services.conversations import read_state
from messenger.views.conversation_list import conversation_list_context
from messenger.views.transcript import transcript_context


def _optional_url(name: str, **kwargs: Any) -> str:
    """A URL of a higher layer (tickets), or "" while that layer is not installed."""
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return ""


def conversation_or_404(request: TenantRequest, conversation_id: int) -> Conversation:
    """The conversation if the member may see it (the selectors' rule), else Http404."""
    try:
        return conversation_selectors.conversation_get(
            organization=request.organization, membership=request.membership, conversation_id=conversation_id
        )
    except NotFound:
        raise Http404 from None


def conversation_labels_context(request: TenantRequest, conversation: Conversation) -> dict[str, Any]:
    """The conversation's labels and those that may still be added (two queries)."""
    labels = conversation_selectors.conversation_label_list(
        organization=request.organization, conversation=conversation
    )
    present = {label.pk for label in labels}
    every = list(label_selectors.label_list(organization=request.organization))
    # Every label is also what the inbox's label filter beside it offers (the page's list).
    return {
        "conversation": conversation,
        "conversation_labels": labels,
        "label_choices": [label for label in every if label.pk not in present],
        "filter_labels": every,
    }


@member_required
@require_GET
def conversation_detail(request: TenantRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_or_404(request, conversation_id)
    read_state.conversation_mark_read(
        organization=request.organization, acting_user=request.user, conversation=conversation
    )
    return render_conversation_page(request, conversation)


def render_conversation_page(
    request: TenantRequest,
    conversation: Conversation,
    *,
    params: Any = None,
    draft: str = "",
    composer_mode: str = "reply",
    seen_at: str = "",
    collision: ColleagueReplied | None = None,
    status: int = 200,
) -> HttpResponse:
    """The whole conversation page; ``draft``: what stays in the composer, in ``composer_mode``
    ("reply" or "note"); ``seen_at``: the time the composer showed the conversation, kept when
    the page comes back refused (else now); ``collision``: a colleague's reply to confirm."""
    organization, membership = request.organization, request.membership
    # Read once: the channel menu, and each row's channel in the list beside.
    channels = list(visibility_selectors.channel_list_visible(organization=organization, membership=membership))
    context = conversation_list_context(request, active_id=conversation.pk, params=params, channels=channels)
    context.update(transcript_context(request, conversation))
    context.update(
        {
            "channels": channels,
            "assignable": visibility_selectors.member_list_assignable(
                organization=organization, channel_id=conversation.channel_id
            ),
            "forward_channels": visibility_selectors.channel_list_forward_targets(
                organization=organization, conversation=conversation
            ),
            "convert_url": _optional_url(
                "tickets:convert", org_slug=organization.slug, conversation_id=conversation.pk
            ),
            "contact_tickets_url": _optional_url(
                "tickets:contact_tickets", org_slug=organization.slug, contact_id=conversation.contact_id
            ),
            "rating_url": _optional_url(
                "csat:conversation_rating", org_slug=organization.slug, conversation_id=conversation.pk
            ),
            # A customer's data on request (export, erase): admins only, in the privacy layer.
            "contact_data_url": _optional_url(
                "privacy:contact_data", org_slug=organization.slug, contact_id=conversation.contact_id
            )
            if membership.is_admin
            else "",
            "referrals": conversation_selectors.conversation_referral_list(
                organization=organization, conversation=conversation
            ),
            "contact_page_url": _optional_url(
                "contacts:detail", org_slug=organization.slug, contact_id=conversation.contact_id
            ),
            "draft": draft,
            "composer_mode": composer_mode,
            "seen_at": seen_at or timezone.now().isoformat(),
            "collision": collision,
            "confirm_at": timezone.now().isoformat() if collision else "",
        }
    )
    context.update(conversation_labels_context(request, conversation))
    return render(request, "messenger/inbox/conversation.html", context, status=status)


@member_required
@require_GET
def conversation_transcript(request: TenantRequest, conversation_id: int) -> HttpResponse:
    """The polled partial of an open conversation: 204 when nothing changed."""
    conversation = conversation_or_404(request, conversation_id)
    if conversation.unread_count:
        # The agent is looking at it: what just arrived is read.
        read_state.conversation_mark_read(
            organization=request.organization, acting_user=request.user, conversation=conversation
        )
    context = transcript_context(request, conversation)
    if request.GET.get("v") == context["transcript_version"]:
        return HttpResponse(status=204)
    context["announce"] = request.GET.get("last", "") not in ("", context["last_entry_key"])
    context["partial"] = True
    return render(request, "messenger/inbox/_transcript.html", context)
