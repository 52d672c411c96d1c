"""Labels on conversations: added and removed from the conversation page (htmx) and the API by
whoever sees the conversation, with a system line each; the inbox filtered by one or several
labels, with the labels of each row fetched in one query."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.utils import timezone

from helpdesk.models import Role
from labels.models import Label
from messenger.models import Conversation, ConversationEvent, ConversationLabel
from messenger.selectors import filters as filter_selectors
from messenger.services.conversations.labels import conversations_label_add
from tests import factories
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(tenant_a: Tenant, tenant_b: Tenant) -> dict[str, Any]:
    org = tenant_a.organization
    mine = factories.make_channel(org, tenant_a.department, name="Support chat")
    factories.associate(tenant_a.agent, mine)
    page = factories.make_page(mine)
    ann = factories.make_conversation(page, factories.make_contact(page, display_name="Ann"))
    bob = factories.make_conversation(page, factories.make_contact(page, display_name="Bob"))
    cy = factories.make_conversation(page, factories.make_contact(page, display_name="Cy"))
    for conversation in (ann, bob, cy):
        factories.make_message(conversation)
    theirs = factories.make_channel(org, factories.make_department(org, "Sales"), name="Sales chat")
    other_page = factories.make_page(theirs)
    hidden = factories.make_conversation(other_page, factories.make_contact(other_page, display_name="Sal"))
    return {
        "page": page,
        "ann": ann,
        "bob": bob,
        "cy": cy,
        "hidden": hidden,
        "refund": Label.objects.create(organization=org, name="Refund", color="red"),
        "vip": Label.objects.create(organization=org, name="VIP", color="purple"),
        "foreign": Label.objects.create(organization=tenant_b.organization, name="Bravo's", color="green"),
    }


def _labelled(conversation: Conversation) -> list[str]:
    return sorted(ConversationLabel.objects.filter(conversation=conversation).values_list("label__name", flat=True))


def _add(tenant: Tenant, conversations: list[Conversation], label: Label) -> None:
    conversations_label_add(
        organization=tenant.organization, acting_user=tenant.admin.user, conversations=conversations, label=label
    )


# --- The conversation page -------------------------------------------------------------------


def test_the_conversation_page_shows_its_labels_and_an_add_menu(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    _add(tenant_a, [world["ann"]], world["refund"])
    html = web_client_for(tenant_a.agent).get(f"/o/alpha/inbox/{world['ann'].pk}/").content.decode()
    section = html[html.index('id="conversation-labels"') :]
    section = section[: section.index("</section>")]
    assert 'hd-label hd-label-red"><span class="hd-label-name">Refund</span>' in section
    assert "Remove the label Refund" in section
    # Only the labels it does not have yet are offered.
    assert f'<option value="{world["vip"].pk}">VIP</option>' in section
    assert f'<option value="{world["refund"].pk}">' not in section
    assert "Bravo" not in section


def test_an_agent_adds_a_label_with_htmx_and_the_transcript_says_so(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    ann = world["ann"]
    tenant_a.agent.user.first_name = "Aiko"
    tenant_a.agent.user.save()
    client = web_client_for(tenant_a.agent)
    response = client.post(f"/o/alpha/inbox/{ann.pk}/labels/", {"label": world["refund"].pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'id="conversation-labels"' in response.content.decode()
    assert "Refund" in response["HX-Trigger"]
    assert _labelled(ann) == ["Refund"]
    transcript = client.get(f"/o/alpha/inbox/{ann.pk}/transcript/").content.decode()
    assert "Aiko added the label Refund." in transcript
    response = client.post(f"/o/alpha/inbox/{ann.pk}/labels/{world['refund'].pk}/remove/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert _labelled(ann) == []
    transcript = client.get(f"/o/alpha/inbox/{ann.pk}/transcript/").content.decode()
    assert "Aiko removed the label Refund." in transcript


def test_adding_a_label_twice_writes_one_system_line(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    client = web_client_for(tenant_a.agent)
    for _ in range(2):
        client.post(f"/o/alpha/inbox/{world['ann'].pk}/labels/", {"label": world["refund"].pk})
    assert ConversationEvent.objects.filter(kind=ConversationEvent.Kind.LABEL_ADDED).count() == 1


def test_without_javascript_the_page_comes_back_with_its_filters(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    response = web_client_for(tenant_a.agent).post(
        f"/o/alpha/inbox/{world['ann'].pk}/labels/", {"label": world["vip"].pk, "filters": "state=open"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/o/alpha/inbox/{world['ann'].pk}/?state=open"


def test_the_system_lines_read_in_japanese(tenant_a: Tenant, world: dict[str, Any], web_client_for: Any) -> None:
    tenant_a.organization.language = "ja"
    tenant_a.organization.save()
    _add(tenant_a, [world["ann"]], world["refund"])
    html = web_client_for(tenant_a.admin).get(f"/o/alpha/inbox/{world['ann'].pk}/").content.decode()
    assert "ラベル「Refund」を追加しました。" in html


def test_a_label_of_another_organization_is_404_and_changes_nothing(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    client = web_client_for(tenant_a.admin)
    ann = world["ann"]
    assert client.post(f"/o/alpha/inbox/{ann.pk}/labels/", {"label": world["foreign"].pk}).status_code == 404
    assert client.post(f"/o/alpha/inbox/{ann.pk}/labels/", {"label": "junk"}).status_code == 404
    assert client.post(f"/o/alpha/inbox/{ann.pk}/labels/{world['foreign'].pk}/remove/").status_code == 404
    api = api_client_for(tenant_a.admin)
    assert (
        api.post(f"/api/v1/conversations/{ann.pk}/labels/", {"label": world["foreign"].pk}, format="json").status_code
        == 404
    )
    assert api.delete(f"/api/v1/conversations/{ann.pk}/labels/{world['foreign'].pk}/").status_code == 404
    assert not ConversationLabel.objects.exists()


def test_a_member_of_another_organization_gets_404_everywhere(
    tenant_b: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    ann, refund, foreign = world["ann"], world["refund"], world["foreign"]
    _add_b = {"label": foreign.pk}
    client = web_client_for(tenant_b.admin)
    assert client.post(f"/o/alpha/inbox/{ann.pk}/labels/", _add_b).status_code == 404
    assert client.post(f"/o/bravo/inbox/{ann.pk}/labels/", _add_b).status_code == 404
    assert client.post(f"/o/bravo/inbox/{ann.pk}/labels/{refund.pk}/remove/").status_code == 404
    api = api_client_for(tenant_b.admin)
    assert api.post(f"/api/v1/conversations/{ann.pk}/labels/", _add_b, format="json").status_code == 404
    assert api.delete(f"/api/v1/conversations/{ann.pk}/labels/{refund.pk}/").status_code == 404
    assert not ConversationLabel.objects.exists()


def test_an_agent_of_another_channel_can_neither_label_nor_see(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    hidden, refund = world["hidden"], world["refund"]
    _add(tenant_a, [hidden], refund)
    client = web_client_for(tenant_a.agent)
    assert client.post(f"/o/alpha/inbox/{hidden.pk}/labels/", {"label": world["vip"].pk}).status_code == 404
    assert client.post(f"/o/alpha/inbox/{hidden.pk}/labels/{refund.pk}/remove/").status_code == 404
    api = api_client_for(tenant_a.agent)
    assert (
        api.post(f"/api/v1/conversations/{hidden.pk}/labels/", {"label": world["vip"].pk}, format="json").status_code
        == 404
    )
    assert api.delete(f"/api/v1/conversations/{hidden.pk}/labels/{refund.pk}/").status_code == 404
    assert _labelled(hidden) == ["Refund"]
    # Nor does the label filter reveal it.
    assert api.get(f"/api/v1/conversations/?label={refund.pk}").json()["results"] == []


def test_a_deleted_channels_conversation_stays_readable_and_may_still_be_labelled(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    """A label is the team's own sorting: nothing goes to the customer, so it stays allowed."""
    ann = world["ann"]
    ann.channel.deleted_at = timezone.now()
    ann.channel.save()
    client = web_client_for(tenant_a.agent)
    assert client.get(f"/o/alpha/inbox/{ann.pk}/").status_code == 200
    assert client.post(f"/o/alpha/inbox/{ann.pk}/labels/", {"label": world["vip"].pk}).status_code == 302
    assert _labelled(ann) == ["VIP"]


