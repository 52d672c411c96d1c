"""The Messenger kind of channel as the channels app sees it (channels.kinds; named in
settings.CHANNEL_KIND_BACKENDS): its linked pages, and what happens to them and to the
open conversations when a channel changes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from channels.kinds import ChannelChange, LinkedPage, ReauthorizationAlert
from channels.models import Channel
from helpdesk.models import Department, Organization
from messenger.conversation_changes import EVENT, conversation_rows_told
from messenger.models import Conversation, ConversationEvent, ConversationState
from messenger.pages import linking, selectors
from messenger.routing.route import channel_conversations_route_on_commit
from messenger.services.conversations.reorganization import conversations_follow_channel

_EVENT_KINDS = {
    "disabled": ConversationEvent.Kind.CHANNEL_DISABLED,
    "enabled": ConversationEvent.Kind.CHANNEL_ENABLED,
    "deleted": ConversationEvent.Kind.CHANNEL_DELETED,
}


class MessengerChannelKind:
    """What the channels app asks of Messenger channels (see channels.kinds)."""

    def pages_by_channel(
        self, *, organization: Organization, channel_ids: Iterable[int], include_removed: bool = False
    ) -> dict[int, list[LinkedPage]]:
        grouped: dict[int, list[LinkedPage]] = defaultdict(list)
        for page in selectors.page_list(
            organization=organization, channel_ids=channel_ids, include_removed=include_removed
        ):
            grouped[page.channel_id].append(selectors.linked_page(page))
        return dict(grouped)

    def page_remove(
        self, *, organization: Organization, acting_user: Any, channel: Channel, page_pk: int
    ) -> LinkedPage:
        return selectors.linked_page(
            linking.page_remove(organization=organization, acting_user=acting_user, channel=channel, page_pk=page_pk)
        )

    def channel_changed(
        self, *, organization: Organization, acting_user: Any, channel: Channel, change: ChannelChange
    ) -> None:
        conversation_events_record(organization=organization, acting_user=acting_user, channel=channel, change=change)
        if change == "deleted":
            linking.pages_unlink_for_channel(organization=organization, channel=channel)

    def channel_moved(
        self, *, organization: Organization, acting_user: Any, channel: Channel, from_department: Department
    ) -> None:
        conversations_follow_channel(
            organization=organization, acting_user=acting_user, channel=channel, from_department=from_department
        )

    def reauthorization_alerts(
        self, *, organization: Organization, limit: int
    ) -> tuple[int, list[ReauthorizationAlert]]:
        return selectors.reauthorization_alerts(organization=organization, limit=limit)

    def assignment_mode_changed(self, *, organization: Organization, acting_user: Any, channel: Channel) -> None:
        channel_conversations_route_on_commit(organization=organization, channel=channel)


def conversation_events_record(
    *, organization: Organization, acting_user: Any, channel: Channel, change: ChannelChange
) -> int:
    """A system line on each open conversation of the channel: disabled, enabled or deleted."""
    rows = list(
        Conversation.objects.filter(organization=organization, channel=channel, state=ConversationState.OPEN)
        .order_by("pk")
        .values_list("pk", "assignee_id")
    )
    conversation_ids = [pk for pk, _assignee_id in rows]
    conversation_rows_told(((organization.pk, channel.pk, pk, assignee_id) for pk, assignee_id in rows), what=EVENT)
    actor = acting_user if getattr(acting_user, "is_authenticated", False) else None
    ConversationEvent.objects.bulk_create(
        [
            ConversationEvent(
                organization=organization,
                conversation_id=conversation_id,
                kind=_EVENT_KINDS[change],
                actor=actor,
                data={"channel": channel.name},
            )
            for conversation_id in conversation_ids
        ],
        batch_size=500,
    )
    return len(conversation_ids)
