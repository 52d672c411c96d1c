"""What the webhook leaves for after commit: profile lookups of new contacts, the
"new conversation" notice, the download of attachments (messenger.services.attachments),
automatic assignment of new and reopened conversations and the out-of-hours reply
(messenger.routing).
Queued in Celery after commit; a broker that is down never fails a POST (its events are
already committed) and the periodic catch-up finds what was left: contacts with no profile
fetched yet, new conversations nobody was told about, attachments never tried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime

from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.urls import reverse
from django.utils import timezone

from channels import visibility
from channels.hours import departments_with_business_hours
from helpdesk.models import Membership, Notification
from helpdesk.services import notification_create
from messenger import notification_texts
from messenger.graph import GraphError
from messenger.models import Contact, Conversation, Direction, Message, PageStatus
from messenger.routing.triggers import channels_drain_request
from messenger.services.attachments import CATCH_UP_AFTER, CATCH_UP_BATCH, CATCH_UP_WINDOW
from messenger.services.contacts import contact_profile_fetch
from messenger.tasks import attachments as attachment_tasks
from messenger.tasks import out_of_hours as out_of_hours_tasks
from messenger.tasks import webhook as webhook_tasks
from messenger.webhook.outcomes import CustomerWrote

logger = logging.getLogger(__name__)

NEW_CONVERSATION_DEDUPE = "new_conversation:{conversation_id}"
# After a failed publish, POSTs stop trying the broker for this long: a broker that is down
# would otherwise cost every POST its connection timeout.
BROKER_PAUSE_SECONDS = 15.0
PROFILE_RETRY_COUNTDOWN = 60

_broker_lock = threading.Lock()
_broker_unavailable_until = 0.0


def broker_pause_reset() -> None:
    global _broker_unavailable_until
    with _broker_lock:
        _broker_unavailable_until = 0.0


def followups_enqueue(*, contact_ids: Sequence[int], conversation_ids: Sequence[int]) -> bool:
    """Queue one follow-up task for a committed POST; never raises. False when not queued."""
    global _broker_unavailable_until
    if time.monotonic() < _broker_unavailable_until:
        logger.info("webhook: broker paused, follow-ups left to the catch-up job")
        return False
    try:
        webhook_tasks.webhook_followups.delay(list(contact_ids), list(conversation_ids))
    except Exception:
        logger.warning("webhook: could not queue follow-ups, the catch-up job will do them", exc_info=True)
        with _broker_lock:
            _broker_unavailable_until = time.monotonic() + BROKER_PAUSE_SECONDS
        return False
    return True


def attachments_enqueue(*, message_ids: Sequence[int]) -> int:
    """Queue the download of each message's attachments after commit; never raises.

    Shares the follow-ups' broker pause: what is not queued the catch-up finds (never tried).
    Returns how many were queued."""
    global _broker_unavailable_until
    queued = 0
    for message_id in message_ids:
        if time.monotonic() < _broker_unavailable_until:
            logger.info("webhook: broker paused, attachment downloads left to the catch-up job")
            break
        try:
            attachment_tasks.attachments_download.delay(message_id)
        except Exception:
            logger.warning("webhook: could not queue an attachment download, the catch-up job will", exc_info=True)
            with _broker_lock:
                _broker_unavailable_until = time.monotonic() + BROKER_PAUSE_SECONDS
            break
        queued += 1
    return queued


def routing_enqueue(*, customer_wrote: Sequence[CustomerWrote]) -> bool:
    """Queue, for the conversations its customers wrote in, a drain of the queue of the
    channels that assign by themselves where one joined it (new or reopened: the webhook put
    it in the queue), and the out-of-hours reply where the
    department uses business hours (the task decides whether it is closed). Never raises;
    shares the follow-ups' broker pause. A routing not queued the routing sweep does within
    a minute; an out-of-hours reply not queued is not sent (it would come late).
    Returns False when something was to be queued and was not."""
    global _broker_unavailable_until
    to_assign = [item.channel_id for item in customer_wrote if item.to_assign]
    with_hours = departments_with_business_hours()
    out_of_hours = [item for item in customer_wrote if item.department_id in with_hours]
    if not to_assign and not out_of_hours:
        return True
    if time.monotonic() < _broker_unavailable_until:
        logger.info("webhook: broker paused, routing left to its sweep")
        return False
    try:
        if to_assign:
            channels_drain_request(to_assign)
        for item in out_of_hours:
            out_of_hours_tasks.out_of_hours_reply.delay(item.conversation_id, item.at.isoformat())
    except Exception:
        logger.warning("webhook: could not queue routing, its sweep will do it", exc_info=True)
        with _broker_lock:
            _broker_unavailable_until = time.monotonic() + BROKER_PAUSE_SECONDS
        return False
    return True


def followups_run(*, contact_ids: Sequence[int], conversation_ids: Sequence[int]) -> None:
    """Fetch the new contacts' profiles (so that the notice has the name), then announce."""
    for contact_id in contact_ids:
        try:
            contact_profile_fetch(contact_id=contact_id)
        except GraphError as error:
            logger.info("profile of contact %s: %s; retrying later", contact_id, error.reason)
            try:
                webhook_tasks.webhook_contact_profile_fetch.apply_async(
                    (contact_id,), countdown=PROFILE_RETRY_COUNTDOWN
                )
            except Exception:
                logger.warning("could not queue the profile retry of contact %s", contact_id, exc_info=True)
    for conversation_id in conversation_ids:
        conversation_announce(conversation_id=conversation_id)


