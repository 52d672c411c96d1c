"""The inbox's views (mine, unassigned, all) with their counts, and its sorts (newest, longest
waiting, reply window closing soonest) with their keyset pages, in the HTML inbox and the API."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from helpdesk.models import Membership
from messenger.conversation_order import ConversationSort, ConversationView
from messenger.models import Conversation, ConversationState
from messenger.reply_window import reply_window
from messenger.selectors import conversations as conversation_selectors
from messenger.selectors import filters as filter_selectors
from tests import factories
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _conversation(page: Any, name: str, **fields: Any) -> Conversation:
    conversation = factories.make_conversation(page, factories.make_contact(page, display_name=name))
    if fields:
        Conversation.objects.filter(pk=conversation.pk).update(**fields)
        conversation.refresh_from_db()
    return conversation


@pytest.fixture
def world(tenant_a: Tenant) -> dict[str, Any]:
    """The agent is associated with `support` only; `sales` is another department's."""
    org = tenant_a.organization
    support = factories.make_channel(org, tenant_a.department, name="Support")
    sales = factories.make_channel(org, factories.make_department(org, "Sales"), name="Sales")
    factories.associate(tenant_a.agent, support)
    support_page, sales_page = factories.make_page(support), factories.make_page(sales)
    agent, admin = tenant_a.agent.user, tenant_a.admin.user
    now = timezone.now()
    return {
        "now": now,
        "support_page": support_page,
        "agent_open": _conversation(support_page, "Agent open", assignee=agent, last_message_at=now),
        "agent_closed": _conversation(
            support_page, "Agent closed", assignee=agent, state=ConversationState.CLOSED, last_message_at=now
        ),
        "queued": _conversation(support_page, "Queued", last_message_at=now, queued_at=now),
        "closed_unassigned": _conversation(
            support_page, "Closed unassigned", state=ConversationState.CLOSED, last_message_at=now
        ),
        "admin_open": _conversation(support_page, "Admin open", assignee=admin, last_message_at=now),
        "sales_open": _conversation(sales_page, "Sales open", last_message_at=now),
        "sales_admin": _conversation(sales_page, "Sales admin", assignee=admin, last_message_at=now),
    }


def _listed(membership: Membership, **filters: Any) -> list[str]:
    conversations = conversation_selectors.conversation_list(
        organization=membership.organization,
        membership=membership,
        filters=filter_selectors.ConversationFilters(**filters),
    )
    return sorted(c.contact.display_name for c in conversations)


# --- Views ------------------------------------------------------------------------------------


def test_mine_holds_the_conversations_assigned_to_the_member_in_any_state(
    tenant_a: Tenant, world: dict[str, Any]
) -> None:
    assert _listed(tenant_a.agent, view=ConversationView.MINE) == ["Agent closed", "Agent open"]
    assert _listed(tenant_a.admin, view=ConversationView.MINE) == ["Admin open", "Sales admin"]


def test_unassigned_is_the_queue_of_open_conversations_nobody_holds(tenant_a: Tenant, world: dict[str, Any]) -> None:
    assert _listed(tenant_a.admin, view=ConversationView.UNASSIGNED) == ["Queued", "Sales open"]
    # The agent's queue is that of their channels only.
    assert _listed(tenant_a.agent, view=ConversationView.UNASSIGNED) == ["Queued"]


def test_all_is_the_whole_organization_for_an_admin_and_the_agents_channels_for_an_agent(
    tenant_a: Tenant, world: dict[str, Any]
) -> None:
    assert len(_listed(tenant_a.admin, view=ConversationView.ALL)) == 7
    assert _listed(tenant_a.agent, view=ConversationView.ALL) == [
        "Admin open",
        "Agent closed",
        "Agent open",
        "Closed unassigned",
        "Queued",
    ]


def test_the_counts_are_the_open_conversations_of_each_view_as_the_member_sees_them(
    tenant_a: Tenant, world: dict[str, Any], tenant_b: Tenant, django_assert_num_queries: Any
) -> None:
    elsewhere = factories.make_page(factories.make_channel(tenant_b.organization, tenant_b.department))
    _conversation(elsewhere, "Other organization")
    with django_assert_num_queries(1):
        admin = conversation_selectors.conversation_counts(
            organization=tenant_a.organization, membership=tenant_a.admin
        )
    assert (admin.mine, admin.unassigned, admin.all) == (2, 2, 5)
    agent = conversation_selectors.conversation_counts(organization=tenant_a.organization, membership=tenant_a.agent)
    assert (agent.mine, agent.unassigned, agent.all) == (1, 1, 3)


