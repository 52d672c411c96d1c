"""Capturing what is published, without a Redis: `published` records every batch that
`live.bus.publish_now` would send (after commit, as the services send them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from live import bus
from live.events import LiveEvent


@dataclass
class Published:
    """Every batch sent to Redis (one call per organization and flush), in order."""

    batches: list[list[LiveEvent]] = field(default_factory=list)

    @property
    def events(self) -> list[LiveEvent]:
        return [event for batch in self.batches for event in batch]

    def of_kind(self, kind: str) -> list[LiveEvent]:
        return [event for event in self.events if event.kind == kind]

    def conversations(self) -> list[tuple[int, str, int | None]]:
        """(conversation id, what, channel id) of each conversation event."""
        return [(e.data["conversation"], e.data["what"], e.channel_id) for e in self.of_kind("conversation")]

    def clear(self) -> None:
        self.batches.clear()


@pytest.fixture
def published(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Published:
    settings.LIVE_REDIS_URL = "redis://unused"
    record = Published()

    def publish_now(events: Iterable[LiveEvent]) -> list[str]:
        batch = list(events)
        if batch:
            record.batches.append(batch)
        return ["0-1"] * len(batch)

    monkeypatch.setattr(bus, "publish_now", publish_now)
    return record
