"""Keeps access tokens, codes and secrets out of request log lines."""

from __future__ import annotations

import logging
import re

SECRET_QUERY_PARAMS = ("access_token", "input_token", "fb_exchange_token", "client_secret", "code")
_NAMES = "|".join(SECRET_QUERY_PARAMS)
_SECRET_IN_QUERY = re.compile(rf"(?P<key>(?:^|[?&])(?:{_NAMES})=)[^&\s\"]*")


def redact_query_secrets(text: str) -> str:
    """``/x?access_token=abc&fields=id`` → ``/x?access_token=[redacted]&fields=id``."""
    return _SECRET_IN_QUERY.sub(lambda m: f"{m.group('key')}[redacted]", text)


class RedactTokensFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact_query_secrets(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_query_secrets(record.msg)
        return True
