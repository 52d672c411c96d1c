"""Numbers and words from a request, as the database can take them: the one place where a
value from a URL, a query string, a form or a JSON body becomes an int or a search term.

`<id:name>` in URL patterns is a primary key of at most 18 ASCII digits, so that it always
fits a 64-bit column (a longer number is simply no match: 404, never a database error).
Everywhere else, `parse_int` / `parse_id`: only ASCII digits count ("²", "٣" and "𝟗" are
digits to str.isdigit() but not to int(), or not to the database), at most 19 of them, and
the number within a signed 64-bit column; what fails is None (or -1 for ids) for the caller
to refuse (400/404) or to ignore, as a filter does with junk.
"""

from __future__ import annotations

import re

from django.urls import register_converter

ID_MAX = 2**63 - 1
INT_MIN = -(2**63)
INT_MAX = ID_MAX

# [0-9], not \d: \d matches every Unicode decimal digit.
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,19}")


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int | str) -> str:
        return str(value)


register_converter(IdConverter, "id")


def parse_int(value: object, *, minimum: int = INT_MIN, maximum: int = INT_MAX) -> int | None:
    """A whole number written in ASCII digits (an optional leading minus, nothing else: no
    spaces, signs, underscores or decimals), or an int, from minimum to maximum; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if minimum <= number <= maximum else None


def parse_id(value: object) -> int:
    """An id from a URL, a query string or a form: a positive number that fits a 64-bit
    column, or -1 (which matches nothing) for anything else, so junk never reaches the database."""
    number = parse_int(value, minimum=1, maximum=ID_MAX)
    return -1 if number is None else number


SEARCH_MAX_LENGTH = 200


def search_term(value: object, *, max_length: int = SEARCH_MAX_LENGTH) -> str:
    """Words typed into a search box or a filter, as the database can take them: trimmed,
    bounded, without NUL characters (PostgreSQL text cannot hold one; a query string can)."""
    if not isinstance(value, str):
        return ""
    return value.replace("\x00", "").strip()[:max_length]
