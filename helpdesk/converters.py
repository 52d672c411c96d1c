"""`<id:name>` in URL patterns: a primary key, at most 18 digits so that it always fits a
64-bit column (a longer number is simply no match: 404, never a database error)."""

from __future__ import annotations

from django.urls import register_converter

ID_MAX = 2**63 - 1


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int | str) -> str:
        return str(value)


register_converter(IdConverter, "id")


def parse_id(value: object) -> int:
    """An id from a URL, a query string or a form: a whole number that fits a 64-bit column,
    or -1 (which matches nothing) for anything else, so junk never reaches the database."""
    try:
        # Anything is tried (typed as object on purpose); what int() refuses is -1 below.
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return -1
    return number if 0 < number <= ID_MAX else -1


SEARCH_MAX_LENGTH = 200


def search_term(value: object, *, max_length: int = SEARCH_MAX_LENGTH) -> str:
    """Words typed into a search box or a filter, as the database can take them: trimmed,
    bounded, without NUL characters (PostgreSQL text cannot hold one; a query string can)."""
    if not isinstance(value, str):
        return ""
    return value.replace("\x00", "").strip()[:max_length]
