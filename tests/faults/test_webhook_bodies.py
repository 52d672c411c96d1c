"""Bodies Facebook would never send, correctly signed or not: never a 500, and each body
either recorded whole (one event-log row per event the parser finds, each applied or
knowingly ignored) or refused with nothing stored.

The receiver's ordinary refusals (no or wrong signature, not JSON, not an object, over the
size limit with or without Content-Length) are tested in tests/messenger/test_webhook.py;
here: truncated bodies, deep nesting, characters and numbers PostgreSQL cannot store, and
1,000 random webhook-shaped bodies from hypothesis.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from messenger.models import Message, WebhookEvent, WebhookOutcome
from messenger.webhook import parsing
from messenger.webhook.signature import signature_for
from tests import factories
from tests.conftest import Tenant
from tests.messenger.fixtures import (
    BASE_MS,
    PAGE_ID,
    PSID,
    fast_password_hashing,
    page_body,
    post_webhook,
    queued_followups,
    text_item,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_followups")]
__all__ = ["fast_password_hashing", "queued_followups"]

DISABLED_PAGE_ID = "104000000000009"
UNKNOWN_PAGE_ID = "104000000000404"
KNOWN_IN_MID = "m_known_inbound"
KNOWN_OUT_MID = "m_known_outbound"
OUT_KEY = uuid.UUID("5d0c1d9e-8a3b-4f7e-9a57-2f7c8f0e1a11")
QUEUED_KEY = uuid.UUID("7e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b")


@pytest.fixture
def world(tenant_a: Tenant) -> dict[str, Any]:
    """A live page with a known customer (an inbound message, a sent and a queued reply), and
    a page whose channel is disabled."""
    channel = factories.make_channel(tenant_a.organization, tenant_a.department, name="Messenger")
    page = factories.make_page(channel, page_id=PAGE_ID)
    conversation = factories.make_conversation(page, factories.make_contact(page, psid=PSID))
    factories.make_message(conversation, mid=KNOWN_IN_MID, sent_at=timezone.now())
    factories.make_message(conversation, direction="out", mid=KNOWN_OUT_MID, idempotency_key=OUT_KEY)
    factories.make_message(conversation, direction="out", mid=None, status="queued", idempotency_key=QUEUED_KEY)
    disabled = factories.make_channel(tenant_a.organization, tenant_a.department, is_enabled=False)
    factories.make_page(disabled, page_id=DISABLED_PAGE_ID)
    return {"page": page, "conversation": conversation}


def signed_post(client: Client, raw: bytes, *, signed_over: bytes | None = None) -> Any:
    signature = signature_for(raw if signed_over is None else signed_over, settings.FB_APP_SECRET)
    return post_webhook(client, raw, signature=signature)


def nothing_stored() -> bool:
    return not WebhookEvent.objects.exists() and Message.objects.filter(mid__startswith="m_new").count() == 0


# --- Hand-made bodies ----------------------------------------------------------------------------


def test_a_body_cut_short_after_signing_fails_the_signature_and_stores_nothing(world: dict[str, Any]) -> None:
    raw = json.dumps(page_body((PAGE_ID, [text_item(mid="m_new_cut")]))).encode()
    response = signed_post(Client(), raw[: len(raw) // 2], signed_over=raw)
    assert response.status_code == 403
    assert nothing_stored()


@pytest.mark.parametrize("keep", [1, 10, 60, -1])
def test_a_truncated_body_signed_as_it_arrived_is_refused_as_not_json(world: dict[str, Any], keep: int) -> None:
    raw = json.dumps(page_body((PAGE_ID, [text_item(mid="m_new_cut")]))).encode()
    assert signed_post(Client(), raw[:keep]).status_code == 400
    assert nothing_stored()


@pytest.mark.parametrize("depth", [65, 900, 5_000, 100_000])
def test_a_deeply_nested_body_is_refused_and_stores_nothing(world: dict[str, Any], depth: int) -> None:
    item = json.dumps(text_item(mid="m_new_deep"))[:-1] + ', "extra": ' + "[" * depth + "]" * depth + "}"
    raw = f'{{"object": "page", "entry": [{{"id": "{PAGE_ID}", "messaging": [{item}]}}]}}'.encode()
    assert signed_post(Client(), raw).status_code == 400
    assert nothing_stored()


def test_nesting_as_deep_as_a_real_payload_is_stored(world: dict[str, Any]) -> None:
    item = text_item(mid="m_new_nested")
    nested: Any = "bottom"
    for _ in range(25):
        nested = {"a": [nested]}
    item["message"]["extra"] = nested
    assert signed_post(Client(), json.dumps(page_body((PAGE_ID, [item]))).encode()).status_code == 200
    assert Message.objects.filter(mid="m_new_nested").exists()


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_numbers_json_does_not_allow_or_no_database_holds_are_refused(world: dict[str, Any], token: str) -> None:
    raw = json.dumps(page_body((PAGE_ID, [text_item(mid="m_new_number")]))).replace(
        f"{BASE_MS}", token, 1
    )  # the item's timestamp
    assert token in raw
    assert signed_post(Client(), raw.encode()).status_code == 400
    assert nothing_stored()


@pytest.mark.parametrize(
    ("text", "shown"),
    [("a\u0000b", "a\ufffdb"), ("lone \ud83d surrogate", "lone \ufffd surrogate"), ("emoji \U0001f600", None)],
    ids=["nul", "lone-surrogate", "surrogate-pair"],
)
def test_characters_postgresql_cannot_store_are_replaced_and_the_message_is_kept(
    world: dict[str, Any], text: str, shown: str | None
) -> None:
    # json.dumps escapes them as Facebook does: \u0000, \ud83d, \ud83d\ude00.
    raw = json.dumps(page_body((PAGE_ID, [text_item(mid="m_new_chars", text=text, timestamp=BASE_MS + 1)]))).encode()
    assert b"\\u" in raw
    assert signed_post(Client(), raw).status_code == 200
    message = Message.objects.get(mid="m_new_chars")
    assert message.text == (shown or text)
    event = WebhookEvent.objects.get(mid="m_new_chars")
    assert (event.outcome, event.payload["message"]["text"]) == (WebhookOutcome.STORED, shown or text)


def test_a_nul_in_the_page_or_customer_id_does_not_break_the_next_deliveries(world: dict[str, Any]) -> None:
    client = Client()
    odd = page_body(
        (PAGE_ID + "\u0000", [text_item(mid="m_new_odd_page")]),
        (PAGE_ID, [text_item(psid="7\u0000", mid="m_new_odd_psid")]),
        (PAGE_ID, [{"sender": {"id": PSID}, "\u0000": {"\ud800": "\u0000"}}]),
    )
    assert signed_post(client, json.dumps(odd).encode()).status_code == 200
    assert WebhookEvent.objects.count() == 3
    # The same connection goes on serving ordinary deliveries (its prepared statements intact).
    for n in range(2):
        raw = json.dumps(page_body((PAGE_ID, [text_item(mid=f"m_new_after_{n}", timestamp=BASE_MS + n)]))).encode()
        assert signed_post(client, raw).status_code == 200
    assert Message.objects.filter(mid__startswith="m_new_after_").count() == 2


def test_the_event_log_shows_a_stored_odd_payload(world: dict[str, Any], tenant_a: Tenant, web_client_for: Any) -> None:
    item = text_item(mid="m_new_logged", text="<b>x</b>\u0000")
    item["message"]["extra"] = json.loads("[" * 50 + "]" * 50)
    assert signed_post(Client(), json.dumps(page_body((PAGE_ID, [item]))).encode()).status_code == 200
    response = web_client_for(tenant_a.admin).get(f"/o/{tenant_a.organization.slug}/settings/webhook-events/")
    assert response.status_code == 200
    assert b"m_new_logged" in response.content


_EDIT = {"mid": KNOWN_IN_MID, "text": "edited", "num_edit": 2**40}


@pytest.mark.parametrize(
    ("item", "outcome", "reason"),
    [
        (text_item(psid="9" * 120, mid="m_new_long_psid"), "ignored", "no_sender"),
        ({**text_item(mid="m_new_int_psid"), "sender": {"id": 10**120}}, "ignored", "no_sender"),
        ({"sender": {"id": PSID}, "timestamp": BASE_MS, "message_edit": _EDIT}, "stored", ""),
        (text_item(mid="m_new_" + "x" * 300), "stored", ""),
        ({**text_item(mid="m_new_far"), "timestamp": 10**40}, "stored", ""),
    ],
    ids=["long-psid", "huge-number-psid", "huge-num-edit", "long-mid", "far-timestamp"],
)
def test_ids_and_numbers_beyond_what_the_columns_hold_are_never_left_pending(
    world: dict[str, Any], item: dict[str, Any], outcome: str, reason: str
) -> None:
    assert signed_post(Client(), json.dumps(page_body((PAGE_ID, [item]))).encode()).status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.outcome, event.reason) == (outcome, reason)


# --- 1,000 random bodies --------------------------------------------------------------------------

# Values of every JSON type, and the strings and numbers that break things (NUL, unpaired
# surrogates, numbers beyond 32 or 64 bits or a double, ids longer than their columns):
# one draw each, which keeps a thousand examples quick.
_ODD_VALUES = [
    None, True, False, 0, -1, 2**31, 2**63, 10**40, 1.5, -0.0, 1e308, float("inf"),
    "", " ", "0", "\u0000", "\ud800", "\udfff", "x" * 300, "9" * 120, "<script>alert(1)</script>",
    "m_new_1", PAGE_ID, PSID, [], {}, [None], [[[]]], {"id": PSID}, {"mid": KNOWN_IN_MID},
]  # fmt: skip
# Any text, unpaired surrogates and NUL included (json.dumps escapes them as Facebook would).
_text = st.text(st.characters(exclude_categories=()), max_size=5)
_scalar = st.sampled_from(_ODD_VALUES) | st.integers() | st.floats(allow_nan=False) | _text
_json = _scalar | st.lists(_scalar, max_size=2) | st.dictionaries(_text, _scalar, max_size=2)


def _either(*likely: Any) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes anything at all."""
    return st.one_of(st.sampled_from(likely), st.sampled_from(likely), st.sampled_from(_ODD_VALUES), _json)


