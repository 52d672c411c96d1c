"""The team's private notes in a conversation (never sent to Facebook) and the members named
with @ in them (NoteMention)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from helpdesk.models import Organization
from messenger.models.conversations import Conversation


class Note(models.Model):
    """A private note of the team in a conversation: shown to the members who may see the
    conversation, in the transcript and the ticket thread, and never sent to Facebook. It is
    not a Message: nothing of the sending path (messenger.services.sending) accepts one."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes", db_index=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    # The author's name as it was when written (the account may go).
    author_name = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["conversation", "created_at"], name="note_conversation_time")]

    def __str__(self) -> str:
        return self.body[:50]


class NoteMention(models.Model):
    """A member named with @ in a note (they are notified once)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["note", "user"], name="note_mention_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.note_id}"