def test_an_unknown_view_or_sort_in_the_inbox_is_the_default_not_an_error() -> None:
    filters = filter_selectors.ConversationFilters.from_params({"view": "everything", "sort": "random"})
    assert (filters.view, filters.sort) == (ConversationView.ALL, ConversationSort.NEWEST)


# --- Sorts ------------------------------------------------------------------------------------


def _names(conversations: Any) -> list[str]:
    return [c.contact.display_name for c in conversations]


@pytest.fixture
def waiting(tenant_a: Tenant, world: dict[str, Any]) -> dict[str, Any]:
    """Support conversations the customer waits in (two since the same instant), and some not."""
    page, now = world["support_page"], world["now"]
    Conversation.objects.all().delete()
    since = now - timedelta(minutes=30)
    rows = {
        "w1": _conversation(page, "Waits 2 h", waiting_since=now - timedelta(hours=2), last_message_at=now),
        "t1": _conversation(page, "Waits 30 min (a)", waiting_since=since, last_message_at=now - timedelta(hours=3)),
        "n1": _conversation(page, "Answered (a)", last_message_at=now - timedelta(minutes=1)),
        "t2": _conversation(page, "Waits 30 min (b)", waiting_since=since, last_message_at=now),
        "w2": _conversation(page, "Waits 1 min", waiting_since=now - timedelta(minutes=1), last_message_at=now),
        "n2": _conversation(page, "Answered (b)", last_message_at=None),
    }
    return rows


def test_longest_waiting_puts_the_oldest_unanswered_customer_first_and_those_not_waiting_last(
    tenant_a: Tenant, waiting: dict[str, Any]
) -> None:
    conversations = conversation_selectors.conversation_list(
        organization=tenant_a.organization,
        membership=tenant_a.agent,
        filters=filter_selectors.ConversationFilters(sort=ConversationSort.WAITING),
    )
    assert _names(conversations) == [
        "Waits 2 h",
        "Waits 30 min (a)",  # the same instant: by id
        "Waits 30 min (b)",
        "Waits 1 min",
        "Answered (a)",
        "Answered (b)",
    ]


@pytest.fixture
def windows(tenant_a: Tenant, world: dict[str, Any]) -> dict[str, Any]:
    """Support conversations in every kind of reply window. `Agent window, 1 h left` and
    `Reply window, 1 h left` close at the same instant."""
    page, now = world["support_page"], world["now"]
    Conversation.objects.all().delete()
    hour, day = timedelta(hours=1), timedelta(days=1)
    return {
        "standard_5h": _conversation(page, "Reply window, 5 h left", last_inbound_at=now - 19 * hour),
        "agent_1h_a": _conversation(page, "Agent window, 1 h left", last_inbound_at=now - 7 * day + hour),
        "standard_1h": _conversation(page, "Reply window, 1 h left", last_inbound_at=now - 23 * hour),
        "never": _conversation(page, "Never wrote", last_inbound_at=None),
        "agent_3d": _conversation(page, "Agent window, 3 days left", last_inbound_at=now - 4 * day),
        "standard_23h": _conversation(page, "Reply window, 23 h left", last_inbound_at=now - hour),
        "closed": _conversation(page, "Window closed", last_inbound_at=now - 8 * day),
        "agent_1h_b": _conversation(page, "Agent window, 1 h left too", last_inbound_at=now - 7 * day + hour),
    }


WINDOW_ORDER = [
    "Agent window, 1 h left",
    "Reply window, 1 h left",  # the same closing time as the agent window around it: by id
    "Agent window, 1 h left too",
    "Reply window, 5 h left",
    "Reply window, 23 h left",
    "Agent window, 3 days left",
    "Never wrote",  # closed windows last, by id
    "Window closed",
]


def test_window_closing_orders_open_windows_by_their_next_closing_time_and_closed_ones_last(
    tenant_a: Tenant, windows: dict[str, Any], world: dict[str, Any]
) -> None:
    conversations = conversation_selectors.conversation_list(
        organization=tenant_a.organization,
        membership=tenant_a.admin,
        filters=filter_selectors.ConversationFilters(sort=ConversationSort.WINDOW_CLOSING),
    )
    assert _names(conversations) == WINDOW_ORDER


