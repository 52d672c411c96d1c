"""Saved views: the rules of their services (who may share, rename, delete; unique names per
scope; limits), their counts (the visibility rule, one query, kept briefly), and the inbox's
sidebar (htmx forms, the active view, counts in the polled list, cross-organization 404s)."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.http import QueryDict
from django.utils import timezone

from helpdesk.exceptions import InvalidInput, NotFound, PermissionDenied, SavedViewLimitReached, SavedViewNameTaken
from helpdesk.models import Membership
from messenger import saved_views
from messenger.models import Conversation, ConversationState, SavedView
from messenger.selectors import conversations as conversation_selectors
from messenger.selectors import filters as filter_selectors
from messenger.services import saved_views as services
from tests import factories
from tests.conftest import Tenant

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
    """The agent sees `support` only; `sales` is another department's."""
    org = tenant_a.organization
    support = factories.make_channel(org, tenant_a.department, name="Support")
    sales = factories.make_channel(org, factories.make_department(org, "Sales"), name="Sales")
    factories.associate(tenant_a.agent, support)
    support_page, sales_page = factories.make_page(support), factories.make_page(sales)
    now = timezone.now()
    return {
        "support": support,
        "sales": sales,
        "support_open": _conversation(support_page, "Support open", last_message_at=now),
        "support_mine": _conversation(support_page, "Support mine", assignee=tenant_a.agent.user, last_message_at=now),
        "support_closed": _conversation(support_page, "Support closed", state=ConversationState.CLOSED),
        "sales_open": _conversation(sales_page, "Sales open", last_message_at=now),
        "sales_open_2": _conversation(sales_page, "Sales open 2", last_message_at=now),
    }


def _create(membership: Membership, name: str, query: str = "", *, shared: bool = False) -> SavedView:
    return services.saved_view_create(
        organization=membership.organization,
        membership=membership,
        name=name,
        params=QueryDict(query),
        shared=shared,
    )


def _counts(membership: Membership) -> dict[str, int]:
    entries = saved_views.saved_view_entries(organization=membership.organization, membership=membership)
    return {entry.view.name: entry.count for entry in entries}


# --- Creating, and who may -------------------------------------------------------------------


def test_a_member_keeps_the_inbox_filters_as_a_personal_view(tenant_a: Tenant, world: dict[str, Any]) -> None:
    support = world["support"].pk
    view = _create(tenant_a.agent, "  My queue  ", f"view=unassigned&channel={support}&cursor=abc&junk=1")
    assert view.name == "My queue"
    assert view.owner_id == tenant_a.agent.pk
    # Normalised through the inbox's filters: the cursor and junk are not filters.
    assert view.params == {"channel": [str(support)], "view": ["unassigned"]}


def test_an_admin_shares_a_view_with_everyone(tenant_a: Tenant, world: dict[str, Any]) -> None:
    view = _create(tenant_a.admin, "Open everywhere", "state=open", shared=True)
    assert view.owner_id is None
    # The agent sees it too.
    assert [
        e.view.pk for e in saved_views.saved_view_entries(organization=view.organization, membership=tenant_a.agent)
    ] == [view.pk]


def test_an_agent_cannot_share_a_view(tenant_a: Tenant, world: dict[str, Any]) -> None:
    with pytest.raises(PermissionDenied):
        _create(tenant_a.agent, "Everyone's", shared=True)
    assert not SavedView.objects.exists()


def test_an_agent_cannot_rename_update_or_delete_a_shared_view(tenant_a: Tenant, world: dict[str, Any]) -> None:
    view = _create(tenant_a.admin, "Team", "state=open", shared=True)
    common = {"organization": tenant_a.organization, "membership": tenant_a.agent, "view": view}
    with pytest.raises(PermissionDenied):
        services.saved_view_delete(**common)
    with pytest.raises(PermissionDenied):
        services.saved_view_rename(**common, name="Mine now")
    with pytest.raises(PermissionDenied):
        services.saved_view_update_params(**common, params=QueryDict("state=closed"))
    view.refresh_from_db()
    assert (view.name, view.params) == ("Team", {"state": ["open"]})


def test_another_members_personal_view_is_not_found_even_for_an_admin(tenant_a: Tenant, world: dict[str, Any]) -> None:
    view = _create(tenant_a.agent, "Private")
    with pytest.raises(NotFound):
        saved_views.saved_view_get(organization=tenant_a.organization, membership=tenant_a.admin, view_id=view.pk)
    assert _counts(tenant_a.admin) == {}


