"""Data kept for reporting: one row of facts per conversation, kept by a periodic job
(reports.services.facts_refresh) so that a report reads this narrow table instead of the
messages.

A conversation is Messenger's one continuous thread per (page, customer); its facts are
measured from the customer's first message:

- ``received_at``: the customer's first message;
- ``first_response_at``/``first_responder``: the first human reply after it (an agent's in the
  helpdesk or one made in Facebook's own inbox; automatic replies do not count; failed sends
  neither);
- ``unanswered_since``: the customer's last message when no human reply followed it. Whether
  the conversation was *lost to a closed window* is not decided here: the reports count the
  ``messenger.models.WindowLoss`` rows the window-alerts job writes (one rule, one place);
- ``resolved_at``: the first time one of its tickets was resolved;
- ``first_response_seconds``/``resolution_seconds``: the same two times counted in the clock
  of the SLA policy that applies (the department's business hours when the policy says so,
  else the wall clock; sla.clocks), computed once by the job, never per request;
- ``first_response_due_at``: when the policy's first response target fell due (from
  ``received_at``), ``resolution_due_at``: its first ticket's resolution target, as the SLA
  sweep kept it (None: no target); ``next_response_*``: the waits after the first reply, each
  against the next response target from its start. Met or breached is read against these, so
  a fact never ages.

``source_*`` columns are what the job compares to find the conversations that changed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from channels.models import Channel
from helpdesk.models import Department, Organization
from messenger.models import Conversation


class ConversationFact(models.Model):
    conversation = models.OneToOneField(Conversation, on_delete=models.CASCADE, primary_key=True, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+", db_index=False)
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="+", db_index=False)
    # The conversation's holder when the facts were last refreshed (the report's "agent").
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False
    )
    received_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True)
    first_responder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False
    )
    unanswered_since = models.DateTimeField(null=True)
    resolved_at = models.DateTimeField(null=True)
    first_response_seconds = models.FloatField(null=True)
    resolution_seconds = models.FloatField(null=True)
    first_response_due_at = models.DateTimeField(null=True)
    # Next responses (each wait of the customer after the first reply): how many met and
    # breached their target, and the due time of the wait still running (None: none).
    next_response_met = models.PositiveIntegerField(db_default=0)
    next_response_breached = models.PositiveIntegerField(db_default=0)
    next_response_due_at = models.DateTimeField(null=True)
    resolution_due_at = models.DateTimeField(null=True)
    source_last_message_at = models.DateTimeField(null=True)
    source_tickets_updated_at = models.DateTimeField(null=True)
    refreshed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "received_at"], name="report_fact_org_received"),
            models.Index(fields=["organization", "assignee", "received_at"], name="report_fact_org_assignee"),
        ]

    def __str__(self) -> str:
        return f"facts of conversation {self.conversation_id}"


class FactsWatermark(models.Model):
    """Singleton: when the facts job last ran to completion (shown on the reports' pages)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"facts refreshed at {self.refreshed_at}"
