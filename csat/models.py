"""Customer satisfaction: the rating a customer is asked for when an agent closes their
conversation or resolves its ticket, and what they answered."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from channels.models import Channel
from helpdesk.models import Department, Organization
from messenger.models import Conversation, Message
from tickets.models import Ticket


class SurveyOccasion(models.TextChoices):
    CONVERSATION_CLOSED = "conversation_closed", _("Conversation closed")
    TICKET_RESOLVED = "ticket_resolved", _("Ticket resolved")


class SurveyStatus(models.TextChoices):
    SENT = "sent", _("Asked")
    NOT_SENT = "not_sent", _("Not asked")


class Survey(models.Model):
    """One asking of one customer, at one close (``occasion`` and ``occasion_id``: the close's
    ConversationEvent id, or the resolution's TicketEvent id): at most one per close, by the
    unique constraint. Not sent (``not_sent_reason``: an error code, ``reply_window_closed``
    first of all) when the conversation could not be answered automatically at that moment.

    The answer is the customer's quick reply (``score`` 1 to 5, the last one within a day of
    the asking counts), its comment the first text they wrote within a day after it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+", db_index=False)
    # Where the conversation was filed and who finished it, as they were at the close (reports).
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+", db_index=False)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+", db_index=False)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    # The ticket resolved, or the conversation's latest ticket when it was closed (the ticket page).
    ticket = models.ForeignKey(Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    occasion = models.CharField(max_length=30, choices=SurveyOccasion.choices)
    occasion_id = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=SurveyStatus.choices)
    not_sent_reason = models.CharField(max_length=60, blank=True)
    # The language the question was written in ("ja", "en").
    language = models.CharField(max_length=10)
    question = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    asked_at = models.DateTimeField()
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answer = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    comment = models.TextField(blank=True)
    comment_message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "occasion", "occasion_id"], name="csat_survey_once_per_close"
            ),
            models.CheckConstraint(
                condition=models.Q(score__isnull=True) | models.Q(score__gte=1, score__lte=5),
                name="csat_survey_score_1_to_5",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "-asked_at"], name="csat_survey_conversation_idx"),
            # Reports: the surveys asked in a period.
            models.Index(fields=["organization", "asked_at"], name="csat_survey_asked_idx"),
            # The sweep: surveys still waiting for their answer.
            models.Index(fields=["asked_at"], condition=models.Q(status="sent"), name="csat_survey_open_idx"),
            # Reports: the answers of a period.
            models.Index(
                fields=["organization", "answered_at"],
                condition=models.Q(score__isnull=False),
                name="csat_survey_answered_idx",
            ),
            # The comment sweep: answers of the last day still without a comment.
            models.Index(
                fields=["answered_at"],
                condition=models.Q(score__isnull=False, comment_message__isnull=True),
                name="csat_survey_awaiting_comment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id} {self.occasion} {self.occasion_id}: {self.score}"
