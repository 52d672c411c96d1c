"""Asking for a rating when an agent finishes a conversation, and reading the answer.

Asking (``surveys_ask``, from helpdesk.signals.conversation_finished, inside the closing
transaction): when the conversation's channel asks for ratings, one Survey per close (the
unique constraint) and, while Messenger's 24-hour window is open, an automatic message with
the quick replies 1 to 5, sent after commit through the sending path (queued with an
idempotency key, claimed once by the delivery). ``reply_rules.outbound_window_check`` decides
the window (messenger.reply_window): an automatic message is never sent with a tag, so after
24 hours nothing is sent and the survey is kept as not sent, with the refusal's code.

Reading (``survey_settle``): the answer and its comment are worked out from the conversation's
own messages, so that the task run on a tap, the periodic sweep and a second run all agree:

- the answer is the customer's latest quick reply carrying this survey's payload, written
  within a day of the asking (a later or repeated tap replaces an earlier one; one after the
  day is an ordinary message);
- its comment is the first text the customer wrote after their first answer and within a day
  of their last one.

A quick reply naming a survey of another conversation (or organization), or a conversation
that was asked nothing, is recorded nowhere: nothing here reads it. Like every tap of the
rating's form, the webhook stores it as asking for no answer (messenger.webhook.route.
is_rating_answer: it reopens nothing); the comment after a tap is an ordinary message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from csat import tasks as csat_tasks
from csat.models import Survey, SurveyOccasion, SurveyStatus
from helpdesk.exceptions import HelpdeskError
from messenger.models import Conversation, Direction, Message, MessageKind, MessageSource
from messenger.services.sending import replies, reply_rules
from messenger.webhook.route import RATING_PAYLOAD, RATING_PAYLOAD_PREFIX
from tickets.models import Ticket, TicketEvent

logger = logging.getLogger(__name__)

# How long an asking waits for its answer, and an answer for its comment.
ANSWER_WITHIN = timedelta(days=1)
COMMENT_WITHIN = timedelta(days=1)
SCORES = (1, 2, 3, 4, 5)
# Messenger cuts a quick reply's title at 20 characters.
QUICK_REPLY_TITLE_MAX = 20
# The form is the webhook's (it stores a tap of this form as asking for no answer).
PAYLOAD_PREFIX = RATING_PAYLOAD_PREFIX
_PAYLOAD = RATING_PAYLOAD


def answer_payload(*, survey_id: int, score: int) -> str:
    return f"{PAYLOAD_PREFIX}{survey_id}:{score}"


def answer_parse(payload: str) -> tuple[int, int] | None:
    """(survey id, score) of a rating's quick reply, None for any other payload."""
    match = _PAYLOAD.match(payload or "")
    return (int(match[1]), int(match[2])) if match else None


def contact_language(*, contact_locale: str, organization_language: str) -> str:
    """The customer's language (Facebook's locale) when known, else the organization's."""
    if contact_locale:
        return "ja" if contact_locale.lower().startswith("ja") else "en"
    return "ja" if organization_language == "ja" else "en"


def question_texts(language: str, *, survey_id: int) -> tuple[str, list[dict[str, str]]]:
    """The question and its five quick replies, in ``language`` (titles at most 20 characters)."""
    with translation.override(language):
        question = _("How would you rate the help you received? Tap a number from 1 (poor) to 5 (excellent).")
        titles = {
            1: _("1 · Poor"),
            2: _("2 · Fair"),
            3: _("3 · Good"),
            4: _("4 · Very good"),
            5: _("5 · Excellent"),
        }
    quick_replies = [
        {
            "content_type": "text",
            "title": titles[score][:20],
            "payload": answer_payload(survey_id=survey_id, score=score),
        }
        for score in SCORES
    ]
    return question, quick_replies


