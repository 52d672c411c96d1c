"""The reports' figures and the facts do not depend on the database's path.

PostgreSQL folds each report in SQL (reports.selectors.report_rows_in_sql) and writes the facts
with one statement per batch; any other database (the embedded SQLite defaults) folds the same
rows in Python (report_rows_in_python) and computes the facts in Python. Both paths run on
PostgreSQL, so this file runs them side by side on the same data: the hand-computed dataset of
conftest.py with its SLA policies and ratings, and random facts, losses, ratings, canned uses
and online spells (hypothesis) in time zones with and without summer time. Every report, in
every group, for an admin and for an agent, must give the same keys and the same figures,
exactly (before rounding for display).

On SQLite only the Python path exists: the hand-computed tests of this folder check it there.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from availability.models import AvailabilityChange, ChangeReason, Status
from canned.models import CannedResponse, CannedResponseUse, CannedScope
from csat.models import Survey, SurveyOccasion, SurveyStatus
from helpdesk.models import Membership
from messenger.models import Conversation, Direction, WindowLoss
from reports import selectors, services
from reports.models import ConversationFact
from reports.selectors import Period, ReportQuery
from tests import factories
from tests.conftest import Tenant
from tests.reports.conftest import NOW, Dataset, _resolve, build
from tests.reports.test_sla_and_csat import rated, with_sla

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="only PostgreSQL has both paths")
__all__ = ["rated", "with_sla"]


def _both_paths(
    organization: Any, membership: Membership, period: Period, now: datetime
) -> Iterator[tuple[str, Any, Any]]:
    for report in selectors.REPORTS.values():
        for group in report.groups:
            query = ReportQuery(organization, membership, period, group, now)
            yield (
                f"{report.name} by {group} for {membership.role}",
                selectors.report_rows_in_sql(report, query),
                selectors.report_rows_in_python(report, query),
            )


def _assert_the_paths_agree(tenant: Tenant, period: Period, now: datetime) -> int:
    """Answers how many rows were compared (a comparison of nothing proves nothing)."""
    compared = 0
    for membership in (tenant.admin, tenant.agent):
        for name, in_sql, in_python in _both_paths(tenant.organization, membership, period, now):
            assert in_python == in_sql, name
            compared += len(in_sql)
    return compared


@pytest.mark.parametrize("later", [timedelta(0), timedelta(days=2)])
def test_every_report_folds_the_hand_computed_dataset_the_same_way(
    with_sla: Dataset, rated: Dataset, later: timedelta
) -> None:
    # `later`: c6's first response target (3 days) falls due in between.
    assert _assert_the_paths_agree(with_sla.tenant, Period(date(2026, 2, 1), date(2026, 3, 31)), NOW + later) > 50


def _facts() -> list[dict[str, Any]]:
    return list(ConversationFact.objects.order_by("pk").values())


def _in_python() -> Any:
    return mock.patch.object(services, "facts_in_sql", autospec=True, return_value=False)


def test_both_paths_write_the_same_facts(with_sla: Dataset) -> None:
    organization = with_sla.tenant.organization
    in_sql = _facts()
    ConversationFact.objects.all().delete()

    with _in_python():
        assert services.facts_refresh(organization=organization, now=NOW) == 6
        assert _facts() == in_sql
        assert services.facts_refresh(organization=organization, now=NOW) == 0
    # Each path finds the other's facts up to date.
    assert services.facts_refresh(organization=organization, now=NOW) == 0


def test_both_paths_catch_up_with_the_same_changes(with_sla: Dataset) -> None:
    tenant, conversations = with_sla.tenant, with_sla.conversations
    organization = tenant.organization
    at = NOW - timedelta(hours=1)
    # A reply and a new holder (c5), a resolution (c3), a customer writing again (c1), a reply
    # tied with another at the same instant (c6), and a conversation nobody wrote in yet.
    factories.make_message(conversations["c5"], direction=Direction.OUTBOUND, sent_at=at, author=tenant.agent.user)
    Conversation.objects.filter(pk=conversations["c5"].pk).update(last_message_at=at, assignee=tenant.agent.user)
    _resolve(conversations["c3"], NOW)
    factories.make_message(conversations["c1"], sent_at=at)
    Conversation.objects.filter(pk=conversations["c1"].pk).update(last_inbound_at=at, last_message_at=at)
    for author in (tenant.agent.user, tenant.agent.user):
        factories.make_message(conversations["c6"], direction=Direction.OUTBOUND, sent_at=at, author=author)
    Conversation.objects.filter(pk=conversations["c6"].pk).update(last_message_at=at)
    factories.make_conversation(with_sla.front.facebook_pages.get())

    changed = services.changed_conversation_ids(organization=organization)
    with _in_python():
        assert services.changed_conversation_ids(organization=organization) == changed
        assert services.changed_conversation_ids() == services.changed_conversation_ids(organization=organization)
        assert services.facts_refresh(organization=organization, now=NOW) == 4
    caught_up_in_python = _facts()
    ConversationFact.objects.all().delete()
    services.facts_refresh(organization=organization, now=NOW)

    assert sorted(changed) == sorted(conversations[name].pk for name in ("c1", "c3", "c5", "c6"))
    assert _facts() == caught_up_in_python


# --- Random data ----------------------------------------------------------------------------

# Summer time starts or ends inside the period in all but two of them (New York on 8 March,
# London on 29 March, Santiago at midnight on 5 April, Lord Howe by half an hour on 5 April).
ZONES = ("Asia/Tokyo", "UTC", "America/New_York", "Europe/London", "America/Santiago", "Australia/Lord_Howe")
SPAN_DAYS = 48
POOL = 8

UTC = zoneinfo.ZoneInfo("UTC")
START = datetime(2026, 2, 28, tzinfo=UTC)
# When summer time starts or ends in those zones (New York, London, Lord Howe, Santiago).
TRANSITIONS = (
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 4, 4, 15, tzinfo=UTC),
    datetime(2026, 4, 5, 3, tzinfo=UTC),
)
# Spread over the days (hypothesis favours small integers: one draw of microseconds would keep
# every instant on the first day), on the hour or anywhere in it, to the microsecond at times;
# or within a day of a change of summer time.
instants = st.one_of(
    st.builds(
        lambda day, hour, second, micro: START + timedelta(days=day, hours=hour, seconds=second, microseconds=micro),
        st.integers(0, SPAN_DAYS - 1),
        st.integers(0, 23),
        st.one_of(st.just(0), st.integers(0, 3599)),
        st.one_of(st.just(0), st.integers(0, 999_999)),
    ),
    st.builds(
        lambda transition, minutes: transition + timedelta(minutes=minutes),
        st.sampled_from(TRANSITIONS),
        st.integers(-26 * 60, 26 * 60),
    ),
)
# Few distinct values, so that percentiles meet ties; some with fractions of a second.
seconds = st.one_of(st.none(), st.sampled_from([0.0, 1.5, 60.0, 120.0, 300.25, 3600.0]), st.floats(0, 10**6))
maybe_instant = st.one_of(st.none(), instants)


@dataclass
class Pool:
    tenant: Tenant
    channels: list[Any]
    conversations: list[Conversation]
    responses: list[CannedResponse]


@pytest.fixture
def pool(tenant_a: Tenant) -> Pool:
    dataset = build(tenant_a)
    channels = [dataset.front, dataset.back]
    conversations = list(dataset.conversations.values())
    while len(conversations) < POOL:
        conversations.append(factories.make_conversation(dataset.back.facebook_pages.get()))
    return Pool(tenant_a, channels, conversations, list(CannedResponse.objects.filter(scope=CannedScope.ORGANIZATION)))


@st.composite
def facts(draw: Any) -> dict[str, Any]:
    received_at = draw(instants)
    answered = draw(st.booleans())
    return {
        "received_at": received_at,
        "first_response_at": received_at + timedelta(seconds=draw(st.integers(0, 86_400 * 3))) if answered else None,
        "resolved_at": draw(maybe_instant),
        "first_response_seconds": draw(seconds) if answered else None,
        "resolution_seconds": draw(seconds),
        "first_response_due_at": draw(maybe_instant),
        "resolution_due_at": draw(maybe_instant),
        "next_response_met": draw(st.integers(0, 3)),
        "next_response_breached": draw(st.integers(0, 3)),
        "next_response_due_at": draw(maybe_instant),
        "lost": draw(st.booleans()),
    }


who = st.sampled_from(["agent", "admin", None])


@dataclass
class World:
    zone: str
    now: datetime
    period: Period
    facts: list[tuple[int, int, str | None, dict[str, Any]]]
    ratings: list[tuple[int, str | None, int | None, datetime | None]]
    uses: list[tuple[int, str, int | None, datetime]]
    spells: list[tuple[str, bool, datetime, timedelta | None]]


@st.composite
def worlds(draw: Any) -> World:
    first = date(2026, 3, 1) + timedelta(days=draw(st.integers(0, 30)))
    return World(
        zone=draw(st.sampled_from(ZONES)),
        now=draw(instants),
        period=Period(first, first + timedelta(days=draw(st.integers(0, 40)))),
        facts=draw(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1), who, facts()), max_size=POOL)),
        ratings=draw(
            st.lists(
                st.tuples(st.integers(0, POOL - 1), who, st.one_of(st.none(), st.integers(1, 5)), maybe_instant),
                max_size=8,
            )
        ),
        uses=draw(
            st.lists(
                st.tuples(
                    st.integers(0, 1),
                    st.sampled_from(["agent", "admin"]),
                    st.one_of(st.none(), st.integers(0, POOL - 1)),
                    instants,
                ),
                max_size=6,
            )
        ),
        spells=draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["agent", "admin"]),
                    st.booleans(),
                    instants,
                    st.one_of(
                        st.none(),
                        st.builds(
                            lambda hours, micro: timedelta(hours=hours, microseconds=micro),
                            st.integers(0, 10 * 24),
                            st.integers(0, 3_600 * 10**6),
                        ),
                    ),
                ),
                max_size=6,
            )
        ),
    )


def _plant(pool: Pool, world: World) -> None:
    tenant = pool.tenant
    organization = tenant.organization
    organization.time_zone = world.zone
    organization.save(update_fields=["time_zone"])
    users = {"agent": tenant.agent.user, "admin": tenant.admin.user, None: None}
    members = {"agent": tenant.agent, "admin": tenant.admin}
    ConversationFact.objects.all().delete()
    WindowLoss.objects.all().delete()
    Survey.objects.all().delete()
    CannedResponseUse.objects.all().delete()
    AvailabilityChange.objects.all().delete()
    for conversation, (channel, responder, holder, fact) in zip(pool.conversations, world.facts, strict=False):
        fact = dict(fact)
        lost = fact.pop("lost")
        channel_row = pool.channels[channel]
        ConversationFact.objects.create(
            conversation=conversation,
            organization=organization,
            channel=channel_row,
            department_id=channel_row.department_id,
            assignee=users[holder],
            first_responder=users[holder] if responder else None,
            refreshed_at=world.now,
            **fact,
        )
        if lost:
            WindowLoss.objects.create(
                organization=organization,
                conversation=conversation,
                channel=channel_row,
                department_id=channel_row.department_id,
                inbound_at=fact["received_at"],
                lost_at=fact["received_at"] + timedelta(days=7),
            )
    for n, (index, agent, score, answered_at) in enumerate(world.ratings):
        conversation = pool.conversations[index]
        Survey.objects.create(
            organization=organization,
            conversation=conversation,
            channel=conversation.channel,
            department=conversation.department,
            agent=users[agent],
            occasion=SurveyOccasion.CONVERSATION_CLOSED,
            occasion_id=n + 1,
            status=SurveyStatus.SENT,
            language="en",
            asked_at=START,
            score=score if answered_at else None,
            answered_at=answered_at if score else None,
        )
    for response, user, index, used_at in world.uses:
        use = CannedResponseUse.objects.create(
            organization=organization,
            canned_response=pool.responses[response],
            user=users[user],
            conversation=None if index is None else pool.conversations[index],
        )
        CannedResponseUse.objects.filter(pk=use.pk).update(used_at=used_at)
    for member, online, started_at, length in world.spells:
        AvailabilityChange.objects.create(
            organization=organization,
            membership=members[member],
            status=Status.ONLINE if online else Status.AWAY,
            reason=ChangeReason.CHOSEN,
            started_at=started_at,
            ended_at=None if length is None else started_at + length,
        )


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(world=worlds())
def test_every_report_folds_random_data_the_same_way(pool: Pool, world: World) -> None:
    note(repr(world))
    with transaction.atomic():
        _plant(pool, world)
        compared = _assert_the_paths_agree(pool.tenant, world.period, world.now)
        print("COMPARED", compared)
        transaction.set_rollback(True)