# --- The API ---------------------------------------------------------------------------------


def test_the_api_adds_and_removes_a_label(tenant_a: Tenant, world: dict[str, Any]) -> None:
    ann, refund = world["ann"], world["refund"]
    api = api_client_for(tenant_a.agent)
    response = api.post(f"/api/v1/conversations/{ann.pk}/labels/", {"label": refund.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["labels"] == [{"id": refund.pk, "name": "Refund", "color": "red"}]
    assert api.get(f"/api/v1/conversations/{ann.pk}/").json()["labels"][0]["name"] == "Refund"
    assert api.delete(f"/api/v1/conversations/{ann.pk}/labels/{refund.pk}/").status_code == 204
    assert api.delete(f"/api/v1/conversations/{ann.pk}/labels/{refund.pk}/").status_code == 204
    assert _labelled(ann) == []
    kinds = list(ConversationEvent.objects.filter(conversation=ann).values_list("kind", flat=True))
    assert kinds == [ConversationEvent.Kind.LABEL_ADDED, ConversationEvent.Kind.LABEL_REMOVED]


@pytest.mark.parametrize("body", [{}, {"label": "x"}, {"label": 0}, {"label": 2**70}])
def test_the_api_refuses_a_body_without_a_label_id(tenant_a: Tenant, world: dict[str, Any], body: Any) -> None:
    response = api_client_for(tenant_a.agent).post(
        f"/api/v1/conversations/{world['ann'].pk}/labels/", body, format="json"
    )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid")


def _api_names(client: Any, query: str) -> list[str]:
    results = client.get(f"/api/v1/conversations/?{query}").json()["results"]
    return sorted(row["contact"]["display_name"] for row in results)


def test_the_api_list_filters_by_one_or_all_of_several_labels(tenant_a: Tenant, world: dict[str, Any]) -> None:
    refund, vip = world["refund"], world["vip"]
    _add(tenant_a, [world["ann"], world["bob"]], refund)
    _add(tenant_a, [world["bob"], world["cy"]], vip)
    api = api_client_for(tenant_a.agent)
    assert _api_names(api, f"label={refund.pk}") == ["Ann", "Bob"]
    assert _api_names(api, f"label={refund.pk}&label={vip.pk}") == ["Bob"]
    assert _api_names(api, f"label={refund.pk},{vip.pk}") == ["Bob"]
    assert _api_names(api, f"label={world['foreign'].pk}") == []
    rows = api.get(f"/api/v1/conversations/?label={vip.pk}").json()["results"]
    bob = next(row for row in rows if row["contact"]["display_name"] == "Bob")
    assert [label["name"] for label in bob["labels"]] == ["Refund", "VIP"]


# --- The inbox list --------------------------------------------------------------------------


def test_the_filters_keep_their_labels_through_as_params() -> None:
    filters = filter_selectors.ConversationFilters.from_params(
        QueryDict("label=7&label=3&label=junk&label=3&state=open")
    )
    assert filters.label_ids == (3, 7)
    assert filters.narrowed
    assert filters.as_params() == {"state": "open", "label": "3,7"}
    # Saved views keep as_params() as a plain dict; the inbox's links carry it urlencoded.
    assert filter_selectors.ConversationFilters.from_params(filters.as_params()) == filters
    assert filter_selectors.ConversationFilters.from_params(QueryDict(urlencode(filters.as_params()))) == filters
    assert filter_selectors.ConversationFilters.from_params({"label": ["3", "7"]}).label_ids == (3, 7)
    assert filter_selectors.ConversationFilters.from_params({}).label_ids == ()


def _inbox_names(html: str) -> list[str]:
    return sorted(re.findall(r'class="hd-contact-name text-truncate">([^<]+)<', html))


def test_the_inbox_filters_by_one_and_by_two_labels(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    refund, vip = world["refund"], world["vip"]
    _add(tenant_a, [world["ann"], world["bob"]], refund)
    _add(tenant_a, [world["bob"], world["cy"]], vip)
    client = web_client_for(tenant_a.agent)
    one = client.get(f"/o/alpha/inbox/?label={refund.pk}").content.decode()
    assert _inbox_names(one) == ["Ann", "Bob"]
    # The filter's checkbox is ticked, and the links of the rows keep the filter.
    assert f'name="label" value="{refund.pk}" id="inbox-label-{refund.pk}" checked' in one
    assert f"?label={refund.pk}" in one
    two = client.get(f"/o/alpha/inbox/?label={refund.pk}&label={vip.pk}").content.decode()
    assert _inbox_names(two) == ["Bob"]
    none = client.get(f"/o/alpha/inbox/?label={world['foreign'].pk}").content.decode()
    assert _inbox_names(none) == [] and "No conversation matches these filters." in none


def test_each_row_shows_its_labels_as_chips_with_their_names(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    _add(tenant_a, [world["bob"]], world["vip"])
    client = web_client_for(tenant_a.agent)
    html = client.get("/o/alpha/inbox/list/").content.decode()
    bob = html[html.index(f'id="conversation-link-{world["bob"].pk}"') :]
    bob = bob[: bob.index("</li>")]
    assert 'class="hd-label hd-label-purple"><span class="hd-label-name">VIP</span>' in bob
    # A label added later changes the row (its cached HTML is keyed by content).
    _add(tenant_a, [world["bob"]], world["refund"])
    html = client.get("/o/alpha/inbox/list/").content.decode()
    bob = html[html.index(f'id="conversation-link-{world["bob"].pk}"') :]
    assert ">Refund</span>" in bob[: bob.index("</li>")]


@pytest.mark.parametrize("rows", [1, 25])
@pytest.mark.parametrize("with_filter", [False, True])
def test_the_inbox_list_costs_the_same_queries_whatever_the_rows_and_labels(
    tenant_a: Tenant,
    world: dict[str, Any],
    web_client_for: Any,
    rows: int,
    with_filter: bool,
    django_assert_num_queries: Any,
) -> None:
    Conversation.objects.filter(pk__in=[world["ann"].pk, world["bob"].pk, world["cy"].pk]).delete()
    page, refund, vip = world["page"], world["refund"], world["vip"]
    labelled = []
    for n in range(rows):
        conversation = factories.make_conversation(page, factories.make_contact(page, display_name=f"C{n}"))
        factories.make_message(conversation)
        labelled.append(conversation)
    _add(tenant_a, labelled, refund)
    _add(tenant_a, labelled, vip)
    client = web_client_for(tenant_a.agent)
    query = f"?label={refund.pk}&label={vip.pk}" if with_filter else ""
    client.get(f"/o/alpha/inbox/{query}")
    # session, user, membership (middleware), the channels (the filter's menu, and each row's),
    # the page's conversations with their contacts, its labels, the views' counts, the saved
    # views, the labels of the filters (no assignee here)
    with django_assert_num_queries(9):
        response = client.get(f"/o/alpha/inbox/{query}")
    assert response.content.decode().count('class="hd-conversation-item') == rows
    assert response.content.decode().count('hd-label-name">VIP<') >= rows
    # the list alone: what the page reads but the filters' labels (the page's channels instead
    # of the menu's)
    with django_assert_num_queries(8):
        client.get(f"/o/alpha/inbox/list/{query}")
    api = api_client_for(tenant_a.agent)
    # the token with its membership, its last-used stamp, the page with contacts, its
    # channels, its labels
    with django_assert_num_queries(5):
        results = api.get(f"/api/v1/conversations/{query}").json()["results"]
    assert len(results) == rows and all(len(row["labels"]) == 2 for row in results)


def test_an_admin_may_also_label_a_conversation_of_any_channel(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    assert tenant_a.admin.role == Role.ADMIN
    response = web_client_for(tenant_a.admin).post(
        f"/o/alpha/inbox/{world['hidden'].pk}/labels/", {"label": world["vip"].pk}
    )
    assert response.status_code == 302
    assert _labelled(world["hidden"]) == ["VIP"]


def test_the_conversation_page_keeps_the_label_filter_of_the_list_beside_it(
    tenant_a: Tenant, world: dict[str, Any], web_client_for: Any
) -> None:
    refund = world["refund"]
    _add(tenant_a, [world["ann"]], refund)
    html = web_client_for(tenant_a.agent).get(f"/o/alpha/inbox/{world['ann'].pk}/?label={refund.pk}").content.decode()
    assert f'name="label" value="{refund.pk}" id="inbox-label-{refund.pk}" checked' in html
    assert _inbox_names(html) == ["Ann"]
