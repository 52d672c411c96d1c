"""The out-of-hours reply: when a customer writes while their conversation's department is
closed (channels.hours), the product answers with the department's reply, once per
conversation per closed period.

Sent only when all of these hold:

- the department uses business hours and has a reply text (in the organization's language,
  else the other one: contacts carry no language of their own);
- the customer's message (``inbound_at``) fell outside business hours, and the department
  is still in that same closed period now (a task run late, after opening, sends nothing);
- the message is less than 24 hours old and the conversation can be answered in the
  standard 24-hour window now (reply_rules.outbound_window_check: channel live, page
  linked, customer not blocked). An automatic message is never sent with the HUMAN_AGENT
  tag: Meta forbids the tag for automated messages.

"Once per closed period" is the unique (conversation, period_start) of OutOfHoursReply: the
row is inserted first, so two workers handling two messages of one night race on that
insert and the loser sends nothing. The message itself goes through the agents' sending
path (queued with an idempotency key, sent once by the delivery's claim) as
``MessageSource.AUTOMATIC``. It does not answer the customer: ``waiting_since`` is left as it is.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from channels import hours
from helpdesk.exceptions import HelpdeskError
from messenger.conversation_changes import EVENT, conversation_told
from messenger.models import Conversation, ConversationEvent, Message, MessageSource, OutOfHoursReply
from messenger.reply_window import WindowState, reply_window
from messenger.services.sending import replies, reply_rules

logger = logging.getLogger(__name__)


def out_of_hours_reply_send(
    *, conversation_id: int, inbound_at: datetime, now: datetime | None = None
) -> Message | None:
    """Queue the out-of-hours reply to a customer's message written at ``inbound_at``, if it
    is due (see the module). Returns the queued message, or None when nothing is sent.
    Safe to run twice, and concurrently."""
    now = now or timezone.now()
    conversation = (
        Conversation.objects.select_related("organization", "channel", "page", "contact")
        .filter(pk=conversation_id)
        .first()
    )
    if conversation is None:
        return None
    department_hours = hours.department_hours(department_id=conversation.department_id)
    if department_hours is None:
        return None
    text = department_hours.out_of_hours_reply(conversation.organization.language)
    if not text:
        return None
    schedule = department_hours.schedule
    period_start = hours.closed_period_start(schedule, inbound_at)
    if period_start is None or hours.closed_period_start(schedule, now) != period_start:
        return None
    if reply_window(inbound_at, now=now).state != WindowState.STANDARD:
        return None
    try:
        reply_rules.outbound_window_check(conversation=conversation, source=MessageSource.AUTOMATIC, now=now)
        reply_rules.validate_text(text)
    except HelpdeskError as refusal:
        logger.info("out-of-hours reply of conversation %s not sent: %s", conversation_id, refusal.code)
        return None
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = OutOfHoursReply.objects.create(
                    organization_id=conversation.organization_id, conversation=conversation, period_start=period_start
                )
        except IntegrityError:
            return None  # this closed period was answered already
        message = replies.automatic_message_queue(
            organization=conversation.organization, conversation=conversation, text=text, now=now
        )
        OutOfHoursReply.objects.filter(pk=record.pk).update(message=message)
        ConversationEvent.objects.create(
            organization_id=conversation.organization_id,
            conversation=conversation,
            kind=ConversationEvent.Kind.OUT_OF_HOURS_REPLY,
            data={"period_start": period_start.isoformat(), "message_id": message.pk},
        )
        conversation_told(conversation, what=EVENT)
    return message
