"""Login throttling: after LOGIN_FAILURE_LIMIT failures for a username (or from an address)
further attempts are refused for LOGIN_LOCKOUT_SECONDS. Counters live in the shared cache.

When the cache (Redis) is down, logins go on unthrottled, with an error logged: agents must
be able to sign in to answer customers during the outage.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def _keys(username: str, address: str) -> list[str]:
    digest = hashlib.sha256(username.lower().encode()).hexdigest()[:32]
    return [f"login-fail:user:{digest}", f"login-fail:addr:{address}"]


def is_locked(username: str, address: str) -> bool:
    # An address gets more room than one username, since offices share addresses.
    user_key, addr_key = _keys(username, address)
    try:
        counts = cache.get_many([user_key, addr_key])
    except Exception:  # the cache backend's own connection errors
        logger.error("login throttle: the cache is unavailable, login attempts are not limited", exc_info=True)
        return False
    return (
        counts.get(user_key, 0) >= settings.LOGIN_FAILURE_LIMIT
        or counts.get(addr_key, 0) >= 4 * settings.LOGIN_FAILURE_LIMIT
    )


def record_failure(username: str, address: str) -> None:
    try:
        for key in _keys(username, address):
            if cache.add(key, 1, settings.LOGIN_LOCKOUT_SECONDS):
                continue
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, settings.LOGIN_LOCKOUT_SECONDS)
    except Exception:
        logger.error("login throttle: the cache is unavailable, a failure was not counted", exc_info=True)


def reset(username: str, address: str) -> None:
    try:
        cache.delete(_keys(username, address)[0])
    except Exception:
        logger.error("login throttle: the cache is unavailable, the counter was not reset", exc_info=True)
