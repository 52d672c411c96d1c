"""Real-browser tests: Debian's chromium driven by Playwright, in one place. Import the
fixtures into a test module and mark it with ``BROWSER_MARKS``:

    from tests.chromium import BROWSER_MARKS, browser_page, chromium  # noqa: F401

``chromium`` is the launched browser (open more contexts for more people: a customer, a
second agent); ``browser_page`` is one page of a fresh context. ``screenshot`` keeps a PNG
of what a page shows under ``artifacts/journeys/`` (or ``$JOURNEY_ARTIFACTS``).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import factories

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Quiet and deterministic: no update checks, sync or first-run pages while a test drives it.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEFAULT_TIMEOUT_MS = 8000
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "journeys"

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium"),
]


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    PAGE_LOGS.clear()
    # Playwright's sync API runs an event loop in this thread, and the test still uses the ORM.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


# What every page of the running test did (requests, answers, console, navigations), printed
# when the test fails: a browser test that times out on a busy CI machine says what the page
# was doing instead of only what it waited for.
PAGE_LOGS: list[tuple[int, list[str]]] = []
PAGE_LOG_LINES = 300


def _page_log(page: Any) -> None:
    lines: list[str] = []
    PAGE_LOGS.append((len(PAGE_LOGS) + 1, lines))
    start = time.monotonic()

    def add(text: str) -> None:
        lines.append(f"{time.monotonic() - start:7.2f}s {text}")
        del lines[:-PAGE_LOG_LINES]

    def quiet(url: str) -> bool:
        return "/static/" in url

    page.on("request", lambda r: quiet(r.url) or add(f"> {r.method} {r.url}"))
    page.on("response", lambda r: quiet(r.url) or add(f"< {r.status} {r.url}"))
    page.on("requestfailed", lambda r: add(f"! {r.method} {r.url} {r.failure}"))
    page.on("console", lambda m: add(f"console.{m.type}: {m.text[:300]}"))
    page.on("pageerror", lambda e: add(f"pageerror: {e}"))
    page.on("framenavigated", lambda f: f.parent_frame is None and add(f"navigated {f.url}"))


def new_page(browser: Any, **context_options: Any) -> Any:
    """A page in a context of its own (its own cookies: another person, or the same one
    in a browser without JavaScript with ``java_script_enabled=False``)."""
    context_options.setdefault("viewport", {"width": 1280, "height": 860})
    page = browser.new_context(**context_options).new_page()
    page.set_default_timeout(DEFAULT_TIMEOUT_MS)
    _page_log(page)
    return page


def page_logs_report() -> str:
    """The pages' logs of the test that ran last (cleared by the next test's setup)."""
    return "\n".join(f"--- page {number}\n" + "\n".join(lines) for number, lines in PAGE_LOGS)


@pytest.fixture
def browser_page(chromium: Any) -> Any:
    return new_page(chromium)


def artifacts_dir() -> Path:
    directory = Path(os.environ.get("JOURNEY_ARTIFACTS") or ARTIFACTS)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def screenshot(page: Any, name: str) -> Path:
    """Save the whole page as ``<name>.png`` among the artifacts; the path of a non-empty PNG."""
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.is_file() and path.stat().st_size > 0, path
    return path


def sign_in(page: Any, base_url: str, username: str, password: str = "") -> Any:
    """Sign ``username`` in through the login form; the page lands on their organization's home."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password or factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/o/[\w-]+/$"))
    return page


@pytest.fixture
def agent_page(browser_page: Any, live_server: Any, tenant_a: Any) -> Any:
    """A browser page with alpha's agent signed in (``tenant_a``)."""
    return sign_in(browser_page, live_server.url, "alpha-agent")
