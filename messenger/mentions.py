"""Mentions in a note: where an ``@username`` is in the text. Pure functions, the one place
the rule lives: the note service reads the names to check and notify, the transcript the
spans to highlight, the composer's autocomplete the same boundary (messenger/static/messenger/notes.js).

A mention starts with ``@`` at the start of the text or after a character that cannot be part
of a username (so ``ann@example.com`` mentions nobody) and runs over the characters Django
allows in a username (letters, digits, ``@ . + - _``). Trailing dots are punctuation
("thanks @ann.") unless a username ends with one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MENTION = re.compile(r"(?<![\w@.+-])@([\w.@+-]+)")
TRAILING_PUNCTUATION = ".-+@"


@dataclass(frozen=True, slots=True)
class MentionSpan:
    """One ``@name`` in a text: ``start``/``end`` cover the ``@`` and the name."""

    start: int
    end: int
    username: str


def mention_candidates(text: str) -> set[str]:
    """Every lower-cased username a mention in ``text`` may stand for (with and without its
    trailing punctuation): what to look up."""
    names: set[str] = set()
    for match in MENTION.finditer(text):
        name = match.group(1)
        names.add(name.lower())
        shorter = name.rstrip(TRAILING_PUNCTUATION)
        if shorter:
            names.add(shorter.lower())
    return names


def mention_spans(text: str, *, usernames: Iterable[str]) -> list[MentionSpan]:
    """The mentions of ``usernames`` (case aside) in ``text``, in order."""
    known = {name.lower() for name in usernames}
    spans: list[MentionSpan] = []
    for match in MENTION.finditer(text):
        name = match.group(1)
        if name.lower() not in known:
            # "@ann." or "@ann-": the punctuation after a known name is not part of it.
            name = name.rstrip(TRAILING_PUNCTUATION)
            if not name or name.lower() not in known:
                continue
        spans.append(MentionSpan(match.start(), match.start() + 1 + len(name), name))
    return spans


def resolve_mentions(text: str, *, usernames: Iterable[str]) -> tuple[list[str], list[str]]:
    """The mentions of the text, as (known usernames as spelled in ``usernames``, unknown
    names as written), each once, in order of first use."""
    by_lower = {name.lower(): name for name in usernames}
    known: dict[str, str] = {}
    unknown: dict[str, str] = {}
    for match in MENTION.finditer(text):
        name = match.group(1)
        shorter = name.rstrip(TRAILING_PUNCTUATION)
        if name.lower() in by_lower:
            known.setdefault(name.lower(), by_lower[name.lower()])
        elif shorter and shorter.lower() in by_lower:
            known.setdefault(shorter.lower(), by_lower[shorter.lower()])
        else:
            written = shorter or name
            unknown.setdefault(written.lower(), written)
    return list(known.values()), list(unknown.values())
