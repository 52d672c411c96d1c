"""Which events a member's stream may pass on: the visibility rule (channels.visibility),
read once when the stream opens and again when the member's scope changes.

The rule itself is not restated here: the channel ids come from `visible_channel_ids`, the
departments from `member_department_ids`; this module only compares an event's address with them.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.visibility import member_department_ids, visible_channel_ids
from helpdesk.models import Membership
from live.events import LiveEvent


@dataclass(frozen=True, slots=True)
class MemberScope:
    organization_id: int
    membership_id: int
    user_id: int
    active: bool
    # None: every channel of the organization (an admin).
    channel_ids: frozenset[int] | None
    department_ids: frozenset[int]

    def may_receive(self, event: LiveEvent) -> bool:
        if not self.active or event.organization_id != self.organization_id:
            return False
        if event.user_id is not None:
            return event.user_id == self.user_id
        if event.channel_id is None:
            return True
        if self.channel_ids is None:
            return True
        if event.channel_id not in self.channel_ids:
            return False
        return event.department_id is None or event.department_id in self.department_ids


def member_scope(*, membership_id: int) -> MemberScope:
    """The member's scope as the database has it now (an inactive member sees nothing)."""
    membership = Membership.objects.select_related("organization").filter(pk=membership_id).first()
    if membership is None:  # removed from the organization since the stream opened
        return MemberScope(0, membership_id, 0, active=False, channel_ids=frozenset(), department_ids=frozenset())
    organization = membership.organization
    channel_ids = visible_channel_ids(organization=organization, membership=membership)
    return MemberScope(
        organization_id=organization.pk,
        membership_id=membership.pk,
        user_id=membership.user_id,
        active=membership.is_active,
        channel_ids=None if channel_ids is None else frozenset(channel_ids.values_list("channel_id", flat=True)),
        department_ids=frozenset(member_department_ids(membership).values_list("department_id", flat=True)),
    )
