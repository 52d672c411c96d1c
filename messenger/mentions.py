"""Mentions in a note: where an ``@username`` is in the text. Pure functions, the one place
the rule lives: the note service reads the names to check and notify, the transcript the
spans to highlight; the composer's autocomplete (messenger/static/messenger/notes.js) uses
the same boundary.

A mention starts with ``@`` at the start of the text or after anything but an ASCII letter,
digit or ``_ @ . + -`` (so ``ann@example.com`` mentions nobody, while Japanese text may run
right up to it: ``確認して@ann``), and runs over the characters Django allows in a username.
What follows a username is not part of it when it is punctuation (``thanks @ann.``) or
Japanese after an ASCII name (``@annさん``): each mention has up to three readings, tried in
order (as written, without trailing punctuation, its leading ASCII run).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MENTION = re.compile(r"(?<![A-Za-z0-9_@.+\-])@([\w.@+\-]+)")
TRAILING_PUNCTUATION = ".-+@"
_ASCII_RUN = re.compile(r"[A-Za-z0-9_.@+\-]+")


@dataclass(frozen=True, slots=True)
class MentionSpan:
    """One ``@name`` in a text: ``start``/``end`` cover the ``@`` and the name."""

    start: int
    end: int
    username: str


def _readings(name: str) -> list[str]:
    """What ``@name`` may stand for, most literal first."""
    readings = [name, name.rstrip(TRAILING_PUNCTUATION)]
    ascii_run = _ASCII_RUN.match(name)
    if ascii_run and ascii_run.end() < len(name):
        readings.append(ascii_run.group(0).rstrip(TRAILING_PUNCTUATION))
    unique: list[str] = []
    for reading in readings:
        if reading and reading not in unique:
            unique.append(reading)
    return unique


def mention_candidates(text: str) -> set[str]:
    """Every lower-cased username a mention in ``text`` may stand for: what to look up."""
    return {reading.lower() for match in MENTION.finditer(text) for reading in _readings(match.group(1))}


def _known_reading(name: str, known: Iterable[str]) -> str | None:
    known = set(known)
    return next((reading for reading in _readings(name) if reading.lower() in known), None)


def mention_spans(text: str, *, usernames: Iterable[str]) -> list[MentionSpan]:
    """The mentions of ``usernames`` (case aside) in ``text``, in order."""
    known = {name.lower() for name in usernames}
    spans: list[MentionSpan] = []
    for match in MENTION.finditer(text):
        reading = _known_reading(match.group(1), known)
        if reading is not None:
            spans.append(MentionSpan(match.start(), match.start() + 1 + len(reading), reading))
    return spans


def resolve_mentions(text: str, *, usernames: Iterable[str]) -> tuple[list[str], list[str]]:
    """The mentions of the text, as (known usernames as spelled in ``usernames``, unknown
    names as written, without trailing punctuation), each once, in order of first use."""
    by_lower = {name.lower(): name for name in usernames}
    known: dict[str, str] = {}
    unknown: dict[str, str] = {}
    for match in MENTION.finditer(text):
        name = match.group(1)
        reading = _known_reading(name, by_lower)
        if reading is not None:
            known.setdefault(reading.lower(), by_lower[reading.lower()])
        else:
            written = name.rstrip(TRAILING_PUNCTUATION) or name
            unknown.setdefault(written.lower(), written)
    return list(known.values()), list(unknown.values())
