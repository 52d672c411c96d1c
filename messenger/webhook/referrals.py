"""Recording the referrals a POST carried (messenger.referrals reads them) against the
conversations their messages went to.

It runs once the messages are committed, whichever way the webhook stored them (the one
statement or step by step), and reads back what was stored: the stored rows, not the path,
decide where a referral belongs, so the two storage paths cannot disagree about it. A POST
without a referral costs nothing here (no query).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

from django.db import transaction

from messenger.models import ConversationReferral, Message
from messenger.referrals import Referral, referral_in_item
from messenger.webhook import parsed
from messenger.webhook.parsed import ParsedEvent

logger = logging.getLogger(__name__)

_CARRYING_KINDS = frozenset({parsed.MESSAGE, parsed.POSTBACK, parsed.REFERRAL})


def referrals_found(events: Sequence[ParsedEvent]) -> list[tuple[ParsedEvent, Referral]]:
    """The events that brought a customer's message carrying a referral."""
    found = []
    for event in events:
        if event.ignored_reason or event.kind not in _CARRYING_KINDS or not event.mid:
            continue
        referral = referral_in_item(event.payload)
        if referral is not None:
            found.append((event, referral))
    return found


def referrals_record(events: Sequence[ParsedEvent]) -> int:
    """Store the referrals of these events' stored messages; a second run adds nothing."""
    found = referrals_found(events)
    if not found:
        return 0
    page_ids = {event.page_id for event, _ in found}
    mids = {event.mid for event, _ in found}
    stored = {
        (row["page__page_id"], row["mid"]): row
        for row in Message.objects.filter(
            page__page_id__in=page_ids, page__unlinked_at__isnull=True, mid__in=mids
        ).values("pk", "mid", "page__page_id", "conversation_id", "organization_id")
    }
    rows = []
    for event, referral in found:
        message = stored.get((event.page_id, event.mid))
        if message is None:
            continue
        rows.append(
            ConversationReferral(
                organization_id=message["organization_id"],
                conversation_id=message["conversation_id"],
                message_id=message["pk"],
                kind=referral.kind,
                source=referral.source,
                referral_type=referral.referral_type,
                ref=referral.ref,
                ad_id=referral.ad_id,
                ad_title=referral.ad_title,
                referer_uri=referral.referer_uri,
                occurred_at=event.occurred_at or event.received_at,
            )
        )
    ConversationReferral.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def referrals_on_commit(events: Sequence[ParsedEvent]) -> None:
    """Record the batch's referrals once its messages are committed (at once outside a
    transaction); a failure is logged and never undoes the messages."""
    if referrals_found(events):
        transaction.on_commit(partial(referrals_record, events), robust=True)
