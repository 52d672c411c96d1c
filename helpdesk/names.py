"""People's names as a reader sees them: in Japanese the family name comes first (姓 名),
in English the given name ("Aiko Tanaka" / "田中 愛子"). Forms ask for them in the same order."""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language


def family_name_first(language: str | None = None) -> bool:
    return (language or get_language() or "").split("-")[0] == "ja"


def _written_in_cjk(text: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in text)


def person_name(first_name: str, last_name: str, *, language: str | None = None) -> str:
    """Given and family name in the reader's order; a name written in Japanese, Chinese or
    Korean script keeps the family name first in every language ("田中 愛子")."""
    parts = [part.strip() for part in (first_name, last_name) if part and part.strip()]
    if family_name_first(language) or _written_in_cjk(first_name + last_name):
        parts.reverse()
    return " ".join(parts)


def name_parts(user: Any) -> dict[str, str]:
    """A member's name as kept in stored data (system lines, ticket events, notices): its
    parts, so that each reader later sees it in their own order (`stored_name`)."""
    if user is None or not getattr(user, "pk", None):
        return {}
    return {"first_name": user.first_name, "last_name": user.last_name, "username": user.get_username()}


def stored_name(value: Any, default: str = "") -> str:
    """A name kept by `name_parts`, in the reader's order; a name kept as text before parts
    were stored is shown as it was written."""
    if isinstance(value, dict):
        return person_name(value.get("first_name", ""), value.get("last_name", "")) or value.get("username") or default
    return str(value) if value else default


def user_name(user: Any) -> str:
    """A member's name in the reader's order, their username when they gave no name; empty for no user."""
    if user is None or not getattr(user, "pk", None):
        return ""
    return person_name(user.first_name, user.last_name) or user.get_username()