def conversation_announce(*, conversation_id: int) -> int:
    """Tell the channel's agents and the organization's admins, once per conversation.

    Not for a blocked customer. Returns how many people were newly notified.
    """
    conversation = Conversation.objects.select_related("contact", "organization").filter(pk=conversation_id).first()
    if conversation is None or conversation.contact.is_blocked:
        return 0
    organization = conversation.organization
    # Those who may open it (channels.visibility): admins and the channel's agents.
    user_ids = set(
        Membership.objects.filter(
            visibility.members_filter(organization=organization, channel_id=conversation.channel_id)
        ).values_list("user_id", flat=True)
    )
    return notification_create(
        organization=organization,
        user_ids=user_ids,
        kind=Notification.Kind.NEW_CONVERSATION,
        # Written when read, in each reader's language (messenger.notification_texts).
        params=notification_texts.new_conversation_params(
            contact=conversation.contact, preview=conversation.last_message_preview
        ),
        url=reverse(
            "messenger:conversation", kwargs={"org_slug": organization.slug, "conversation_id": conversation.pk}
        ),
        dedupe_key=NEW_CONVERSATION_DEDUPE.format(conversation_id=conversation.pk),
    )


def followups_catch_up(*, now: datetime | None = None) -> tuple[int, int]:
    """Do what the queued follow-ups did not (broker down, worker lost). Safe to repeat:
    a fetched profile is not fetched again and a notice is deduplicated.
    Returns (profiles fetched, conversations announced)."""
    now = now or timezone.now()
    window = (now - CATCH_UP_WINDOW, now - CATCH_UP_AFTER)
    contact_ids = list(
        Contact.objects.filter(
            profile_fetched_at__isnull=True,
            is_guest=False,
            created_at__range=window,
            page__unlinked_at__isnull=True,
        )
        .exclude(page__status=PageStatus.REAUTHORIZATION_REQUIRED)
        .order_by("created_at")
        .values_list("pk", flat=True)[:CATCH_UP_BATCH]
    )
    fetched = 0
    for contact_id in contact_ids:
        try:
            fetched += contact_profile_fetch(contact_id=contact_id)
        except GraphError as error:
            logger.info("profile of contact %s: %s; next run retries", contact_id, error.reason)
    announced_already = Notification.objects.filter(
        organization=OuterRef("organization"),
        dedupe_key=Concat(Value("new_conversation:"), Cast(OuterRef("pk"), CharField())),
    )
    customer_wrote = Message.objects.filter(conversation=OuterRef("pk"), direction=Direction.INBOUND, is_hidden=False)
    conversation_ids = list(
        Conversation.objects.filter(created_at__range=window, contact__is_blocked=False)
        .filter(Exists(customer_wrote))
        .exclude(Exists(announced_already))
        .order_by("created_at")
        .values_list("pk", flat=True)[:CATCH_UP_BATCH]
    )
    announced = sum(1 for pk in conversation_ids if conversation_announce(conversation_id=pk))
    return fetched, announced
