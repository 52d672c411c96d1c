"""open_window_ranges is reply_window's rule read as ranges of last_inbound_at: the two must agree."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from messenger.reply_window import HUMAN_AGENT_WINDOW, STANDARD_WINDOW, WindowState, open_window_ranges, reply_window

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _range_state(last_inbound_at: datetime) -> WindowState:
    for window_range in open_window_ranges(now=NOW):
        if last_inbound_at > window_range.since and (
            window_range.until is None or last_inbound_at <= window_range.until
        ):
            return window_range.state
    return WindowState.CLOSED


def test_each_customer_message_falls_in_the_range_of_its_reply_window() -> None:
    rng = random.Random(14)
    edges = [NOW - STANDARD_WINDOW, NOW - HUMAN_AGENT_WINDOW, NOW, NOW + timedelta(minutes=3)]
    samples = [*edges, *(edge + timedelta(microseconds=d) for edge in edges for d in (-1, 1))]
    samples += [NOW - timedelta(seconds=rng.randint(-3600, 9 * 86400)) for _ in range(2000)]
    for last_inbound_at in samples:
        assert _range_state(last_inbound_at) == reply_window(last_inbound_at, now=NOW).state, last_inbound_at


def test_within_a_range_an_earlier_message_closes_earlier() -> None:
    for window_range in open_window_ranges(now=NOW):
        end = window_range.until or NOW
        earlier = reply_window(window_range.since + timedelta(minutes=1), now=NOW)
        later = reply_window(end - timedelta(minutes=1), now=NOW)
        assert earlier.state == later.state == window_range.state
        assert earlier.remaining < later.remaining