def _all_pages(membership: Membership, sort: ConversationSort, *, page_size: int) -> tuple[list[str], int]:
    conversations = conversation_selectors.conversation_list(
        organization=membership.organization,
        membership=membership,
        filters=filter_selectors.ConversationFilters(sort=sort),
    )
    seen: list[str] = []
    cursor, pages = None, 0
    while True:
        page = conversation_selectors.conversation_page(conversations, cursor=cursor, page_size=page_size, sort=sort)
        seen += _names(page.conversations)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            return seen, pages


@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_paging_through_longest_waiting_shows_every_conversation_once_in_order(
    tenant_a: Tenant, waiting: dict[str, Any], page_size: int
) -> None:
    everything = _names(
        conversation_selectors.conversation_list(
            organization=tenant_a.organization,
            membership=tenant_a.agent,
            filters=filter_selectors.ConversationFilters(sort=ConversationSort.WAITING),
        )
    )
    seen, pages = _all_pages(tenant_a.agent, ConversationSort.WAITING, page_size=page_size)
    assert seen == everything
    assert pages == -(-len(everything) // page_size)


@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_paging_through_window_closing_shows_every_conversation_once_in_order(
    tenant_a: Tenant, windows: dict[str, Any], page_size: int
) -> None:
    seen, _pages = _all_pages(tenant_a.admin, ConversationSort.WINDOW_CLOSING, page_size=page_size)
    assert seen == WINDOW_ORDER


@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_paging_through_newest_shows_every_conversation_once_in_order(
    tenant_a: Tenant, waiting: dict[str, Any], page_size: int
) -> None:
    seen, _pages = _all_pages(tenant_a.agent, ConversationSort.NEWEST, page_size=page_size)
    # Newest activity first, no activity (NULL) first of all, ties by id newest first.
    assert seen == ["Answered (b)", "Waits 1 min", "Waits 30 min (b)", "Waits 2 h", "Answered (a)", "Waits 30 min (a)"]


def test_the_later_pages_of_window_closing_keep_the_time_of_the_first_page(
    tenant_a: Tenant, windows: dict[str, Any], world: dict[str, Any]
) -> None:
    """Two hours later the 1-hour windows have moved on (one to the agent window, the others
    closed): a list paged through meanwhile still shows each conversation once."""
    sort = ConversationSort.WINDOW_CLOSING
    conversations = conversation_selectors.conversation_list(
        organization=tenant_a.organization,
        membership=tenant_a.admin,
        filters=filter_selectors.ConversationFilters(sort=sort),
    )
    first = conversation_selectors.conversation_page(conversations, cursor=None, page_size=2, sort=sort)
    seen = _names(first.conversations)
    cursor = first.next_cursor
    later: datetime = timezone.now() + timedelta(hours=2)
    with mock.patch("django.utils.timezone.now", return_value=later):
        while cursor:
            page = conversation_selectors.conversation_page(conversations, cursor=cursor, page_size=2, sort=sort)
            seen += _names(page.conversations)
            cursor = page.next_cursor
    assert seen == WINDOW_ORDER


def test_a_cursor_of_another_sort_or_junk_starts_from_the_top(tenant_a: Tenant, windows: dict[str, Any]) -> None:
    conversations = conversation_selectors.conversation_list(
        organization=tenant_a.organization, membership=tenant_a.admin
    )
    newest_cursor = conversation_selectors.conversation_page(conversations, cursor=None, page_size=2).next_cursor
    for cursor in [newest_cursor, "junk", "d2FpdGluZ3x4fHh8eA"]:
        page = conversation_selectors.conversation_page(
            conversations, cursor=cursor, page_size=2, sort=ConversationSort.WINDOW_CLOSING
        )
        assert _names(page.conversations) == WINDOW_ORDER[:2]


# --- The HTML inbox ---------------------------------------------------------------------------


def _tab(html: str, label: str) -> str:
    match = re.search(rf'<a class="nav-link[^"]*"[^>]*>{label} <span id="inbox-view-count-\w+".*?</span></span>', html)
    assert match, label
    return match.group(0)


def _count(tab_html: str) -> int:
    match = re.search(r'<span aria-hidden="true">(\d+)</span>', tab_html)
    assert match
    return int(match.group(1))


def test_the_inbox_shows_each_view_with_its_count_and_marks_the_current_one(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    html = web_client_for(tenant_a.admin).get("/o/alpha/inbox/").content.decode()
    mine, unassigned, everything = _tab(html, "Mine"), _tab(html, "Unassigned"), _tab(html, "All")
    assert (_count(mine), _count(unassigned), _count(everything)) == (2, 2, 5)
    assert 'aria-current="page"' in everything and 'aria-current="page"' not in mine
    assert 'href="/o/alpha/inbox/?view=mine"' in mine
    assert '<span class="visually-hidden">2 open</span>' in mine


def test_an_agent_sees_the_counts_and_rows_of_their_own_channels_only(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    client = web_client_for(tenant_a.agent)
    html = client.get("/o/alpha/inbox/").content.decode()
    assert [_count(_tab(html, label)) for label in ("Mine", "Unassigned", "All")] == [1, 1, 3]
    assert "Sales open" not in html
    queue = client.get("/o/alpha/inbox/?view=unassigned").content.decode()
    assert "Queued" in queue and "Agent open" not in queue and "Sales open" not in queue
    assert 'aria-current="page"' in _tab(queue, "Unassigned")


def test_the_view_and_sort_stay_in_the_links_the_form_and_the_polled_list(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    client = web_client_for(tenant_a.agent)
    html = client.get("/o/alpha/inbox/?view=mine&sort=waiting&channel=").content.decode()
    assert '<input type="hidden" name="view" value="mine">' in html
    assert '<option value="waiting" selected>Longest waiting</option>' in html
    assert "/o/alpha/inbox/list/?view=mine&amp;sort=waiting" in html  # htmx polling
    assert f"/o/alpha/inbox/{world['agent_open'].pk}/?view=mine&amp;sort=waiting" in html  # the row's link
    # Another tab keeps the sort and drops the cursor.
    assert 'href="/o/alpha/inbox/?view=unassigned&amp;sort=waiting"' in html
    polled = client.get("/o/alpha/inbox/list/?view=mine&sort=waiting").content.decode()
    assert "Agent open" in polled and "Queued" not in polled
    # The polled answer brings the counts along, out of band.
    assert 'id="inbox-view-count-unassigned" class="badge rounded-pill text-bg-secondary" hx-swap-oob="true"' in polled


def test_a_row_says_how_long_the_customer_has_been_waiting(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    Conversation.objects.filter(pk=world["queued"].pk).update(waiting_since=timezone.now() - timedelta(minutes=12))
    Conversation.objects.filter(pk=world["agent_closed"].pk).update(waiting_since=timezone.now())
    html = web_client_for(tenant_a.agent).get("/o/alpha/inbox/").content.decode()
    assert html.count("Waiting 12 min") == 1
    assert html.count("Waiting ") == 1  # not on a closed conversation


def test_the_views_sorts_and_waiting_time_are_in_japanese(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    tenant_a.agent.language = "ja"
    tenant_a.agent.save(update_fields=["language"])
    Conversation.objects.filter(pk=world["queued"].pk).update(waiting_since=timezone.now() - timedelta(minutes=12))
    html = web_client_for(tenant_a.agent).get("/o/alpha/inbox/").content.decode()
    labels = ["自分の担当", "未割り当て", "すべて", "並べ替え", "待ち時間の長い順", "返信期限の近い順", "12 分 待ち"]
    for text in labels:
        assert text in html, text
    assert "オープン 1 件" in html


@pytest.mark.parametrize("view", ["mine", "unassigned", "all"])
@pytest.mark.parametrize("sort", ["newest", "waiting", "window_closing"])
def test_the_inbox_costs_the_same_queries_in_every_view_and_sort(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any, view: str, sort: str, django_assert_num_queries: Any
) -> None:
    client = web_client_for(tenant_a.agent)
    url = f"/o/alpha/inbox/?view={view}&sort={sort}"
    client.get(url)
    # session, user, membership (middleware), the channels (the filter's menu, and each row's),
    # the page's conversations with their contacts and assignees, its labels, the views' counts,
    # the saved views, the labels of the filters; the polled list reads the page's channels
    # instead of the menu's
    with django_assert_num_queries(9):
        assert client.get(url).status_code == 200
    with django_assert_num_queries(8):
        client.get(url.replace("/inbox/", "/inbox/list/"))


def test_another_organizations_member_gets_404_for_the_views(
    tenant_a: Tenant, tenant_b: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    client = web_client_for(tenant_b.admin)
    assert client.get("/o/alpha/inbox/?view=unassigned&sort=waiting").status_code == 404
    assert client.get("/o/alpha/inbox/list/?view=all&sort=window_closing").status_code == 404


# --- The API ----------------------------------------------------------------------------------


def _api_names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["contact"]["display_name"] for row in response.json()["results"]]


def test_the_api_lists_a_view(tenant_a: Tenant, world: dict[str, Any]) -> None:
    agent = api_client_for(tenant_a.agent)
    assert sorted(_api_names(agent.get("/api/v1/conversations/?view=mine"))) == ["Agent closed", "Agent open"]
    assert _api_names(agent.get("/api/v1/conversations/?view=unassigned")) == ["Queued"]
    assert len(_api_names(agent.get("/api/v1/conversations/?view=all"))) == 5
    admin = api_client_for(tenant_a.admin)
    assert len(_api_names(admin.get("/api/v1/conversations/?view=all"))) == 7


def test_the_api_pages_through_a_sort_with_its_cursor(tenant_a: Tenant, windows: dict[str, Any]) -> None:
    client = api_client_for(tenant_a.admin)
    url: str | None = "/api/v1/conversations/?sort=window_closing&page_size=3"
    seen: list[str] = []
    while url:
        response = client.get(url)
        seen += _api_names(response)
        url = response.json()["next"]
    assert seen == WINDOW_ORDER


def test_the_api_sorts_by_longest_waiting_and_returns_the_waiting_and_queue_times(
    tenant_a: Tenant, waiting: dict[str, Any]
) -> None:
    queued_at = timezone.now() - timedelta(minutes=5)
    Conversation.objects.filter(pk=waiting["w1"].pk).update(queued_at=queued_at)
    response = api_client_for(tenant_a.agent).get("/api/v1/conversations/?sort=waiting")
    assert _api_names(response)[:2] == ["Waits 2 h", "Waits 30 min (a)"]
    first, last = response.json()["results"][0], response.json()["results"][-1]
    assert first["waiting_since"] == waiting["w1"].waiting_since.isoformat().replace("+00:00", "Z")
    assert first["queued_at"] == queued_at.isoformat().replace("+00:00", "Z")
    assert last["waiting_since"] is None and last["queued_at"] is None


@pytest.mark.parametrize(
    ("query", "code"),
    [("view=everything", "invalid_view"), ("sort=oldest", "invalid_sort"), ("view=&sort=WAITING", "invalid_sort")],
)
def test_the_api_refuses_an_unknown_view_or_sort(
    tenant_a: Tenant, world: dict[str, Any], query: str, code: str
) -> None:
    response = api_client_for(tenant_a.agent).get(f"/api/v1/conversations/?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_the_api_counts_each_view_for_the_caller(tenant_a: Tenant, world: dict[str, Any]) -> None:
    assert api_client_for(tenant_a.admin).get("/api/v1/conversations/counts/").json() == {
        "mine": 2,
        "unassigned": 2,
        "all": 5,
    }
    assert api_client_for(tenant_a.agent).get("/api/v1/conversations/counts/").json() == {
        "mine": 1,
        "unassigned": 1,
        "all": 3,
    }


def test_another_organizations_member_counts_only_their_own(
    tenant_a: Tenant, tenant_b: Tenant, world: dict[str, Any]
) -> None:
    client = api_client_for(tenant_b.admin)
    assert client.get("/api/v1/conversations/counts/").json() == {"mine": 0, "unassigned": 0, "all": 0}
    assert client.get("/api/v1/conversations/?view=unassigned").json()["results"] == []
    assert client.get(f"/api/v1/conversations/{world['queued'].pk}/").status_code == 404


@pytest.mark.parametrize("view", ["mine", "unassigned", "all"])
@pytest.mark.parametrize("sort", ["newest", "waiting", "window_closing"])
def test_the_api_list_costs_the_same_queries_in_every_view_and_sort(
    tenant_a: Tenant, world: dict[str, Any], view: str, sort: str, django_assert_num_queries: Any
) -> None:
    client = api_client_for(tenant_a.admin)
    # the token with its membership, the token's last-used stamp, the page's conversations
    # with their contacts and assignees, its channels, its labels
    with django_assert_num_queries(5):
        assert client.get(f"/api/v1/conversations/?view={view}&sort={sort}&page_size=2").status_code == 200
    # the token with its membership (stamped already), the counts
    with django_assert_num_queries(2):
        assert client.get("/api/v1/conversations/counts/").status_code == 200


def test_the_schema_documents_the_views_sorts_counts_and_times(tenant_a: Tenant) -> None:
    schema = api_client_for(tenant_a.admin).get("/api/schema/?format=json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/conversations/"]["get"]["parameters"]}
    assert set(parameters["view"]["schema"]["enum"]) == {"mine", "unassigned", "all"}
    assert set(parameters["sort"]["schema"]["enum"]) == {"newest", "waiting", "window_closing"}
    assert "/api/v1/conversations/counts/" in schema["paths"]
    conversation = schema["components"]["schemas"]["Conversation"]["properties"]
    assert {"waiting_since", "queued_at"} <= set(conversation)


def test_an_empty_view_says_what_it_would_hold(tenant_a: Tenant, world: dict[str, Any], web_client_for: Any) -> None:
    Conversation.objects.all().delete()
    client = web_client_for(tenant_a.agent)
    assert "No conversation is assigned to you." in client.get("/o/alpha/inbox/?view=mine").content.decode()
    queue = client.get("/o/alpha/inbox/?view=unassigned").content.decode()
    assert "No open conversation waits for someone to take it." in queue


def test_the_pages_of_another_sort_than_newest_are_first_and_next(
    tenant_a: Tenant, windows: dict[str, Any], web_client_for: Any
) -> None:
    client = web_client_for(tenant_a.admin)
    with mock.patch("messenger.views.conversation_list.PAGE_SIZE", 3):
        first = client.get("/o/alpha/inbox/?sort=window_closing").content.decode()
        link = re.search(r'href="(/o/alpha/inbox/\?sort=window_closing&amp;cursor=[^"]+)">Next page</a>', first)
        assert link
        second = client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert 'href="/o/alpha/inbox/?sort=window_closing">First page</a>' in second
    assert "Reply window, 5 h left" in second and "Agent window, 1 h left</span>" not in second


def test_an_open_conversation_keeps_the_view_and_sort_in_its_tabs_forms_and_list(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    client = web_client_for(tenant_a.agent)
    html = client.get(f"/o/alpha/inbox/{world['agent_open'].pk}/?view=mine&sort=waiting").content.decode()
    assert 'aria-current="page"' in _tab(html, "Mine")
    assert 'name="filters" value="view=mine&amp;sort=waiting"' in html  # what its actions come back to
    assert f"/o/alpha/inbox/list/?view=mine&amp;sort=waiting&amp;active={world['agent_open'].pk}" in html


def test_window_closing_pages_agree_with_reply_window_on_every_boundary(
    tenant_a: Tenant, world: dict[str, Any]
) -> None:
    """The SQL order and its keyset are reply_window's rule: customers' last messages on and
    around each window's edge, in the future, long ago, missing, and several at one instant."""
    page, now = world["support_page"], world["now"]
    Conversation.objects.all().delete()
    tick = timedelta(microseconds=1)
    hour, day = timedelta(hours=1), timedelta(days=1)
    offsets: list[timedelta | None] = [None, 30 * day, 7 * day + tick, 7 * day, 7 * day - tick, 6 * day + 23 * hour]
    offsets += [day + tick, day, day - tick, 23 * hour, hour, tick, timedelta(0), -hour, None]
    offsets += [day, 7 * day, day - tick, 6 * day]  # the same instants again: ties by id
    for n, offset in enumerate(offsets):
        _conversation(page, f"C{n}", last_inbound_at=None if offset is None else now - offset)

    def expected_key(conversation: Conversation) -> tuple[Any, ...]:
        window = reply_window(conversation.last_inbound_at, now=now)
        return (0, window.closes_at, conversation.pk) if window.is_open else (1, conversation.pk)

    conversations = Conversation.objects.select_related("contact")
    expected = [c.contact.display_name for c in sorted(conversations, key=expected_key)]
    with mock.patch("django.utils.timezone.now", return_value=now):
        for page_size in (1, 2, 3, 5):
            seen, _pages = _all_pages(tenant_a.admin, ConversationSort.WINDOW_CLOSING, page_size=page_size)
            assert seen == expected, page_size
