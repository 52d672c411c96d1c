"""The reports in a real browser, in both languages: chart and table shown, no serious
accessibility violation (axe), nothing overflowing at a phone's width; screenshots kept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from helpdesk.models import Membership
from tests.accessibility.test_axe import log_in, serious_violations
from tests.chromium import BROWSER_MARKS, chromium, new_page, screenshot  # noqa: F401 (fixtures)
from tests.conftest import Tenant
from tests.reports.conftest import build

pytestmark = BROWSER_MARKS

MARCH = "start=2026-03-01&end=2026-03-31"
WIDTHS = {"desktop": 1280, "phone": 390}


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_reports_open_with_chart_and_table_in_both_languages(
    chromium: Any,  # noqa: F811
    live_server: Any,
    tenant_a: Tenant,
    language: str,
) -> None:
    build(tenant_a)
    Membership.objects.filter(pk=tenant_a.admin.pk).update(language=language)
    page = new_page(chromium)
    log_in(page, live_server.url, tenant_a.admin)
    page.click("nav a[href='/o/alpha/reports/']")
    page.wait_for_url("**/o/alpha/reports/conversations/")
    assert page.locator("h1").inner_text() == ("Reports" if language == "en" else "レポート")

    found: dict[str, Any] = {}
    overflowing: dict[str, int] = {}
    for name, query in (
        ("conversations", f"{MARCH}&group=day"),
        ("response-times", f"{MARCH}&group=channel"),
        ("canned-responses", f"{MARCH}&group=response"),
        ("availability", f"{MARCH}&group=day"),
    ):
        for width_name, width in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server.url}/o/alpha/reports/{name}/?{query}")
            assert page.locator("svg.hd-chart[role=img] title").count() == 1
            assert page.locator("table tbody tr").count() >= 1
            screenshot(page, f"reports-{name}-{language}-{width_name}")
            violations = serious_violations(page)
            if violations:
                found[f"{name} {width_name}"] = violations
            if width == WIDTHS["phone"]:
                scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
                if scroll_width > width:
                    overflowing[f"{name}"] = scroll_width
    assert not found, json.dumps(found, indent=1, ensure_ascii=False)
    assert not overflowing, overflowing

    # A period backwards is a form error beside the field, not a chart.
    page.goto(f"{live_server.url}/o/alpha/reports/conversations/?start=2026-03-31&end=2026-03-01")
    assert page.locator("#id_end.is-invalid").count() == 1
    assert page.locator("svg.hd-chart").count() == 0
