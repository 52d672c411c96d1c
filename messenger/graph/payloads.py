"""Reading Graph's answers, which are loosely typed JSON, and scrubbing secrets from the texts kept.

Codes and timestamps come as numbers from Facebook but as strings from proxies and old
payloads; tokens and the app secret that Facebook echoes back must never reach a message,
a repr or a log line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

REDACTED = "[redacted]"


def int_or_none(value: object) -> int | None:
    # Codes normally arrive as numbers, but proxies and old payloads send strings.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    # ASCII digits only: "²" passes str.isdigit() but not int().
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value.strip()):
        return int(value)
    return None


def str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def redacted(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text
