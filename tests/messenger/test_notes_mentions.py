"""Where a mention is in a note's text (messenger.mentions): the one reading the service, the
transcript and the composer share."""

from __future__ import annotations

import pytest

from messenger.mentions import mention_candidates, mention_spans, resolve_mentions

MEMBERS = ["ann", "bob.smith", "Kenji_M"]


@pytest.mark.parametrize(
    ("text", "known", "unknown"),
    [
        ("@ann please", ["ann"], []),
        ("thanks @ann.", ["ann"], []),
        ("@bob.smith, @ANN and @ann again", ["bob.smith", "ann"], []),
        ("確認して@annさん、お願いします", ["ann"], []),
        ("(@kenji_m)", ["Kenji_M"], []),
        ("mail ann@example.com or x.ann@y", [], []),
        ("@ann and @nobody.", ["ann"], ["nobody"]),
        ("@", [], []),
    ],
)
def test_mentions_are_read_the_way_people_write_them(text: str, known: list[str], unknown: list[str]) -> None:
    assert resolve_mentions(text, usernames=MEMBERS) == (known, unknown)


def test_the_candidates_cover_every_reading_and_nothing_inside_an_address() -> None:
    assert mention_candidates("hi @annさん and a@b.c") == {"annさん", "ann"}
    assert mention_candidates("write to support@shop.example") == set()


def test_a_span_covers_the_at_sign_and_the_name_only() -> None:
    text = "Ask @ann. Then @bob.smith!"
    spans = mention_spans(text, usernames=MEMBERS)
    assert [text[span.start : span.end] for span in spans] == ["@ann", "@bob.smith"]
