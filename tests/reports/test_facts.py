"""The facts job: set-based, idempotent, catching up with what changed."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from messenger.models import Conversation, Direction
from reports import services, tasks
from reports.models import ConversationFact, FactsWatermark
from tests import factories
from tests.reports.conftest import NOW, Dataset, _resolve


def test_a_second_run_changes_nothing(dataset: Dataset) -> None:
    before = list(ConversationFact.objects.order_by("pk").values())

    assert services.facts_refresh(organization=dataset.tenant.organization, now=NOW + timedelta(hours=1)) == 0
    assert list(ConversationFact.objects.order_by("pk").values()) == before


def test_the_facts_hold_the_hand_computed_times(dataset: Dataset) -> None:
    c4 = ConversationFact.objects.get(conversation=dataset.conversations["c4"])
    assert (c4.first_response_at - c4.received_at).total_seconds() == 600
    assert c4.unanswered_since == dataset.conversations["c4"].messages.order_by("-sent_at").first().sent_at
    c3 = ConversationFact.objects.get(conversation=dataset.conversations["c3"])
    assert (c3.first_response_at - c3.received_at).total_seconds() == 300
    assert c3.unanswered_since is None
    c5 = ConversationFact.objects.get(conversation=dataset.conversations["c5"])
    assert c5.first_response_at is None and c5.first_responder_id is None


def test_a_reply_a_new_holder_and_a_resolution_are_caught_up_on_the_next_run(dataset: Dataset) -> None:
    c5 = dataset.conversations["c5"]
    at = NOW - timedelta(hours=1)
    factories.make_message(c5, direction=Direction.OUTBOUND, sent_at=at, author=dataset.tenant.agent.user)
    Conversation.objects.filter(pk=c5.pk).update(last_message_at=at, assignee=dataset.tenant.agent.user)
    _resolve(dataset.conversations["c3"], NOW)

    assert services.facts_refresh(organization=dataset.tenant.organization, now=NOW) == 2

    fact = ConversationFact.objects.get(conversation=c5)
    assert (fact.first_response_at, fact.assignee_id, fact.unanswered_since) == (at, dataset.tenant.agent.user_id, None)
    assert ConversationFact.objects.get(conversation=dataset.conversations["c3"]).resolved_at == NOW


def test_the_job_is_a_fixed_number_of_queries_in_batches(dataset: Dataset) -> None:
    ConversationFact.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        written = services.facts_refresh(now=NOW, batch_size=4)
    # One scan for the changed conversations, then per batch of 4 one upsert and one read for
    # the SLA times, and one update where they differ (the first batch: c5 and c6, never
    # answered nor resolved, have none). Elsewhere than on PostgreSQL each batch reads the facts
    # kept before comparing them in Python: one more per batch.
    assert written == 6
    assert sum("ON CONFLICT" in query["sql"] for query in queries) == 2
    assert sum("reports_conversationfact" in query["sql"] for query in queries) == (
        6 if services.facts_in_sql() else 6 + 2
    )
    assert FactsWatermark.objects.get().refreshed_at == NOW


def test_a_conversation_the_customer_never_wrote_in_has_no_facts(dataset: Dataset) -> None:
    silent = factories.make_conversation(dataset.front.facebook_pages.get())

    services.facts_refresh(organization=dataset.tenant.organization, now=NOW)

    assert not ConversationFact.objects.filter(conversation=silent).exists()


def test_the_task_refreshes_every_organization(dataset: Dataset) -> None:
    ConversationFact.objects.all().delete()
    assert tasks.facts_refresh() == 6
    assert tasks.facts_refresh() == 0
