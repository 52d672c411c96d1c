"""The inbox's filters on conversations (``ConversationFilters``): what a list is narrowed
to (channel, state, assignee, search, labels, closing window, SLA, referral), with its view
and sort; read from a query string and written back as one (saved views keep them so), and
made into one condition on Conversation (``conversation_filter``) that the conversation list
and the saved views' counts both apply on top of the visibility rule, never instead of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from helpdesk.converters import parse_id, search_term
from helpdesk.models import Membership, Organization
from messenger import conversation_order, window_alerts
from messenger.conversation_order import ConversationSort, ConversationView
from messenger.models import Contact, ConversationLabel, ConversationReferral, ConversationState, ReferralKind
from messenger.services import search
from sla.state import SlaStatus
from sla.state import status_filter as sla_status_filter
from sla.state import status_parse as sla_status_parse

# At most this many labels in one filter (each is one probe of the conversation_label index).
MAX_FILTER_LABELS = 10
# The `referral` filter's value for "came through any referral".
REFERRAL_ANY = "any"
MAX_REF = 250


@dataclass(frozen=True, slots=True)
class ConversationFilters:
    channel_id: int | None = None
    state: str | None = None
    assigned_to_me: bool = False
    unassigned: bool = False
    search: str = ""
    # The inbox's view and sort (messenger.conversation_order).
    view: ConversationView = conversation_order.DEFAULT_VIEW
    sort: ConversationSort = conversation_order.DEFAULT_SORT
    # Conversations that have every one of these labels (param `label`, repeatable).
    label_ids: tuple[int, ...] = ()
    # Only conversations flagged "window closing" (param `window=closing`, messenger.window_alerts).
    window_closing: bool = False
    # The SLA of the customer's wait (param `sla`: on_track, at_risk, breached).
    sla: SlaStatus | None = None
    # Where the customer came from (param `referral`: ad, link, plugin, other, or any) and an
    # m.me link's or ad's `ref` (param `ref`, exact).
    referral: str = ""
    ref: str = ""

    @classmethod
    def from_params(cls, params: Any, *, strict: bool = False) -> ConversationFilters:
        """From a QueryDict (HTML) or request.query_params (API); junk is ignored, not an error,
        except an unknown view or sort when ``strict`` (the API: InvalidView, InvalidSort)."""
        channel = params.get("channel") or ""
        state = params.get("state") or ""
        assignee = params.get("assignee") or ""
        return cls(
            channel_id=parse_id(channel) if parse_id(channel) > 0 else None,
            state=state if state in ConversationState.values else None,
            assigned_to_me=assignee == "me",
            unassigned=assignee == "none",
            search=search_term(params.get("q")),
            view=conversation_order.view_parse(params.get("view"), strict=strict),
            sort=conversation_order.sort_parse(params.get("sort"), strict=strict),
            label_ids=_label_ids(params),
            window_closing=params.get("window") == "closing",
            sla=sla_status_parse(params.get("sla")),
            referral=referral_filter_parse(params.get("referral")),
            ref=search_term(params.get("ref"), max_length=MAX_REF),
        )

    def as_params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        if self.channel_id:
            params["channel"] = str(self.channel_id)
        if self.state:
            params["state"] = self.state
        if self.assigned_to_me:
            params["assignee"] = "me"
        elif self.unassigned:
            params["assignee"] = "none"
        if self.search:
            params["q"] = self.search
        if self.view != conversation_order.DEFAULT_VIEW:
            params["view"] = self.view.value
        if self.sort != conversation_order.DEFAULT_SORT:
            params["sort"] = self.sort.value
        if self.label_ids:
            # One value, comma-separated: the parameters stay a flat dict of strings (saved views
            # store them as they are) and from_params reads both forms.
            params["label"] = ",".join(str(label_id) for label_id in self.label_ids)
        if self.window_closing:
            params["window"] = "closing"
        if self.sla:
            params["sla"] = self.sla.value
        if self.referral:
            params["referral"] = self.referral
        if self.ref:
            params["ref"] = self.ref
        return params

    @property
    def narrowed(self) -> bool:
        """Whether a filter (not the view or the sort) leaves conversations out."""
        return bool(
            self.channel_id
            or self.state
            or self.assigned_to_me
            or self.unassigned
            or self.search
            or self.label_ids
            or self.window_closing
            or self.sla
            or self.referral
            or self.ref
        )


def _label_ids(params: Any) -> tuple[int, ...]:
    """The `label` parameter: repeated (`?label=3&label=7`, a form's checkboxes) or
    comma-separated (`?label=3,7`, as_params); junk is left out; sorted, without repeats."""
    if hasattr(params, "getlist"):
        raw = params.getlist("label")
    else:
        value = params.get("label")
        raw = value if isinstance(value, list | tuple) else [value]
    ids = {parse_id(part) for value in raw if isinstance(value, str | int) for part in str(value).split(",")}
    return tuple(sorted(label_id for label_id in ids if label_id > 0))[:MAX_FILTER_LABELS]


def conversation_filter(
    *,
    organization: Organization,
    membership: Membership,
    filters: ConversationFilters,
    search_copied_until: int | None = None,
) -> Q:
    """The filters (view included, sort aside) as one condition on Conversation, on top of the
    visibility rule, never instead of it. The list filters by it, and the saved views count by
    it (one conditional count each, messenger.saved_views): a filter added here counts too.
    ``search_copied_until``: the search index's end, read once by a caller that builds many."""
    condition = conversation_order.view_filter(filters.view, user_id=membership.user_id)
    if filters.channel_id:
        condition &= Q(channel_id=filters.channel_id)
    if filters.state:
        condition &= Q(state=filters.state)
    if filters.assigned_to_me:
        condition &= Q(assignee_id=membership.user_id)
    elif filters.unassigned:
        condition &= Q(assignee__isnull=True)
    if filters.window_closing:
        condition &= window_alerts.closing_filter(leads=window_alerts.AlertLeads.of(organization))
    if filters.sla is not None:
        condition &= sla_filter(filters.sla, now=timezone.now())
    for label_id in filters.label_ids:
        # One semi-join per label, each read from the (organization, label, conversation)
        # index: the conversation must have all of them. Another organization's label matches
        # nothing.
        condition &= Q(
            pk__in=ConversationLabel.objects.filter(organization=organization, label_id=label_id).values(
                "conversation_id"
            )
        )
    if filters.referral or filters.ref:
        condition &= referral_filter(organization=organization, referral=filters.referral, ref=filters.ref)
    if filters.search:
        # Each side found once through its trigram index on PostgreSQL (names: migration 0006;
        # message texts: their copy, messenger.services.search), rather than looked up
        # conversation by conversation for every visible one.
        names = Contact.objects.filter(organization=organization, display_name__icontains=filters.search)
        condition &= Q(contact_id__in=names.values("pk")) | search.conversations_with_text(
            organization=organization, term=filters.search, copied_until=search_copied_until
        )
    return condition


def referral_filter_parse(value: Any) -> str:
    """The `referral` parameter: a kind (ReferralKind) or "any"; anything else is no filter."""
    value = str(value or "").strip().lower()
    return value if value == REFERRAL_ANY or value in ReferralKind.values else ""


def referral_filter(*, organization: Organization, referral: str = "", ref: str = "") -> Q:
    """Conversations a customer entered through a referral of this kind ("any": any kind)
    and/or with this `ref`: one semi-join on the referral's (organization, kind|ref) index."""
    referrals = ConversationReferral.objects.filter(organization=organization)
    if referral and referral != REFERRAL_ANY:
        referrals = referrals.filter(kind=referral)
    if ref:
        referrals = referrals.filter(ref=ref)
    return Q(pk__in=referrals.values("conversation_id"))


def sla_filter(status: SlaStatus, *, now: datetime) -> Q:
    """Open conversations whose customer's wait is in this SLA state at ``now`` (the rule of
    Conversation.response_sla, in SQL: times kept for another wait count as none)."""
    running = Q(state=ConversationState.OPEN, waiting_since__isnull=False, sla__started_at=F("waiting_since"))
    return running & sla_status_filter(status, now=now, due="sla__due_at", warn="sla__warn_at")
