"""The one statement's batch travels as one JSON document: it reads the same whichever encoder writes it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from messenger.webhook import messages, one_statement_sql, parsed


@pytest.mark.parametrize("microsecond", [0, 678901])
def test_the_batch_document_reads_alike_whichever_encoder_writes_it(microsecond: int) -> None:
    row = {
        "sent_at": datetime(2026, 1, 2, 3, 4, 5, microsecond, tzinfo=UTC),
        "text": '日本語 ✓ " \\',
        "payload": {"n": 1, "nested": [None, True, 1.5]},
    }
    assert one_statement_sql.rows_document([row]) == one_statement_sql._encoder.encode([row])
    # An integer no 64 bits hold, which orjson refuses, is written by the standard encoder.
    huge = {"payload": {"n": 2**70}}
    assert json.loads(one_statement_sql.rows_document([huge])) == [huge]


def test_a_new_messages_columns_are_those_the_one_statement_carries() -> None:
    """The step-by-step way and the one statement take the same columns from an event."""
    event = parsed.ParsedEvent(
        kind=parsed.MESSAGE,
        page_id="1",
        payload={},
        received_at=datetime(2026, 1, 2, tzinfo=UTC),
        mid="m_1",
        detail=parsed.Content(kind="text", text="hi"),
    )
    message = messages.message_new(0, event)
    assert tuple(message.columns) == messages.EVENT_COLUMNS
    assert set(one_statement_sql.MESSAGE_FIELDS) == set(messages.EVENT_COLUMNS) - {"mid"}