@pytest.mark.parametrize("name", ["", "   ", "x" * 61, "a\x00b"])
def test_a_view_needs_a_name_of_one_to_sixty_characters(tenant_a: Tenant, name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        _create(tenant_a.agent, name)
    assert "name" in refused.value.details


def test_a_sixty_character_name_is_kept(tenant_a: Tenant) -> None:
    assert _create(tenant_a.agent, "x" * 60).name == "x" * 60


# --- Names per scope ---------------------------------------------------------------------------


def test_a_duplicate_name_in_the_same_scope_is_refused_whatever_its_case(tenant_a: Tenant) -> None:
    _create(tenant_a.agent, "Refunds")
    with pytest.raises(SavedViewNameTaken) as refused:
        _create(tenant_a.agent, "REFUNDS")
    assert refused.value.code == "view_name_taken"
    _create(tenant_a.admin, "Team", shared=True)
    with pytest.raises(SavedViewNameTaken):
        _create(tenant_a.admin, "team", shared=True)


def test_the_same_name_personal_and_shared_or_for_two_members_is_fine(tenant_a: Tenant) -> None:
    _create(tenant_a.admin, "Refunds", shared=True)
    _create(tenant_a.admin, "refunds")
    _create(tenant_a.agent, "Refunds")
    assert SavedView.objects.filter(name__iexact="refunds").count() == 3


def test_renaming_to_a_name_taken_in_the_scope_is_refused_but_to_its_own_in_another_case_is_fine(
    tenant_a: Tenant,
) -> None:
    _create(tenant_a.agent, "Refunds")
    view = _create(tenant_a.agent, "VIP")
    common = {"organization": tenant_a.organization, "membership": tenant_a.agent, "view": view}
    with pytest.raises(SavedViewNameTaken):
        services.saved_view_rename(**common, name="refunds")
    assert services.saved_view_rename(**common, name="vip").name == "vip"


def test_two_saves_of_one_name_at_once_give_a_conflict_not_an_error(tenant_a: Tenant) -> None:
    _create(tenant_a.agent, "Refunds")
    # The other request's row is there although the check did not see it: the constraint decides.
    with (
        mock.patch("messenger.services.saved_views._check_name_free", autospec=True),
        pytest.raises(SavedViewNameTaken),
    ):
        _create(tenant_a.agent, "refunds")


def test_a_member_may_keep_at_most_fifty_views_and_the_organization_fifty_shared(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    SavedView.objects.bulk_create(
        [SavedView(organization=org, owner=tenant_a.agent, name=f"View {n}") for n in range(50)]
        + [SavedView(organization=org, owner=None, name=f"Shared {n}") for n in range(50)]
    )
    with pytest.raises(SavedViewLimitReached) as refused:
        _create(tenant_a.agent, "One more")
    assert (refused.value.code, refused.value.status) == ("saved_view_limit_reached", 400)
    with pytest.raises(SavedViewLimitReached):
        _create(tenant_a.admin, "One more shared", shared=True)
    # The admin's own views are another scope.
    assert _create(tenant_a.admin, "One more").owner_id == tenant_a.admin.pk


# --- Parameters ----------------------------------------------------------------------------------


def test_repeated_parameters_survive_storage_and_come_back_as_the_request_had_them() -> None:
    stored = {"channel": ["3"], "label": ["1", "2"]}
    query = saved_views.params_querydict(stored)
    assert query.getlist("label") == ["1", "2"]
    assert query.get("channel") == "3"
    assert saved_views.params_query(stored) == "channel=3&label=1&label=2"
    # The order of a repeated parameter does not make another set of filters.
    assert saved_views.params_key({"label": ["2", "1"], "channel": ["3"]}) == saved_views.params_key(stored)


@pytest.mark.parametrize(
    "written",
    [
        {"channel": "3", "label": ["1", "2"]},  # a mapping with a list for the repeated one
        [("channel", "3"), ("label", "1"), ("label", "2")],  # pairs
        QueryDict("channel=3&label=1&label=2"),
    ],
)
def test_a_repeated_filter_is_kept_whatever_shape_the_filters_write_it_in(written: Any) -> None:
    with mock.patch.object(filter_selectors.ConversationFilters, "as_params", autospec=True, return_value=written):
        assert saved_views.params_normalize(QueryDict("")) == {"channel": ["3"], "label": ["1", "2"]}


def test_the_stored_filters_read_back_as_the_same_inbox_filters(tenant_a: Tenant, world: dict[str, Any]) -> None:
    query = f"channel={world['support'].pk}&state=closed&q=refund&view=mine&sort=waiting"
    view = _create(tenant_a.agent, "Round trip", query)
    again = filter_selectors.ConversationFilters.from_params(saved_views.params_querydict(view.params))
    assert again == filter_selectors.ConversationFilters.from_params(QueryDict(query))
    assert QueryDict(saved_views.params_query(view.params)) == QueryDict(query)


def test_labels_chosen_in_the_inbox_are_kept_when_the_inbox_filters_by_label(tenant_a: Tenant) -> None:
    if "label_ids" not in filter_selectors.ConversationFilters.__dataclass_fields__:
        pytest.skip("the inbox does not filter by label in this build")
    from labels.models import Label

    first, second = (Label.objects.create(organization=tenant_a.organization, name=n) for n in ("A", "B"))
    view = _create(tenant_a.agent, "Two labels", f"label={first.pk}&label={second.pk}")
    # Kept as the inbox writes them (ConversationFilters.as_params), read back as both labels.
    again = filter_selectors.ConversationFilters.from_params(saved_views.params_querydict(view.params))
    assert again.label_ids == tuple(sorted((first.pk, second.pk)))


# --- Counts ----------------------------------------------------------------------------------------


def test_a_shared_view_counts_for_each_member_what_they_may_see(tenant_a: Tenant, world: dict[str, Any]) -> None:
    _create(tenant_a.admin, "Everything open", shared=True)
    _create(tenant_a.admin, "Closed", "state=closed", shared=True)
    assert _counts(tenant_a.admin) == {"Closed": 1, "Everything open": 4}
    # The agent sees the support channel only.
    assert _counts(tenant_a.agent) == {"Closed": 1, "Everything open": 2}


def test_views_are_listed_shared_first_then_own_by_name(tenant_a: Tenant) -> None:
    _create(tenant_a.agent, "b mine")
    _create(tenant_a.agent, "A mine")
    _create(tenant_a.admin, "Z shared", shared=True)
    _create(tenant_a.admin, "admin's own")
    entries = saved_views.saved_view_entries(organization=tenant_a.organization, membership=tenant_a.agent)
    assert [(e.view.name, e.shared, e.can_manage) for e in entries] == [
        ("Z shared", True, False),
        ("A mine", False, True),
        ("b mine", False, True),
    ]


@pytest.mark.parametrize(
    "query",
    ["", "view=mine", "view=unassigned", "state=closed", "state=open", "q=Sales", "assignee=none", "channel={sales}"],
)
def test_a_views_count_is_what_its_list_shows_open_ones_unless_it_chooses_a_state(
    tenant_a: Tenant, world: dict[str, Any], query: str
) -> None:
    query = query.format(sales=world["sales"].pk)
    for membership in (tenant_a.admin, tenant_a.agent):
        view = _create(membership, f"View of {membership.pk}", query)
        filters = filter_selectors.ConversationFilters.from_params(QueryDict(query))
        listed = conversation_selectors.conversation_list(
            organization=tenant_a.organization, membership=membership, filters=filters
        )
        if not filters.state:
            listed = listed.filter(state=ConversationState.OPEN)
        counts = saved_views.saved_view_counts([view], organization=tenant_a.organization, membership=membership)
        assert counts == {view.pk: listed.count()}


def test_all_counts_are_one_query_and_are_kept_briefly_per_member(
    tenant_a: Tenant, world: dict[str, Any], django_assert_num_queries: Any
) -> None:
    for n in range(10):
        _create(tenant_a.admin, f"View {n}", "state=closed" if n % 2 else f"channel={world['sales'].pk}")
    _create(tenant_a.admin, "Search", "q=Sales")
    views = list(saved_views.saved_view_list(organization=tenant_a.organization, membership=tenant_a.admin))
    sales = next(view for view in views if view.name == "View 0")
    # The count, and where the search index ends (for the view that searches).
    with django_assert_num_queries(2):
        first = saved_views.saved_view_counts(views, organization=tenant_a.organization, membership=tenant_a.admin)
    with django_assert_num_queries(0):
        again = saved_views.saved_view_counts(views, organization=tenant_a.organization, membership=tenant_a.admin)
    assert first == again
    assert first[sales.pk] == 2
    # Another member, or changed filters, are counted again.
    with django_assert_num_queries(1):
        saved_views.saved_view_counts([sales], organization=tenant_a.organization, membership=tenant_a.agent)
    sales.params = {"state": ["closed"]}
    with django_assert_num_queries(2):
        changed = saved_views.saved_view_counts(views, organization=tenant_a.organization, membership=tenant_a.admin)
    assert changed[sales.pk] == 1


def test_counts_are_made_when_the_cache_is_down(tenant_a: Tenant, world: dict[str, Any]) -> None:
    view = _create(tenant_a.admin, "Open", shared=True)
    with (
        mock.patch.object(cache, "get", side_effect=ConnectionError),
        mock.patch.object(cache, "set", side_effect=ConnectionError),
    ):
        counts = saved_views.saved_view_counts([view], organization=tenant_a.organization, membership=tenant_a.admin)
    assert counts == {view.pk: 4}


def test_a_view_whose_channel_is_gone_still_opens(tenant_a: Tenant, world: dict[str, Any], web_client_for: Any) -> None:
    support = world["support"]
    deleted = _create(tenant_a.agent, "Deleted channel", f"channel={support.pk}")
    vanished = SavedView.objects.create(
        organization=tenant_a.organization, owner=tenant_a.agent, name="Vanished", params={"channel": ["987654"]}
    )
    support.deleted_at = timezone.now()
    support.save(update_fields=["deleted_at"])
    client = web_client_for(tenant_a.agent)
    response = client.get(f"/o/alpha/inbox/?{saved_views.params_query(deleted.params)}")
    assert response.status_code == 200
    # A deleted channel's conversations are still read.
    assert "Support open" in response.content.decode()
    response = client.get(f"/o/alpha/inbox/?{saved_views.params_query(vanished.params)}")
    assert response.status_code == 200
    assert "No conversation matches these filters." in response.content.decode()
    assert _counts(tenant_a.agent) == {"Deleted channel": 2, "Vanished": 0}


def test_a_view_of_a_label_that_is_gone_still_opens(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    SavedView.objects.create(
        organization=tenant_a.organization, owner=tenant_a.agent, name="Gone label", params={"label": ["987654"]}
    )
    response = web_client_for(tenant_a.agent).get("/o/alpha/inbox/?label=987654")
    assert response.status_code == 200
    assert "Gone label" in response.content.decode()
    assert _counts(tenant_a.agent)["Gone label"] in (0, 2)  # dropped (2 open) or matching none (0)


# --- The inbox's sidebar -----------------------------------------------------------------------


def _section(html: str, view: SavedView) -> str:
    match = re.search(rf'<li id="saved-view-{view.pk}".*?</li>\s*(?=<li id="saved-view|</ul>)', html, re.S)
    assert match, html
    return match.group(0)


def test_the_sidebar_lists_the_views_with_their_counts_and_marks_the_one_in_use(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    shared = _create(tenant_a.admin, "Team queue", "view=unassigned", shared=True)
    own = _create(tenant_a.agent, "Closed ones", "state=closed")
    client = web_client_for(tenant_a.agent)
    html = client.get("/o/alpha/inbox/?view=unassigned").content.decode()
    team = _section(html, shared)
    assert "Team queue" in team and 'aria-current="page"' in team and "hd-saved-view active" in team
    assert 'href="/o/alpha/inbox/?view=unassigned"' in team
    # The agent's count of the shared queue: their channels' (one unassigned open conversation).
    assert re.search(r'<span aria-hidden="true">1</span><span class="visually-hidden">1 open', team)
    # An agent has no menu on a shared view, one on their own.
    assert "Actions for the view" not in team
    closed = _section(html, own)
    # Nothing to update in the view in use; the others take the current filters.
    assert "disabled" not in closed
    assert "disabled" in _section(
        web_client_for(tenant_a.agent).get("/o/alpha/inbox/?state=closed").content.decode(), own
    )
    assert 'aria-current="page"' not in closed and "Actions for the view" in closed
    assert "1 closed" in closed
    # The admin's count of the same view is the organization's.
    admin_html = web_client_for(tenant_a.admin).get("/o/alpha/inbox/").content.decode()
    assert re.search(
        r'<span aria-hidden="true">3</span><span class="visually-hidden">3 open', _section(admin_html, shared)
    )


def test_the_polled_list_updates_the_views_counts_out_of_band(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    view = _create(tenant_a.agent, "Open", "state=open")
    response = web_client_for(tenant_a.agent).get("/o/alpha/inbox/list/")
    assert re.search(
        rf'id="saved-view-count-{view.pk}"[^>]*hx-swap-oob="true"><span aria-hidden="true">2<',
        response.content.decode(),
    )


@pytest.mark.parametrize("views", [1, 10])
def test_the_inbox_page_costs_the_same_queries_for_one_or_ten_saved_views(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any, views: int, django_assert_num_queries: Any
) -> None:
    for n in range(views):
        _create(tenant_a.agent, f"View {n}", "state=closed" if n % 2 else f"channel={world['support'].pk}")
    client = web_client_for(tenant_a.agent)
    client.get("/o/alpha/inbox/")
    cache.clear()
    # session, user, membership, the channels (the filter's menu, and each row's), the
    # conversations with their assignees, their labels, the views' counts, the saved views,
    # their counts (one query for all), the labels of the filters
    with django_assert_num_queries(10):
        html = client.get("/o/alpha/inbox/").content.decode()
    assert html.count('class="d-flex align-items-center gap-1 rounded px-1 hd-saved-view') == views
    # Counted a moment ago: the poll reads the views only (and the page's labels).
    with django_assert_num_queries(8):
        client.get("/o/alpha/inbox/list/")


def _post(client: Any, url: str, data: dict[str, str], *, htmx: bool = True) -> Any:
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(url, data, **headers)


def test_saving_a_view_from_the_sidebar_answers_the_section_with_it_and_a_toast(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    client = web_client_for(tenant_a.agent)
    filters = f"channel={world['support'].pk}&view=unassigned"
    response = _post(client, "/o/alpha/inbox/views/new/", {"name": "Support queue", "filters": filters})
    assert response.status_code == 200
    view = SavedView.objects.get(name="Support queue")
    assert view.owner_id == tenant_a.agent.pk
    html = response.content.decode()
    assert 'id="saved-views"' in html and "hd-saved-view active" in _section(html, view)
    # The "Save view" form comes back empty, out of band.
    assert 'id="saved-view-save" class="mt-2" hx-swap-oob="true"' in html
    assert "Support queue" in response["HX-Trigger"]


def test_without_javascript_saving_a_view_goes_back_to_the_inbox_with_its_filters(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    client = web_client_for(tenant_a.agent)
    response = _post(client, "/o/alpha/inbox/views/new/", {"name": "Closed", "filters": "state=closed"}, htmx=False)
    assert (response.status_code, response["Location"]) == (302, "/o/alpha/inbox/?state=closed")


def test_a_duplicate_name_in_the_sidebar_is_a_form_error(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    _create(tenant_a.agent, "Refunds")
    client = web_client_for(tenant_a.agent)
    response = _post(client, "/o/alpha/inbox/views/new/", {"name": "refunds", "filters": "state=open"})
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#saved-view-save"
    html = response.content.decode()
    assert "A saved view with this name already exists here." in html
    assert 'value="refunds"' in html and "is-invalid" in html
    assert SavedView.objects.count() == 1


def test_an_agent_asking_to_share_from_the_sidebar_is_refused(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    client = web_client_for(tenant_a.agent)
    response = _post(client, "/o/alpha/inbox/views/new/", {"name": "Ours", "filters": "", "shared": "on"})
    assert response.status_code == 403
    assert not SavedView.objects.exists()
    # An admin has the checkbox; an agent does not.
    assert 'name="shared"' not in client.get("/o/alpha/inbox/").content.decode()
    assert 'name="shared"' in web_client_for(tenant_a.admin).get("/o/alpha/inbox/").content.decode()


def test_rename_update_and_delete_from_the_sidebar(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    view = _create(tenant_a.agent, "Mine", "view=mine")
    client = web_client_for(tenant_a.agent)
    form = client.get(f"/o/alpha/inbox/views/{view.pk}/rename/?filters=view%3Dmine", HTTP_HX_REQUEST="true")
    assert form.status_code == 200 and 'value="Mine"' in form.content.decode()
    response = _post(client, f"/o/alpha/inbox/views/{view.pk}/rename/save/", {"name": "Assigned to me", "filters": ""})
    assert response.status_code == 200 and "Assigned to me" in response.content.decode()
    response = _post(client, f"/o/alpha/inbox/views/{view.pk}/update/", {"filters": "view=mine&state=closed"})
    assert response.status_code == 200
    view.refresh_from_db()
    assert (view.name, view.params) == ("Assigned to me", {"state": ["closed"], "view": ["mine"]})
    response = _post(client, f"/o/alpha/inbox/views/{view.pk}/delete/", {"filters": ""})
    assert response.status_code == 200 and "No saved views yet" in response.content.decode()
    assert not SavedView.objects.exists()


def test_a_rename_to_a_taken_name_shows_the_error_in_the_row(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    _create(tenant_a.agent, "Refunds")
    view = _create(tenant_a.agent, "VIP")
    response = _post(
        web_client_for(tenant_a.agent), f"/o/alpha/inbox/views/{view.pk}/rename/save/", {"name": "REFUNDS"}
    )
    assert response.status_code == 409
    assert response["HX-Retarget"] == f"#saved-view-{view.pk}"
    assert "A saved view with this name already exists here." in response.content.decode()


def test_an_agent_cannot_delete_or_rename_a_shared_view_from_the_sidebar(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    view = _create(tenant_a.admin, "Team", shared=True)
    client = web_client_for(tenant_a.agent)
    assert _post(client, f"/o/alpha/inbox/views/{view.pk}/delete/", {}).status_code == 403
    assert _post(client, f"/o/alpha/inbox/views/{view.pk}/rename/save/", {"name": "x"}).status_code == 403
    assert _post(client, f"/o/alpha/inbox/views/{view.pk}/update/", {"filters": "state=closed"}).status_code == 403
    assert SavedView.objects.get(pk=view.pk).name == "Team"
    # The admin may.
    assert _post(web_client_for(tenant_a.admin), f"/o/alpha/inbox/views/{view.pk}/delete/", {}).status_code == 200


def _view_urls(view: SavedView) -> list[tuple[str, str]]:
    return [
        ("get", "inbox/views/"),
        ("post", "inbox/views/new/"),
        ("get", f"inbox/views/{view.pk}/rename/"),
        ("post", f"inbox/views/{view.pk}/rename/save/"),
        ("post", f"inbox/views/{view.pk}/update/"),
        ("post", f"inbox/views/{view.pk}/delete/"),
    ]


def test_another_members_personal_view_is_404_on_every_url(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    view = _create(tenant_a.agent, "Private")
    client = web_client_for(tenant_a.admin)
    for method, url in _view_urls(view)[2:]:
        assert getattr(client, method)(f"/o/alpha/{url}", {"name": "x"}).status_code == 404, url
    assert SavedView.objects.get(pk=view.pk).name == "Private"


def test_another_organizations_member_gets_404_on_every_url(
    tenant_a: Tenant, tenant_b: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    view = _create(tenant_a.admin, "Team", shared=True)
    client = web_client_for(tenant_b.admin)
    for method, url in _view_urls(view):
        # Through alpha's address, and through their own organization's with alpha's view.
        assert getattr(client, method)(f"/o/alpha/{url}", {"name": "x"}).status_code == 404, url
        if str(view.pk) in url:
            assert getattr(client, method)(f"/o/bravo/{url}", {"name": "x"}).status_code == 404, url
    assert SavedView.objects.get(pk=view.pk).name == "Team"
    assert not SavedView.objects.filter(organization=tenant_a.organization).exclude(pk=view.pk).exists()


def test_the_services_refuse_a_view_of_another_organization_as_not_found(tenant_a: Tenant, tenant_b: Tenant) -> None:
    view = _create(tenant_a.admin, "Team", shared=True)
    common = {"organization": tenant_b.organization, "membership": tenant_b.admin, "view": view}
    with pytest.raises(NotFound):
        services.saved_view_delete(**common)
    with pytest.raises(NotFound):
        services.saved_view_rename(**common, name="Ours")
    assert SavedView.objects.filter(pk=view.pk, name="Team").exists()