def surveys_ask(
    *,
    organization_id: int,
    conversation_ids: Sequence[int],
    acting_user_id: int | None,
    occasion: str,
    occasion_ids: dict[int, int],
    now: datetime | None = None,
) -> list[Survey]:
    """Ask the customers of these conversations, just finished by an agent, for a rating (see
    the module). Returns the surveys made (sent or not). In the caller's transaction."""
    if acting_user_id is None or occasion not in SurveyOccasion.values:
        return []
    now = now or timezone.now()
    # One read; a close in a channel that asks nothing costs nothing more.
    conversations = list(
        Conversation.objects.select_related("organization", "channel", "page", "contact")
        .filter(organization_id=organization_id, pk__in=list(conversation_ids), channel__asks_for_rating=True)
        .order_by("pk")
    )
    if not conversations:
        return []
    # Its own savepoint: a rating that cannot be asked never undoes the agent's close.
    with transaction.atomic():
        return [
            survey
            for conversation in conversations
            if (
                survey := _survey_ask(
                    conversation=conversation,
                    acting_user_id=acting_user_id,
                    occasion=occasion,
                    occasion_id=occasion_ids[conversation.pk],
                    now=now,
                )
            )
            is not None
        ]


def _ticket_of(conversation: Conversation, *, occasion: str, occasion_id: int) -> int | None:
    if occasion == SurveyOccasion.TICKET_RESOLVED:
        return (
            TicketEvent.objects.filter(pk=occasion_id, organization_id=conversation.organization_id)
            .values_list("ticket_id", flat=True)
            .first()
        )
    return Ticket.objects.filter(conversation_id=conversation.pk).order_by("-pk").values_list("pk", flat=True).first()


def _survey_ask(
    *, conversation: Conversation, acting_user_id: int, occasion: str, occasion_id: int, now: datetime
) -> Survey | None:
    # Closing the conversation and resolving its ticket are one finish for the customer: one
    # question a day at most.
    if Survey.objects.filter(
        conversation=conversation, status=SurveyStatus.SENT, asked_at__gt=now - ANSWER_WITHIN
    ).exists():
        return None
    organization = conversation.organization
    language = contact_language(contact_locale=conversation.contact.locale, organization_language=organization.language)
    try:
        with transaction.atomic():
            survey = Survey.objects.create(
                organization=organization,
                conversation=conversation,
                channel_id=conversation.channel_id,
                department_id=conversation.department_id,
                agent_id=acting_user_id,
                ticket_id=_ticket_of(conversation, occasion=occasion, occasion_id=occasion_id),
                occasion=occasion,
                occasion_id=occasion_id,
                status=SurveyStatus.NOT_SENT,
                language=language,
                asked_at=now,
            )
    except IntegrityError:
        return None  # this close was asked about already
    question, quick_replies = question_texts(language, survey_id=survey.pk)
    try:
        reply_rules.outbound_window_check(conversation=conversation, source=MessageSource.AUTOMATIC, now=now)
        message = replies.automatic_message_queue(
            organization=organization, conversation=conversation, text=question, now=now, quick_replies=quick_replies
        )
    except HelpdeskError as refusal:
        logger.info("rating of conversation %s not asked: %s", conversation.pk, refusal.code)
        survey.not_sent_reason = refusal.code[:60]
        survey.save(update_fields=["not_sent_reason"])
        return survey
    survey.status, survey.question = SurveyStatus.SENT, message
    survey.save(update_fields=["status", "question"])
    return survey


# --------------------------------------------------------------------------- answers


def answers_enqueue(quick_replies: Iterable[tuple[int, int, int, str]]) -> bool:
    """Queue the reading of the customers' taps that answer a rating (after the webhook's
    commit); other quick replies cost nothing. Never raises: the sweep reads what was not
    queued. Returns False when something was to be queued and was not."""
    message_ids = [message_id for _org, _conv, message_id, payload in quick_replies if answer_parse(payload)]
    if not message_ids:
        return True
    try:
        csat_tasks.answers_record.delay(message_ids)
    except Exception:
        logger.warning("could not queue the reading of %d rating(s); the sweep will", len(message_ids), exc_info=True)
        return False
    return True


