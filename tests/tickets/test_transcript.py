"""How messages read in a ticket: attachments by kind and URL, the subject line, the speakers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tickets import transcript

AT = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)


def _message(**fields: Any) -> dict[str, Any]:
    return {"direction": "in", "source": "customer", "kind": "text", "status": "received", "sent_at": AT, **fields}


def test_attachments_read_as_their_kind_and_url() -> None:
    body = transcript.message_body(
        _message(
            kind="attachment",
            text="Look",
            attachments=[
                {"type": "image", "url": "https://cdn.example/a.jpg"},
                {"type": "location", "lat": 35.68, "long": 139.76},
                {"type": "fallback", "title": "Our shop", "url": "https://shop.example/"},
                {"type": "file"},
                "garbage",
            ],
        )
    )
    assert body == (
        "Look [image: https://cdn.example/a.jpg] [location: 35.68,139.76] "
        "[fallback: Our shop https://shop.example/] [file] [attachment]"
    )


def test_an_attachment_kept_in_our_storage_reads_as_its_file_name_not_facebooks_address() -> None:
    kept = {
        "type": "file",
        "url": "https://cdn.fbsbx.example/v/expiring?oh=1",
        "stored_name": "messenger/inbound/7/42/0-a1b2c3-invoice march.pdf",
        "size": 1234,
        "content_type": "application/pdf",
    }
    body = transcript.message_body(_message(kind="attachment", attachments=[kept]))
    assert body == "[file: invoice march.pdf]"
    assert "fbsbx" not in body


def test_attachments_given_as_json_text_read_the_same() -> None:
    body = transcript.message_body(_message(kind="attachment", attachments='[{"type": "video", "url": "https://v/1"}]'))
    assert body == "[video: https://v/1]"


def test_stickers_postbacks_and_empty_messages_still_say_something() -> None:
    assert transcript.message_body(_message(kind="sticker", sticker_id="369239263222822")) == "[sticker]"
    assert transcript.message_body(_message(kind="postback", postback_title="Track my order")) == (
        "[postback: Track my order]"
    )
    assert transcript.message_body(_message(kind="referral")) == "[referral]"


def test_the_subject_is_never_an_agents_words_but_the_label_instead() -> None:
    agent_first = [_message(direction="out", source="agent", text="We noticed a problem")]
    assert transcript.subject_from(agent_first, fallback="Messenger chat") == "Messenger chat"
    customer_later = [*agent_first, _message(text="Which problem?")]
    assert transcript.subject_from(customer_later, fallback="Messenger chat") == "Which problem?"
    assert transcript.subject_from([_message(text="  ")], fallback="Messenger chat") == "[text]"
    assert transcript.subject_from([], fallback="Messenger chat") == "Messenger chat"


def test_an_agent_reads_as_their_name_once_and_a_sticker_never_as_its_address() -> None:
    reply = _message(direction="out", source="agent", text="Hi", author__first_name="Agent", author__last_name="Demo")
    sticker = _message(
        kind="attachment",
        sticker_id="369239263222822",
        attachments=[{"type": "image", "url": "https://cdn.example/s.png"}],
    )
    lines = transcript.transcript([reply, sticker], time_zone="UTC", language="en").splitlines()
    assert lines == ["Agent Demo (2026-03-02 09:05): Hi", "Customer (2026-03-02 09:05): [sticker]"]


def test_an_undelivered_reply_is_marked_in_the_transcript() -> None:
    lines = transcript.transcript(
        [_message(direction="out", source="agent", status="failed", text="Sorry!", author__username="kim")],
        time_zone="UTC",
        language="en",
    )
    assert lines == "kim [not delivered] (2026-03-02 09:05): Sorry!"


def test_an_unknown_time_zone_falls_back_to_utc() -> None:
    assert transcript.transcript([_message(text="Hi")], time_zone="Mars/Olympus", language="en") == (
        "Customer (2026-03-02 09:05): Hi"
    )
