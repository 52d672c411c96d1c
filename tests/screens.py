"""A page as a member sees it on a desktop and on a phone: a screenshot at each width, no
serious accessibility violation (axe) and nothing wider than the phone's screen.

    from tests.screens import screens_checked, translated

``screens_checked(page, "webhooks-list-ja")`` keeps ``webhooks-list-ja-1440.png`` and
``webhooks-list-ja-390.png`` among the artifacts (tests.chromium) and returns their paths.
The page is not reloaded between the widths: a page that shows something once (a secret)
is looked at as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.utils import translation

from tests.accessibility.test_axe import serious_violations
from tests.chromium import screenshot

WIDTHS = (1440, 390)
HEIGHT = 900


def screens_checked(page: Any, name: str) -> list[Path]:
    shots = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        page.wait_for_load_state("networkidle")
        shots.append(screenshot(page, f"{name}-{width}"))
        violations = serious_violations(page)
        assert violations == [], f"{name} at {width} px: " + json.dumps(violations, indent=1, ensure_ascii=False)
        scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{name} is {scroll_width} px wide at {width} px"
    page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})
    return shots


def translated(language: str, text: str, *, context: str = "", **values: Any) -> str:
    """What the page says for ``text`` in ``language`` (the catalogue's own translation)."""
    with translation.override(language):
        words = translation.pgettext(context, text) if context else translation.gettext(text)
    return words % values if values else words
