"""The variables of a canned response: which are refused when saving, how they are filled in."""

from __future__ import annotations

import pytest

from canned import variables
from canned.variables import UnknownVariable
from tests import factories
from tests.canned.conftest import Desk

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "text",
    [
        "Hello {{contact.first_name}}, I am {{ agent.name }} of {{channel.name}}.",
        "{{contact.name}} — ticket #{{ticket.number}}",
        "A single { brace } is plain text, and so is a smiley :-}",
        "",
    ],
)
def test_known_variables_and_plain_braces_pass(text: str) -> None:
    variables.variables_check(text)


def test_an_unknown_variable_is_refused_and_named() -> None:
    with pytest.raises(UnknownVariable) as refused:
        variables.variables_check("Hello {{ customer.name }}", field="body_ja")
    assert refused.value.code == "unknown_variable"
    assert refused.value.status == 400
    assert refused.value.details["variable"] == "customer.name"
    assert "customer.name" in refused.value.details["body_ja"][0]


@pytest.mark.parametrize("text", ["Hello {{contact.name", "Hello contact.name}}", "{{}}", "{{ {{agent.name}} }}"])
def test_malformed_braces_are_refused(text: str) -> None:
    with pytest.raises(UnknownVariable):
        variables.variables_check(text)


def test_render_fills_every_variable(desk: Desk) -> None:
    agent = desk.tenant.agent.user
    agent.first_name, agent.last_name = "Ken", "Sato"
    text = (
        "Hi {{contact.first_name}} ({{ contact.name }}), {{agent.name}} from {{channel.name}}, "
        "ticket {{ticket.number}}."
    )
    filled = variables.render(text, desk.conversation, agent, language="en", ticket_number=42)
    assert filled == "Hi Hanako (Hanako Yamada), Ken Sato from Support chat, ticket 42."


def test_render_in_japanese_puts_the_family_name_first_and_no_ticket_leaves_it_empty(desk: Desk) -> None:
    agent = desk.tenant.agent.user
    agent.first_name, agent.last_name = "Ken", "Sato"
    filled = variables.render(
        "{{contact.name}}様 {{agent.name}} [{{ticket.number}}]", desk.conversation, agent, language="ja"
    )
    assert filled == "Yamada Hanako様 Sato Ken []"


def test_a_customer_without_a_name_is_greeted_politely_not_with_a_placeholder(desk: Desk) -> None:
    contact = factories.make_contact(desk.page, psid="123456789", display_name="Messenger customer 6789")
    conversation = factories.make_conversation(desk.page, contact)
    assert variables.render("Hello {{contact.first_name}}!", conversation, None, language="en") == "Hello there!"
    assert variables.render("{{contact.name}}、こんにちは", conversation, None, language="ja") == "お客様、こんにちは"


def test_a_display_name_without_parts_gives_its_first_word(desk: Desk) -> None:
    contact = factories.make_contact(desk.page, display_name="Taro Suzuki")
    conversation = factories.make_conversation(desk.page, contact)
    assert variables.render("{{contact.first_name}}|{{contact.name}}", conversation, None) == "Taro|Taro Suzuki"
