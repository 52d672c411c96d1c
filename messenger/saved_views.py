"""Reads of saved views: the inbox filters a member keeps under a name (their own, or shared
with the organization by an admin), and how many conversations each holds for the member.

A view's ``params`` are the inbox's query parameters as ``ConversationFilters`` writes them
(``as_params``), stored as a dict of lists so that a repeated parameter (several labels)
survives: ``{"channel": ["3"], "label": ["1", "2"]}``. They are read back through
``ConversationFilters.from_params``, which ignores what it does not know: a view whose label or
channel is gone still opens (a deleted channel still filters its conversations; an id that no
longer exists matches none). This module knows no filter by name.

Counts: a view counts the conversations its filters match *for this member* (the visibility
rule: an agent's count of a shared view is of their channels), open ones only unless the
view's own filters choose a state (as the view tabs count). One query for all of a member's
views (one conditional count each), kept ``COUNT_CACHE_SECONDS`` per member: the inbox list
that shows them is polled every 2 seconds.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Count, F, Q, QuerySet
from django.http import QueryDict

from helpdesk.converters import parse_id
from helpdesk.exceptions import NotFound
from helpdesk.models import Membership, Organization
from messenger.models import Conversation, ConversationState, SavedView
from messenger.selectors import filters as filter_selectors
from messenger.selectors import visibility as visibility_selectors
from messenger.services import search

logger = logging.getLogger(__name__)

COUNT_CACHE_SECONDS = 10
# Per scope: a member's own views, and the organization's shared ones.
MAX_PER_SCOPE = 50

SavedViewParams = dict[str, list[str]]


# --- Parameters --------------------------------------------------------------------------------


def _pairs(params: Any) -> list[tuple[str, str]]:
    """(key, value) pairs of a QueryDict, a mapping of strings or lists, or pairs."""
    if hasattr(params, "lists"):
        return [(str(key), str(value)) for key, values in params.lists() for value in values]
    if isinstance(params, Mapping):
        items: Iterable[tuple[Any, Any]] = params.items()
    else:
        items = params
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((str(key), str(item)) for item in values if item is not None)
    return pairs


def params_querydict(params: Any) -> QueryDict:
    """Stored params (or any of the shapes of ``_pairs``) as the QueryDict a request would have."""
    query = QueryDict(mutable=True)
    for key, value in _pairs(params):
        query.appendlist(key, value)
    return query


def params_normalize(params: Any, *, strict: bool = False) -> SavedViewParams:
    """The inbox filters in ``params`` as a view keeps them: through ``ConversationFilters``
    (junk and the list's cursor dropped; ``strict``: an unknown view or sort refused, as by the
    API), as a dict of lists."""
    filters = filter_selectors.ConversationFilters.from_params(params_querydict(params), strict=strict)
    normalized: SavedViewParams = {}
    for key, value in _pairs(filters.as_params()):
        normalized.setdefault(key, []).append(value)
    return normalized


def params_query(params: Any) -> str:
    """The stored params as the inbox's query string (repeated parameters repeated)."""
    return urlencode(_pairs(params))


def params_key(params: Any) -> tuple[tuple[str, str], ...]:
    """What makes two sets of filters the same (the order of a repeated parameter aside)."""
    return tuple(sorted(_pairs(params)))


# --- Reads -------------------------------------------------------------------------------------


def _visible(*, organization: Organization, membership: Membership) -> Q:
    return Q(organization=organization) & (Q(owner__isnull=True) | Q(owner=membership))


def saved_view_list(*, organization: Organization, membership: Membership) -> QuerySet[SavedView]:
    """The views the member sees: the shared ones first, then their own, each by name."""
    # Their own views all have the one owner: NULLs first puts the shared ones ahead.
    return SavedView.objects.filter(_visible(organization=organization, membership=membership)).order_by(
        F("owner").asc(nulls_first=True), "name", "id"
    )


def saved_view_get(*, organization: Organization, membership: Membership, view_id: Any) -> SavedView:
    """A view the member sees (shared, or their own), or NotFound: another member's own view
    is never hinted at."""
    view = (
        SavedView.objects.filter(_visible(organization=organization, membership=membership))
        .filter(pk=parse_id(view_id))
        .first()
    )
    if view is None:
        raise NotFound
    return view