def answers_record(*, message_ids: Sequence[int]) -> int:
    """Settle the surveys these customers' messages answer. Returns how many changed."""
    changed = 0
    rows = Message.objects.filter(pk__in=list(message_ids), direction=Direction.INBOUND).values_list(
        "organization_id", "conversation_id", "quick_reply_payload"
    )
    for organization_id, conversation_id, payload in rows:
        parsed = answer_parse(payload)
        if parsed is None:
            continue
        # Only a survey of the message's own conversation: a payload naming another one (of
        # another organization, say) is an ordinary message.
        survey = Survey.objects.filter(
            pk=parsed[0], organization_id=organization_id, conversation_id=conversation_id, status=SurveyStatus.SENT
        ).first()
        if survey is not None:
            changed += survey_settle(survey=survey)
    return changed


def _customer_messages(survey: Survey) -> list[tuple[int, datetime, str, str, str]]:
    """The customer's shown messages from the asking to the last moment a comment may come."""
    return list(
        Message.objects.filter(
            conversation_id=survey.conversation_id,
            direction=Direction.INBOUND,
            is_hidden=False,
            sent_at__gte=survey.asked_at,
            sent_at__lte=survey.asked_at + ANSWER_WITHIN + COMMENT_WITHIN,
        )
        .order_by("sent_at", "pk")
        .values_list("pk", "sent_at", "quick_reply_payload", "kind", "text")
    )


@transaction.atomic
def survey_settle(*, survey: Survey) -> bool:
    """Work out the survey's answer and comment from the conversation's messages (see the
    module). Safe to run twice and concurrently (the row is locked). True when it changed."""
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    if survey.status != SurveyStatus.SENT:
        return False
    messages = _customer_messages(survey)
    answers = [
        (pk, sent_at, parsed[1])
        for pk, sent_at, payload, _kind, _text in messages
        if (parsed := answer_parse(payload)) is not None
        and parsed[0] == survey.pk
        and sent_at <= survey.asked_at + ANSWER_WITHIN
    ]
    score = answered_at = answer_id = None
    comment, comment_id = "", None
    if answers:
        answer_id, answered_at, score = answers[-1]
        first_at = answers[0][1]
        for pk, sent_at, payload, kind, text in messages:
            if (
                sent_at > first_at
                and sent_at <= answered_at + COMMENT_WITHIN
                and not payload
                and kind == MessageKind.TEXT
                and text.strip()
            ):
                comment, comment_id = text.strip(), pk
                break
    wanted = (score, answered_at, answer_id, comment, comment_id)
    if wanted == (survey.score, survey.answered_at, survey.answer_id, survey.comment, survey.comment_message_id):
        return False
    survey.score, survey.answered_at, survey.answer_id, survey.comment, survey.comment_message_id = wanted
    survey.save(update_fields=["score", "answered_at", "answer", "comment", "comment_message"])
    return True


def surveys_sweep(*, now: datetime | None = None, limit: int = 2000) -> int:
    """Every few minutes: settle the surveys still open to an answer or a comment (asked within
    the last day, or answered within the last day): the comments (a customer's text is not
    told to this app) and the taps whose reading could not be queued. A second run changes
    nothing. Returns how many changed."""
    now = now or timezone.now()
    open_ids = list(
        Survey.objects.filter(status=SurveyStatus.SENT, asked_at__gte=now - ANSWER_WITHIN)
        .order_by("asked_at")
        .values_list("pk", flat=True)[:limit]
    )
    awaiting_comment = list(
        Survey.objects.filter(
            score__isnull=False, comment_message__isnull=True, answered_at__gte=now - COMMENT_WITHIN
        ).values_list("pk", flat=True)[:limit]
    )
    changed = 0
    for survey in Survey.objects.filter(pk__in=sorted(set(open_ids) | set(awaiting_comment))):
        changed += survey_settle(survey=survey)
    return changed
