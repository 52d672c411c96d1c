"""Actions on many conversations at once (the inbox's bulk actions): assign (to someone, or to
nobody), add or remove a label, close, reopen.

One request is one transaction: the conversations are locked in id order, each action is one
UPDATE (or the label services' set-based writes) and one INSERT of system lines, one per
conversation that changed; those already as asked are reported unchanged, not refused. The
side effects of the single actions follow, batched: rooms freed (the queue drains to their
agents), conversations left without an agent or reopened routed again.

The rules are those of the single actions, asked where they live (``assignment``, ``state``,
``labels``), never restated here. Every id must be a conversation the member sees
(``messenger.selectors.visibility``), else NotFound for the whole request; what may not be
done to one of them refuses the whole request (BulkRefused, naming each and why); nothing is
changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.converters import parse_id
from helpdesk.exceptions import (
    BulkRefused,
    HelpdeskError,
    InvalidAction,
    InvalidInput,
    NotFound,
    TooManyConversations,
)
from helpdesk.models import Membership, Organization
from helpdesk.names import user_name
from labels import selectors as label_selectors
from labels.models import Label
from messenger.contact_names import contact_name
from messenger.conversation_changes import ASSIGNMENT, STATE, conversations_told
from messenger.models import Conversation, ConversationEvent, ConversationState
from messenger.selectors import visibility as visibility_selectors
from messenger.services.conversations import assignment, labels, state
from messenger.services.conversations.events import events_record, member_name

# Conversations one request may name: a page of the list is 25, four pages at most.
MAX_CONVERSATIONS = 100
# `assignee` meaning the acting member.
ASSIGNEE_ME = "me"


class BulkAction(StrEnum):
    ASSIGN = "assign"
    LABEL_ADD = "label_add"
    LABEL_REMOVE = "label_remove"
    CLOSE = "close"
    REOPEN = "reopen"


@dataclass(frozen=True, slots=True)
class BulkWarning:
    """Done all the same, and said: the assignee now holds more than their capacity."""

    code: str
    message: str
    load: int
    capacity: int


@dataclass(frozen=True, slots=True)
class BulkResult:
    action: BulkAction
    # Ids, ascending.
    changed: list[int]
    unchanged: list[int]
    warnings: list[BulkWarning] = field(default_factory=list)
    # For the words of the result: who was given them (None: nobody), which label.
    assignee: Membership | None = None
    label: Label | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    conversation: Conversation
    code: str
    reason: str


def bulk_action_parse(value: Any) -> BulkAction:
    try:
        return BulkAction(value)
    except ValueError:
        raise InvalidAction(details={"action": [v.value for v in BulkAction]}) from None


def conversation_ids_parse(values: Iterable[Any]) -> list[int]:
    """The ids named, once each, ascending; junk matches no conversation (NotFound later)."""
    ids = sorted({parse_id(value) for value in values})
    if not ids:
        raise InvalidInput(_("Choose at least one conversation."), details={"ids": [_("Choose at least one.")]})
    if len(ids) > MAX_CONVERSATIONS:
        raise TooManyConversations(details={"max": MAX_CONVERSATIONS})
    return ids


def _assignee(*, organization: Organization, membership: Membership, assignee_id: Any) -> Membership | None:
    if assignee_id is None or assignee_id == "":
        return None
    if assignee_id == ASSIGNEE_ME:
        return membership
    member = (
        Membership.objects.filter(organization=organization, is_active=True, pk=parse_id(assignee_id))
        .select_related("user")
        .first()
    )
    if member is None:
        raise InvalidInput(
            _("This person is not a member of the organization."),
            details={"assignee": [_("Choose a member, “me”, or nobody.")]},
        )
    return member


def _locked(*, organization: Organization, membership: Membership, ids: list[int]) -> list[Conversation]:
    """The conversations, locked in id order; NotFound unless the member sees every one."""
    conversations = list(
        Conversation.objects.select_for_update(of=("self",))
        .filter(visibility_selectors.visible_channel_filter(organization=organization, membership=membership))
        .filter(pk__in=ids)
        .select_related("channel", "contact", "assignee")
        .order_by("pk")
    )
    if len(conversations) != len(ids):
        raise NotFound
    return conversations


def _refuse(refusals: list[Refusal]) -> None:
    """Refuse the whole request, naming each conversation and why, grouped by reason."""
    if not refusals:
        return
    names_by_reason: dict[str, list[str]] = {}
    for refusal in refusals:
        names_by_reason.setdefault(refusal.reason, []).append(contact_name(refusal.conversation.contact))
    reasons = " ".join(
        _("%(names)s: %(reason)s") % {"names": ", ".join(names), "reason": reason}
        for reason, names in names_by_reason.items()
    )
    raise BulkRefused(
        _("Nothing was changed. %(reasons)s") % {"reasons": reasons},
        details={
            "conversations": [
                {"id": refusal.conversation.pk, "code": refusal.code, "reason": refusal.reason} for refusal in refusals
            ]
        },
    )


def _refusal(conversation: Conversation, error: HelpdeskError) -> Refusal:
    return Refusal(conversation, error.code, str(error.message))


def _ids(conversations: Sequence[Conversation]) -> list[int]:
    return [conversation.pk for conversation in conversations]


@transaction.atomic
def conversations_bulk(
    *,
    organization: Organization,
    acting_user: Any,
    membership: Membership,
    conversation_ids: Iterable[Any],
    action: Any,
    assignee_id: Any = None,
    label_id: Any = None,
) -> BulkResult:
    """Do ``action`` to the conversations (ids) the member sees: all of them or, when it may
    not be done to one, none (BulkRefused). ``assignee_id``: a member id, "me", or None
    (nobody), for assign; ``label_id`` for the label actions."""
    bulk_action = bulk_action_parse(action)
    ids = conversation_ids_parse(conversation_ids)
    label = None
    if bulk_action in (BulkAction.LABEL_ADD, BulkAction.LABEL_REMOVE):
        if label_id in (None, ""):
            raise InvalidInput(_("Choose a label."), details={"label": [_("Choose a label.")]})
        label = label_selectors.label_get(organization=organization, label_id=label_id)
    assignee = None
    if bulk_action == BulkAction.ASSIGN:
        assignee = _assignee(organization=organization, membership=membership, assignee_id=assignee_id)
    conversations = _locked(organization=organization, membership=membership, ids=ids)

    if bulk_action == BulkAction.ASSIGN:
        if assignee is None:
            return _unassign(organization=organization, acting_user=acting_user, conversations=conversations)
        return _assign(organization=organization, acting_user=acting_user, conversations=conversations, to=assignee)
    if label is not None:
        write = (
            labels.conversations_label_add if bulk_action == BulkAction.LABEL_ADD else labels.conversations_label_remove
        )
        changed = set(
            write(organization=organization, acting_user=acting_user, conversations=conversations, label=label)
        )
        return BulkResult(
            bulk_action,
            changed=sorted(changed),
            unchanged=[pk for pk in ids if pk not in changed],
            label=label,
        )
    to = ConversationState.CLOSED if bulk_action == BulkAction.CLOSE else ConversationState.OPEN
    return _set_state(
        organization=organization, acting_user=acting_user, conversations=conversations, to=to, action=bulk_action
    )


def _assign(
    *, organization: Organization, acting_user: Any, conversations: list[Conversation], to: Membership
) -> BulkResult:
    refusals = []
    for conversation in conversations:
        try:
            assignment.require_may_be_given(conversation)
        except HelpdeskError as error:
            refusals.append(_refusal(conversation, error))
    may_hold = visibility_selectors.channel_ids_member_may_hold(
        organization=organization, membership=to, channel_ids={c.channel_id for c in conversations}
    )
    refused = {refusal.conversation.pk for refusal in refusals}
    for conversation in conversations:
        if conversation.channel_id not in may_hold and conversation.pk not in refused:
            reason = _("%(agent)s may not hold conversations of the channel %(channel)s.") % {
                "agent": user_name(to.user),
                "channel": conversation.channel.name,
            }
            refusals.append(Refusal(conversation, "not_assignable", reason))
    _refuse(refusals)
    changed = [c for c in conversations if c.assignee_id != to.user_id]
    unchanged = [c for c in conversations if c.assignee_id == to.user_id]
    warnings = []
    if changed:
        Conversation.objects.filter(pk__in=_ids(changed)).update(
            assignee_id=to.user_id, queued_at=None, updated_at=timezone.now()
        )
        data = {"to": member_name(to.user), "to_user_id": to.user_id}
        events_record(
            organization=organization,
            kind=ConversationEvent.Kind.ASSIGNED,
            acting_user=acting_user,
            data_by_conversation={c.pk: data for c in changed},
        )
        conversations_told(changed, what=ASSIGNMENT, assignee_id=to.user_id)
        assignment.taken_from(organization=organization, conversations=[(c, c.assignee_id) for c in changed])
        over = assignment.over_capacity_of(organization=organization, member=to)
        if over is not None:
            message = assignment.over_capacity_text(agent=to.user, over_capacity=over)
            warnings.append(BulkWarning("over_capacity", message, over.load, over.capacity))
    return BulkResult(BulkAction.ASSIGN, _ids(changed), _ids(unchanged), warnings, assignee=to)


def _unassign(*, organization: Organization, acting_user: Any, conversations: list[Conversation]) -> BulkResult:
    changed = [c for c in conversations if c.assignee_id is not None]
    unchanged = [c for c in conversations if c.assignee_id is None]
    if changed:
        Conversation.objects.filter(pk__in=_ids(changed)).update(assignee_id=None, updated_at=timezone.now())
        events_record(
            organization=organization,
            kind=ConversationEvent.Kind.UNASSIGNED,
            acting_user=acting_user,
            data_by_conversation={c.pk: {"previous": member_name(c.assignee)} for c in changed},
        )
        conversations_told(changed, what=ASSIGNMENT, assignee_id=None)
        assignment.left_without_agent(organization=organization, conversations=[(c, c.assignee_id) for c in changed])
    return BulkResult(BulkAction.ASSIGN, _ids(changed), _ids(unchanged))


def _set_state(
    *, organization: Organization, acting_user: Any, conversations: list[Conversation], to: str, action: BulkAction
) -> BulkResult:
    refusals = []
    for conversation in conversations:
        try:
            state.require_may_change_state(conversation, to=to)
        except HelpdeskError as error:
            refusals.append(_refusal(conversation, error))
    _refuse(refusals)
    changed = [c for c in conversations if c.state != to]
    unchanged = [c for c in conversations if c.state == to]
    if changed:
        Conversation.objects.filter(pk__in=_ids(changed)).update(**state.state_changes(to))
        events = events_record(
            organization=organization,
            kind=state.TRANSITION_EVENTS[to],
            acting_user=acting_user,
            data_by_conversation={c.pk: {} for c in changed},
        )
        conversations_told(changed, what=STATE)
        state.state_changed(organization=organization, conversations=changed, to=to)
        if to == ConversationState.CLOSED:
            state.closed_by_agent(
                organization=organization,
                acting_user=acting_user,
                close_events={event.conversation_id: event.pk for event in events},
            )
    return BulkResult(action, _ids(changed), _ids(unchanged))
