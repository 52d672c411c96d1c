"""The pure parsing functions: no database, the shapes Facebook actually sends, and the odd ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messenger.webhook import parsed, parsing, payload
from messenger.webhook.parsed import Content, Edit, Reaction, Receipt
from messenger.webhook.parsing import parse_body, parse_item
from tests.messenger.fixtures import BASE_MS, FIRST_MID, PAGE_ID, PSID, webhook_fixture

RECEIVED = datetime(2026, 1, 2, tzinfo=UTC)


def parse(name: str) -> list[parsed.ParsedEvent]:
    return parse_body(webhook_fixture(name), received_at=RECEIVED)


def test_a_message_is_parsed_with_its_customer_time_and_mid() -> None:
    [event] = parse("message_text")
    assert (event.kind, event.page_id, event.customer_id, event.mid) == ("message", PAGE_ID, PSID, FIRST_MID)
    assert event.occurred_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert event.timestamp_ms == BASE_MS
    assert isinstance(event.detail, Content) and event.detail.kind == "text"
    assert event.payload == webhook_fixture("message_text")["entry"][0]["messaging"][0]


def test_an_echo_names_the_recipient_as_the_customer() -> None:
    [event] = parse("echo_own_app")
    assert (event.kind, event.customer_id) == ("echo", PSID)
    assert isinstance(event.detail, Content)
    assert (event.detail.app_id, event.detail.metadata) == ("100000000000001", "0b7c6f1e-3c1d-4c6a-9a57-2f7c8f0e1a11")


def test_numbers_and_strings_are_the_same_ids() -> None:
    [event] = parse("numeric_ids")
    assert (event.page_id, event.customer_id) == (PAGE_ID, PSID)


def test_a_time_in_the_future_is_capped_at_arrival() -> None:
    item = {"sender": {"id": "1"}, "timestamp": int((RECEIVED + timedelta(days=1)).timestamp() * 1000), "message": {}}
    assert parse_item(PAGE_ID, item, received_at=RECEIVED).occurred_at == RECEIVED


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1767225600000, datetime(2026, 1, 1, tzinfo=UTC)),
        ("1767225600000", datetime(2026, 1, 1, tzinfo=UTC)),
        (1767225600, datetime(2026, 1, 1, tzinfo=UTC)),  # the dashboard's seconds
        (None, None),
        ("soon", None),
        (True, None),
        (-5, None),
    ],
)
def test_timestamps_in_milliseconds_or_seconds(value: object, expected: datetime | None) -> None:
    assert payload.moment(payload.timestamp_ms(value), RECEIVED) == expected


def test_a_delivery_without_timestamp_or_mids() -> None:
    [event] = parse("delivery_watermark_only")
    assert isinstance(event.detail, Receipt)
    assert event.detail.mids == ()
    [with_mids] = parse("delivery")
    assert with_mids.occurred_at is None
    assert isinstance(with_mids.detail, Receipt) and with_mids.detail.mids == ("m_out_Dd01",)


def test_an_unreact_may_lack_the_emoji() -> None:
    [event] = parse("reaction_unreact")
    assert event.detail == Reaction(action="unreact", reaction="", emoji="")


def test_num_edit_may_be_a_string() -> None:
    item = {"sender": {"id": "1"}, "message_edit": {"mid": "m_1", "text": "x", "num_edit": "3"}}
    assert parse_item(PAGE_ID, item, received_at=RECEIVED).detail == Edit(text="x", num_edit=3)


def test_items_without_a_facebook_mid_get_a_stable_one() -> None:
    first, again = parse("referral")[0], parse("referral")[0]
    assert first.mid == again.mid and first.mid.startswith("referral:")
    other = webhook_fixture("referral")
    other["entry"][0]["messaging"][0]["timestamp"] += 1
    assert parse_body(other, received_at=RECEIVED)[0].mid != first.mid


@pytest.mark.parametrize(
    ("item", "kind", "reason"),
    [
        ({"sender": {"id": "1"}, "pass_thread_control": {}}, "pass_thread_control", "not_handled"),
        ({"sender": {"id": "1"}, "something_new": {}}, "unknown", "unknown_kind"),
        ({"recipient": {"id": PAGE_ID}, "message": {"mid": "m_1", "text": "who?"}}, "message", "no_sender"),
        ({"sender": {"id": "1"}, "reaction": {"action": "react"}}, "reaction", "no_target"),
        ({"sender": {"id": "1"}, "read": {}}, "read", "no_target"),
        ("not an object", "malformed", "malformed"),
    ],
)
def test_what_cannot_be_applied_is_named_and_ignored(item: object, kind: str, reason: str) -> None:
    event = parse_item(PAGE_ID, item, received_at=RECEIVED)
    assert (event.kind, event.ignored_reason) == (kind, reason)


@pytest.mark.parametrize(
    ("body", "kind", "reason"),
    [
        ({"object": "instagram", "entry": []}, "object:instagram", "unsupported_object"),
        ({"entry": []}, "object:missing", "unsupported_object"),
        ({"object": "page"}, "malformed", "malformed"),
        ({"object": "page", "entry": [{"id": PAGE_ID}]}, "malformed", "malformed"),
        ({"object": "page", "entry": ["x"]}, "malformed", "malformed"),
    ],
)
def test_odd_bodies_still_become_one_recorded_event(body: dict[str, object], kind: str, reason: str) -> None:
    [event] = parse_body(body, received_at=RECEIVED)
    assert (event.kind, event.ignored_reason) == (kind, reason)


def test_several_entries_and_items_are_all_parsed_in_order() -> None:
    events = parse("batch_two_pages")
    assert [e.mid for e in events] == ["m_batch_second", "m_batch_other_page", "m_batch_first"]
    standby = parse("standby_message")
    assert standby[0].standby


def test_a_stored_event_is_parsed_again_as_it_arrived() -> None:
    [event] = parse("dashboard_test")
    again = parsing.parse_stored(event.kind, event.page_id, event.payload, received_at=RECEIVED)
    assert (again.kind, again.ignored_reason) == ("changes", "dashboard_test")
    [message] = parse("message_quick_reply")
    again = parsing.parse_stored(message.kind, message.page_id, message.payload, received_at=RECEIVED)
    assert again == message


def test_attachment_values_of_the_wrong_type_are_treated_as_absent() -> None:
    content = payload.message_content(
        {"attachments": [{"type": "image", "payload": "oops"}, "junk", {"payload": {"url": 5}}], "text": 7}
    )
    assert content.attachments == [{"type": "image"}, {"type": "unknown"}]
    assert content.text == ""


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\n'),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\a'), children, max_size=3)
    ),
    max_leaves=40,
)


@given(document=_JSON_VALUES, limit=st.integers(min_value=0, max_value=8))
def test_the_nesting_check_reads_the_depth_of_any_document(document: Any, limit: int) -> None:
    """The text-based check agrees with a walk of the document, brackets inside strings included."""
    raw = json.dumps(document, ensure_ascii=False).encode()
    assert payload._nesting_exceeds(raw, limit) == (_depth(document) > limit)
