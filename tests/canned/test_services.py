"""Who writes which canned response, shortcuts per scope, the texts, the language sent."""

from __future__ import annotations

import pytest

from canned import services
from canned.models import CannedResponse
from helpdesk.exceptions import InvalidInput, PermissionDenied, ShortcutTaken
from tests import factories
from tests.canned.conftest import Desk

pytestmark = pytest.mark.django_db


def test_an_admin_shares_with_the_organization_and_a_department(desk: Desk) -> None:
    shared = desk.canned(shortcut="/refund", title="Refund policy", body_en="Refunds take {{ticket.number}} days")
    billing = desk.canned(shortcut="invoice", scope="department", department_id=desk.other_department.pk)
    assert (shared.scope, shared.shortcut, shared.owner) == ("organization", "refund", None)
    assert (billing.scope, billing.department) == ("department", desk.other_department)
    assert shared.search_text == "refund\nrefund policy\nrefunds take {{ticket.number}} days\n"


def test_an_agent_writes_their_own_but_not_a_shared_one(desk: Desk) -> None:
    agent = desk.tenant.agent
    own = desk.canned(by=agent, scope="personal", shortcut="hi")
    assert own.owner == agent
    for scope in ("organization", "department"):
        with pytest.raises(PermissionDenied):
            desk.canned(by=agent, scope=scope, shortcut="mine", department_id=desk.tenant.department.pk)
    assert CannedResponse.objects.count() == 1


def test_an_agent_cannot_change_or_delete_a_shared_one_nor_a_colleagues(desk: Desk) -> None:
    shared = desk.canned(shortcut="hello")
    colleague = factories.make_member(desk.tenant.organization, departments=[desk.tenant.department])
    theirs = desk.canned(by=colleague, scope="personal", shortcut="x")
    agent = desk.tenant.agent
    for response in (shared, theirs):
        with pytest.raises(PermissionDenied):
            services.canned_response_update(
                organization=desk.tenant.organization, membership=agent, canned_response=response, title="Mine now"
            )
        with pytest.raises(PermissionDenied):
            services.canned_response_delete(
                organization=desk.tenant.organization, membership=agent, canned_response=response
            )
    # Nor may an agent move their own into a shared scope.
    own = desk.canned(by=agent, scope="personal", shortcut="own")
    with pytest.raises(PermissionDenied):
        services.canned_response_update(
            organization=desk.tenant.organization, membership=agent, canned_response=own, scope="organization"
        )


@pytest.mark.parametrize(
    ("shortcut", "accepted"),
    [
        ("refund-2_b", "refund-2_b"),
        ("/返金", "返金"),
        ("two words", None),
        ("semi;colon", None),
        ("", None),
        ("x" * 41, None),
    ],
)
def test_shortcuts_are_letters_digits_dashes_and_underscores(desk: Desk, shortcut: str, accepted: str | None) -> None:
    if accepted is None:
        with pytest.raises(InvalidInput) as refused:
            desk.canned(shortcut=shortcut)
        assert "shortcut" in refused.value.details
    else:
        assert desk.canned(shortcut=shortcut).shortcut == accepted


def test_a_shortcut_is_unique_per_scope_whatever_its_case(desk: Desk) -> None:
    desk.canned(shortcut="Refund")
    with pytest.raises(ShortcutTaken) as taken:
        desk.canned(shortcut="/refund")
    assert (taken.value.code, taken.value.status) == ("shortcut_taken", 409)
    # The same shortcut in each department, and in each member's own, is fine.
    desk.canned(shortcut="refund", scope="department", department_id=desk.tenant.department.pk)
    desk.canned(shortcut="refund", scope="department", department_id=desk.other_department.pk)
    desk.canned(by=desk.tenant.agent, scope="personal", shortcut="refund")
    desk.canned(by=desk.tenant.admin, scope="personal", shortcut="refund")
    with pytest.raises(ShortcutTaken):
        desk.canned(shortcut="REFUND", scope="department", department_id=desk.other_department.pk)
    with pytest.raises(ShortcutTaken):
        desk.canned(by=desk.tenant.agent, scope="personal", shortcut="refund")


def test_a_race_on_a_shortcut_is_still_refused_by_the_database(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    desk.canned(shortcut="race")
    monkeypatch.setattr(services, "_shortcut_free_check", lambda canned_response: None)
    with pytest.raises(ShortcutTaken):
        desk.canned(shortcut="RACE")
    assert CannedResponse.objects.filter(shortcut__iexact="race").count() == 1


def test_at_least_one_text_and_a_known_variable(desk: Desk) -> None:
    with pytest.raises(InvalidInput) as refused:
        desk.canned(shortcut="empty", body_en="  ", body_ja="")
    assert "body_en" in refused.value.details
    with pytest.raises(InvalidInput) as refused:
        desk.canned(shortcut="bad", body_ja="{{contact.email}} 様")
    assert refused.value.code == "unknown_variable"
    assert refused.value.details["variable"] == "contact.email"


def test_search_text_follows_an_update(desk: Desk) -> None:
    response = desk.canned(shortcut="ship", title="Shipping")
    services.canned_response_update(
        organization=desk.tenant.organization,
        membership=desk.tenant.admin,
        canned_response=response,
        body_ja="発送は明日です",
    )
    response.refresh_from_db()
    assert "発送は明日です" in response.search_text and response.body_en


@pytest.mark.parametrize(
    ("body_en", "body_ja", "locale", "org_language", "sent"),
    [
        ("Hi", "こんにちは", "ja_JP", "en", "ja"),
        ("Hi", "こんにちは", "en_US", "ja", "en"),
        ("Hi", "こんにちは", "fr_FR", "ja", "en"),
        ("Hi", "こんにちは", "", "ja", "ja"),
        ("Hi", "こんにちは", "", "en", "en"),
        ("Hi", "", "ja_JP", "ja", "en"),
        ("", "こんにちは", "en_GB", "en", "ja"),
    ],
)
def test_the_language_sent(body_en: str, body_ja: str, locale: str, org_language: str, sent: str) -> None:
    response = CannedResponse(body_en=body_en, body_ja=body_ja)
    assert (
        services.body_language(canned_response=response, contact_locale=locale, organization_language=org_language)
        == sent
    )
