# The chromium fixtures are imported from tests.chromium; their names are parameters below.
# ruff: noqa: F811
"""The Content-Security-Policy in a real browser (Debian's chromium through Playwright): the
pages work under it and the browser reports no violation."""

from __future__ import annotations

from typing import Any

from messenger.sandbox import bootstrap, customers
from tests import factories
from tests.chromium import BROWSER_MARKS, browser_page, chromium  # noqa: F401 (fixtures)
from tests.conftest import Tenant

pytestmark = BROWSER_MARKS

# Runs before the page's own scripts, outside its policy: every violation the page reports.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI + " " + event.sourceFile);
});
"""


def watch(page: Any) -> list[str]:
    """Console errors of the page (Chromium writes every CSP refusal there too)."""
    errors: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def violations(page: Any) -> list[str]:
    return list(page.evaluate("window.__cspViolations || []"))


def test_the_inbox_and_a_conversation_work_with_no_policy_violation(
    browser_page: Any, live_server: Any, tenant_a: Tenant
) -> None:
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Web shop")
    factories.associate(tenant_a.agent, channel)
    fb_page = factories.make_page(channel)
    conversation = factories.make_conversation(fb_page, factories.make_contact(fb_page, display_name="Aiko"))
    factories.make_message(conversation, text="Where is my parcel?")
    page = browser_page
    errors = watch(page)

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "alpha-agent")
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/o/alpha/")
    assert violations(page) == []
    page.goto(f"{live_server.url}/o/alpha/inbox/")
    assert violations(page) == []

    # htmx (the list, the notification badge) and the inbox's script run.
    page.click("text=Aiko")
    page.wait_for_selector("text=Where is my parcel?")
    # The composer's script listens from DOMContentLoaded: typing earlier is counted only then.
    page.wait_for_load_state("domcontentloaded")
    page.fill("#composer-text", "On its way")
    assert page.inner_text("#composer-count [data-count]") == "10"
    # A select that submits its form on change (helpdesk/app.js, no onchange attribute).
    page.select_option("#inbox-state", index=1)
    page.wait_for_url(lambda url: "state=" in url)
    page.wait_for_timeout(2500)  # a poll of the list and of the badge
    assert violations(page) == []
    assert [error for error in errors if "Content Security Policy" in error] == []


def test_the_api_docs_and_the_sandbox_simulator_work_with_no_policy_violation(
    browser_page: Any, live_server: Any, db: Any, settings: Any
) -> None:
    settings.FB_GRAPH_URL = f"{live_server.url}/sandbox/graph"
    page = browser_page
    errors = watch(page)

    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Helpdesk API" in page.inner_text(".swagger-ui .info .title")
    assert violations(page) == []

    bootstrap.sandbox_bootstrap()
    page_id = "100000000000101"
    customer = customers.sandbox_customer_create(page_id=page_id, first_name="Dee", last_name="Ray")
    page.goto(f"{live_server.url}/sandbox/simulator/{page_id}/?psid={customer.psid}")
    page.wait_for_selector("#thread >> text=Say hello")
    assert violations(page) == []
    assert [error for error in errors if "Content Security Policy" in error] == []
