# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""Labels in a real browser: an agent puts a label on a conversation from its page (htmx, no
reload), the transcript says so, and the inbox filtered by that label finds the conversation."""

from __future__ import annotations

from typing import Any

import pytest

from labels.models import Label
from messenger.models import ConversationLabel
from tests import factories
from tests.chromium import BROWSER_MARKS, agent_page, browser_page, chromium  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = BROWSER_MARKS


@pytest.fixture
def logged_in(agent_page: Any) -> Any:
    return agent_page


def test_an_agent_labels_a_conversation_and_finds_it_with_the_label_filter(
    logged_in: Any, live_server: Any, tenant_a: Tenant
) -> None:
    page = logged_in
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.agent, channel)
    fb_page = factories.make_page(channel)
    aiko = factories.make_conversation(fb_page, factories.make_contact(fb_page, display_name="Aiko"))
    factories.make_message(aiko, text="返金をお願いします")
    other = factories.make_conversation(fb_page, factories.make_contact(fb_page, display_name="Ken"))
    factories.make_message(other, text="Hello")
    refund = Label.objects.create(organization=tenant_a.organization, name="Refund", color="red")
    Label.objects.create(organization=tenant_a.organization, name="VIP", color="purple")

    page.goto(f"{live_server.url}/o/alpha/inbox/{aiko.pk}/")
    page.select_option("#conversation-label-add", label="Refund")
    page.click("#conversation-label-add-button")
    # The panel is swapped in place: the chip with its remove button, no reload.
    page.wait_for_selector("#conversation-labels >> text=Remove the label Refund")
    assert ConversationLabel.objects.filter(conversation=aiko, label=refund).exists()
    page.wait_for_selector("#transcript-panel >> text=added the label Refund.", timeout=5000)

    page.goto(f"{live_server.url}/o/alpha/inbox/")
    page.click("#inbox-labels-summary")
    page.check(f"#inbox-label-{refund.pk}")
    page.click("text=Apply labels")
    page.wait_for_url(f"**/o/alpha/inbox/?*label={refund.pk}*")
    names = page.locator(".hd-contact-name").all_inner_texts()
    assert names == ["Aiko"]
    # The row shows the label by its name, not only its colour.
    assert "Refund" in page.inner_text(f"#conversation-link-{aiko.pk}")
