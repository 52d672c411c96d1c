"""The webhook's catch-up (profiles, new-conversation notices, attachment downloads) is one
job with one window: its limits are stated once."""

from __future__ import annotations

from pathlib import Path

from messenger.services.attachments import catch_up
from messenger.webhook import followups


def test_the_catch_up_of_profiles_notices_and_downloads_looks_at_one_window() -> None:
    assert (followups.CATCH_UP_AFTER, followups.CATCH_UP_WINDOW, followups.CATCH_UP_BATCH) == (
        catch_up.CATCH_UP_AFTER,
        catch_up.CATCH_UP_WINDOW,
        catch_up.CATCH_UP_BATCH,
    )


def test_the_catch_up_window_is_defined_in_one_module_only() -> None:
    messenger = Path(catch_up.__file__).parents[2]
    defining = sorted(
        str(path.relative_to(messenger.parent))
        for path in messenger.rglob("*.py")
        if any(line.startswith("CATCH_UP_") for line in path.read_text(encoding="utf-8").splitlines())
    )
    assert defining == ["messenger/services/attachments/catch_up.py"]