def saved_view_can_manage(view: SavedView, *, membership: Membership) -> bool:
    """Rename, update, delete: one's own views; shared ones, admins."""
    if view.owner_id is None:
        return membership.is_admin
    return view.owner_id == membership.pk


def saved_view_count_condition(
    params: Any, *, organization: Organization, membership: Membership, search_copied_until: int | None = None
) -> Q:
    """What a view counts, as a condition on the conversations the member sees: its filters,
    and open ones unless they choose a state."""
    filters = filter_selectors.ConversationFilters.from_params(params_querydict(params))
    condition = filter_selectors.conversation_filter(
        organization=organization, membership=membership, filters=filters, search_copied_until=search_copied_until
    )
    if not filters.state:
        condition &= Q(state=ConversationState.OPEN)
    return condition


def saved_view_counts(
    views: Iterable[SavedView], *, organization: Organization, membership: Membership
) -> dict[int, int]:
    """Each view's count for this member (see the module): one query whatever the number of
    views, none when the member's views and their filters are those counted in the last
    ``COUNT_CACHE_SECONDS``."""
    views = list(views)
    if not views:
        return {}
    counted_views = repr([(view.pk, params_key(view.params)) for view in views])
    key = f"saved-view-counts:{membership.pk}:" + hashlib.sha256(counted_views.encode()).hexdigest()[:20]
    try:
        cached: dict[int, int] | None = cache.get(key)
    except Exception:  # the cache backend's own connection errors
        logger.warning("saved views: the cache is unavailable, counting", exc_info=True)
        cached = None
    if cached is not None:
        return cached
    counted = [filter_selectors.ConversationFilters.from_params(params_querydict(view.params)) for view in views]
    # The search index's end, read once for all the views that search.
    copied_until = search.search_copied_until() if any(filters.search for filters in counted) else None
    conditions = {
        f"view_{view.pk}": saved_view_count_condition(
            view.params, organization=organization, membership=membership, search_copied_until=copied_until
        )
        for view in views
    }
    conversations = Conversation.objects.filter(
        visibility_selectors.visible_channel_filter(organization=organization, membership=membership)
    )
    if all(not filters.state or filters.state == ConversationState.OPEN for filters in counted):
        # Every view counts open conversations only: the closed ones (most of them) are not read.
        conversations = conversations.filter(state=ConversationState.OPEN)
    totals = conversations.aggregate(**{name: Count("pk", filter=condition) for name, condition in conditions.items()})
    counts = {view.pk: totals[f"view_{view.pk}"] for view in views}
    try:
        cache.set(key, counts, COUNT_CACHE_SECONDS)
    except Exception:
        logger.warning("saved views: the cache is unavailable, counts not kept", exc_info=True)
    return counts


@dataclass(frozen=True, slots=True)
class SavedViewEntry:
    """A view as the inbox's sidebar and the API show it."""

    view: SavedView
    count: int
    # Whether its counted conversations are open ones (else those of the state it filters).
    counts_state: str
    query: str
    shared: bool
    can_manage: bool
    active: bool


def saved_view_entries(
    *, organization: Organization, membership: Membership, current: Any = None
) -> list[SavedViewEntry]:
    """The member's views with their counts; ``current``: the inbox's filters now (a view with
    the same ones is the active one)."""
    views = list(saved_view_list(organization=organization, membership=membership))
    counts = saved_view_counts(views, organization=organization, membership=membership)
    current_key = params_key(params_normalize(current)) if current is not None else None
    entries = []
    for view in views:
        state = filter_selectors.ConversationFilters.from_params(params_querydict(view.params)).state
        entries.append(
            SavedViewEntry(
                view=view,
                count=counts[view.pk],
                counts_state=state or ConversationState.OPEN,
                query=params_query(view.params),
                shared=view.owner_id is None,
                can_manage=saved_view_can_manage(view, membership=membership),
                active=current_key is not None and params_key(view.params) == current_key,
            )
        )
    return entries
