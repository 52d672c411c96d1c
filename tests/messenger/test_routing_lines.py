"""The system lines of automatic assignment as the transcript shows them, in English and Japanese."""

from __future__ import annotations

from typing import Any

from django.utils import translation

from messenger.models import ConversationEvent
from messenger.routing.route import conversations_route
from messenger.views.transcript import describe_event
from tests.conftest import Tenant
from tests.messenger.routing_world import agent, routing_channel, waiting

AIKO = {"first_name": "Aiko", "last_name": "Tanaka", "username": "aiko"}


def _line(kind: str, **data: Any) -> ConversationEvent:
    return ConversationEvent(kind=kind, data=data)


def test_automatic_assignments_say_how_in_english_and_japanese() -> None:
    cases = {
        "round_robin": (
            "Assigned to Aiko Tanaka by round robin.",
            "ラウンドロビンで Tanaka Aiko に割り当てられました。",
        ),
        "least_loaded": (
            "Assigned to Aiko Tanaka as the least loaded agent.",
            "担当数が最も少ない Tanaka Aiko に割り当てられました。",
        ),
        "queue": ("Assigned to Aiko Tanaka from the queue.", "キューから Tanaka Aiko に割り当てられました。"),
    }
    for by, (english, japanese) in cases.items():
        line = _line("assigned", to=AIKO, to_user_id=1, by=by)
        with translation.override("en"):
            assert describe_event(line) == english
        with translation.override("ja"):
            assert describe_event(line) == japanese


def test_a_requeued_line_names_the_agent_who_went_offline() -> None:
    line = _line("requeued", previous=AIKO, reason="offline")
    with translation.override("en"):
        assert describe_event(line) == "Returned to the queue: Aiko Tanaka went offline."
    with translation.override("ja"):
        assert describe_event(line) == "キューに戻されました：Tanaka Aiko がオフラインになりました。"


def test_a_manual_assignment_still_names_who_assigned() -> None:
    with translation.override("en"):
        assert describe_event(_line("assigned", to=AIKO)) == "The system assigned the conversation to Aiko Tanaka."


def test_the_transcript_shows_the_line_routing_wrote(tenant_a: Tenant, web_client_for: Any) -> None:
    channel = routing_channel(tenant_a)
    agent(tenant_a, channel, "Aiko")
    conversation = waiting(channel)
    conversations_route(conversation_ids=[conversation.pk])

    page = web_client_for(tenant_a.admin).get(f"/o/alpha/inbox/{conversation.pk}/").content.decode()

    assert "Assigned to Aiko by round robin." in page