def _optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


_page_id = _either(PAGE_ID, DISABLED_PAGE_ID, UNKNOWN_PAGE_ID, "0", int(PAGE_ID))
_psid = _either(PSID, "6000000000000002", "6000000000000003", int(PSID))
_mid = _either("m_new_1", "m_new_2", "m_new_3", KNOWN_IN_MID, KNOWN_OUT_MID, "")
_timestamp = _either(BASE_MS, BASE_MS + 1, BASE_MS // 1000, str(BASE_MS), 0, -1)
_party = _optional(id=_psid, user_ref=_either("guest-1", "guest-2"))
_attachment = _optional(
    type=_either("image", "video", "audio", "file", "location", "fallback", "template", "sticker", "reel"),
    payload=_optional(
        url=_either("https://scontent.xx.fbcdn.net/a.jpg", "javascript:alert(1)"),
        title=_text,
        sticker_id=_either("369239263222822", 1),
        coordinates=_optional(lat=_either(35.6, "35"), long=_either(139.7, None)),
    )
    | _json,
    url=_text,
    title=_text,
)
_kinds = {
    "message": _optional(
        mid=_mid,
        text=_text,
        is_echo=_either(True, False),
        app_id=_either(settings.FB_APP_ID, "263902037430900", int(settings.FB_APP_ID)),
        metadata=_either(str(OUT_KEY), str(QUEUED_KEY), "not-a-uuid"),
        attachments=st.lists(_attachment, max_size=2) | _json,
        quick_reply=_optional(payload=_text),
        reply_to=_optional(mid=_mid),
        sticker_id=_either("369239263222822", 369239263222822),
    ),
    "postback": _optional(mid=_mid, title=_text, payload=_text, referral=_optional(ref=_text, source=_text)),
    "delivery": _optional(watermark=_timestamp, mids=st.lists(_mid, max_size=2) | _json),
    "read": _optional(watermark=_timestamp),
    "reaction": _optional(
        mid=_mid, action=_either("react", "unreact"), reaction=_either("love", "like"), emoji=_either("❤", "\U0001f44d")
    ),
    "message_edit": _optional(mid=_mid, text=_text, num_edit=_either(1, 2, "3", 0, 2**40)),
    "referral": _optional(ref=_text, source=_either("SHORTLINK", "ADS"), type=_text),
    "optin": _optional(ref=_text, user_ref=_either("guest-3"), type=_text, payload=_text),
    "pass_thread_control": _json,
    "something_new": _json,
}


@st.composite
def _item(draw: st.DrawFn) -> Any:
    """A messaging item: an envelope and one or two kinds, each part plausible or anything."""
    if draw(st.integers(0, 9)) == 0:
        return draw(_json)
    item = draw(_optional(sender=_party | _json, recipient=_party | _json, timestamp=_timestamp))
    for kind in draw(st.lists(st.sampled_from(sorted(_kinds)), min_size=1, max_size=2, unique=True)):
        item[kind] = draw(_kinds[kind])
    return item


@st.composite
def _entry(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(_json)
    entry = draw(_optional(time=_timestamp, standby=st.lists(_item(), max_size=1), changes=st.lists(_json, max_size=1)))
    entry["id"] = draw(_page_id)
    entry["messaging"] = draw(st.lists(_item(), min_size=1, max_size=3))
    return entry


_body = st.fixed_dictionaries(
    {"object": st.just("page") | _json, "entry": st.lists(_entry(), min_size=1, max_size=3)}
) | st.dictionaries(_text, _json, max_size=2)


@pytest.fixture
def world_ids(world: dict[str, Any]) -> tuple[int, int]:
    """The last event-log row and message of the world: every example starts from there again."""
    last_event = WebhookEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    return last_event, Message.objects.order_by("-pk").values_list("pk", flat=True)[0]


@hypothesis_settings(
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=_body)
def test_random_webhook_shaped_bodies_are_recorded_whole_or_refused(world_ids: tuple[int, int], body: Any) -> None:
    last_event, last_message = world_ids
    raw = json.dumps(body).encode()
    with transaction.atomic():  # undone below: each example starts from the same world
        # The test client re-raises what the view raises: a 500 fails the example.
        response = signed_post(Client(), raw)
        assert response.status_code in (200, 400), response.content
        new_events = list(WebhookEvent.objects.filter(pk__gt=last_event).values_list("kind", "outcome", "mid"))
        new_mids = set(Message.objects.filter(pk__gt=last_message).values_list("mid", flat=True))
        transaction.set_rollback(True)
    if response.status_code == 400:
        assert (new_events, new_mids) == ([], set())
        return
    assert len(new_events) == len(parsing.parse_body(json.loads(raw), received_at=timezone.now()))
    # Each one applied or knowingly ignored: nothing half-done left to the retry job.
    outcomes = {WebhookOutcome.STORED, WebhookOutcome.DUPLICATE, WebhookOutcome.IGNORED}
    assert {outcome for _kind, outcome, _mid in new_events} <= outcomes, new_events
    assert new_mids <= {mid for _kind, outcome, mid in new_events if outcome == WebhookOutcome.STORED}
