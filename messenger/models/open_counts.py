"""How many open conversations each (channel, assignee) holds, kept by the database itself
(messenger.open_counts installs the triggers that write it and folds its rows)."""

from __future__ import annotations

from django.db import models


class OpenConversationCount(models.Model):
    """One change of the open conversations of a (channel, assignee): +1 or -1, or, once
    folded, the whole count. The counts are the sums of ``delta``.

    Triggers on the conversation table insert a row whenever a conversation becomes open or
    stops being open, or an open one changes channel, assignee or organization, whoever wrote
    it (a model's save, a queryset's update, the webhook's one statement, a cascade). Rows are
    only ever inserted, so writers never wait for one another here; a periodic job folds them
    into one row per (channel, assignee). Plain ids, not foreign keys: a row outlives nothing
    it names for long (a deleted conversation's -1 cancels its +1, and folding drops zeros).
    """

    organization_id = models.BigIntegerField()
    channel_id = models.BigIntegerField()
    assignee_id = models.BigIntegerField(null=True)
    delta = models.IntegerField()

    class Meta:
        indexes = [
            # An agent's counts read their channels' rows from the index alone.
            models.Index(
                fields=["organization_id", "channel_id", "assignee_id", "delta"], name="open_count_channel_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}/{self.assignee_id}: {self.delta:+d}"
