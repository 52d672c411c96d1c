"""Rate limits of the API: API_RATE_LIMIT requests per API_RATE_LIMIT_WINDOW_SECONDS for each
API token, and for each user calling with a session (the web page's own calls).

A fixed window counted in the cache (Redis in production): the first request of a window
adds the counter with the window's lifetime, each one after increments it. The
organization-scoped API base (helpdesk.api) counts every authenticated request and puts the
IETF draft's headers on every answer, success or not:

- `RateLimit-Limit`: the requests allowed per window;
- `RateLimit-Remaining`: how many are left in this one;
- `RateLimit-Reset`: seconds until the window ends.

Past the limit: 429 `rate_limited` with `Retry-After` (seconds). While the cache is down the
requests are let through without headers and an error is logged: an outage of Redis must not
stop the API.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from helpdesk.models import ApiToken

logger = logging.getLogger(__name__)

# The clock of the windows (a name of its own so that tests can move it).
clock = time.time


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_seconds: int

    @property
    def exceeded(self) -> bool:
        return self.remaining < 0

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.remaining)),
            "RateLimit-Reset": str(self.reset_seconds),
        }


def rate_limit_identity(*, user: Any, auth: Any) -> str | None:
    """Whose requests are counted together: the token's (its hash, unique across databases
    sharing a cache), the session user's, or nobody's (an anonymous request is refused first)."""
    if isinstance(auth, ApiToken):
        return f"token:{auth.key_hash[:32]}"
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def rate_limit_hit(*, identity: str) -> RateLimitState | None:
    """Count one request of `identity`; its state after it, or None while the cache is down."""
    limit = int(settings.API_RATE_LIMIT)
    window = int(settings.API_RATE_LIMIT_WINDOW_SECONDS)
    now = clock()
    window_index = int(now // window)
    reset_seconds = max(1, math.ceil((window_index + 1) * window - now))
    key = f"api-rate:{identity}:{window}:{window_index}"
    try:
        if cache.add(key, 1, window + 1):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, window + 1)
                count = 1
    except Exception:  # the cache backend's own connection errors
        logger.error("API rate limit: the cache is unavailable, requests are not limited", exc_info=True)
        return None
    return RateLimitState(limit=limit, remaining=limit - count, reset_seconds=reset_seconds)
