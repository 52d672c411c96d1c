"""Conversations that existed before waiting_since: a customer whose last message no answer
followed waits from that message (their earlier unanswered ones are not looked for: the
wait shown may start later than it did, never earlier)."""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.db.models import Exists, F, OuterRef


def backfill(apps: Any, schema_editor: Any) -> None:
    conversation_model = apps.get_model("messenger", "Conversation")
    message_model = apps.get_model("messenger", "Message")
    answered = message_model.objects.filter(
        conversation_id=OuterRef("pk"),
        direction="out",
        source__in=("agent", "external"),
        sent_at__gte=OuterRef("last_inbound_at"),
    )
    conversation_model.objects.filter(last_inbound_at__isnull=False, waiting_since__isnull=True).exclude(
        Exists(answered)
    ).update(waiting_since=F("last_inbound_at"))


class Migration(migrations.Migration):
    dependencies = [("messenger", "0012_routing")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
