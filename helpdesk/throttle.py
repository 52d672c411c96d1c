"""Login throttling: after LOGIN_FAILURE_LIMIT failures for a username (or from an address)
further attempts are refused for LOGIN_LOCKOUT_SECONDS. Counters live in the shared cache."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _keys(username: str, address: str) -> list[str]:
    digest = hashlib.sha256(username.lower().encode()).hexdigest()[:32]
    return [f"login-fail:user:{digest}", f"login-fail:addr:{address}"]


def is_locked(username: str, address: str) -> bool:
    # An address gets more room than one username, since offices share addresses.
    user_key, addr_key = _keys(username, address)
    counts = cache.get_many([user_key, addr_key])
    return (
        counts.get(user_key, 0) >= settings.LOGIN_FAILURE_LIMIT
        or counts.get(addr_key, 0) >= 4 * settings.LOGIN_FAILURE_LIMIT
    )


def record_failure(username: str, address: str) -> None:
    for key in _keys(username, address):
        if cache.add(key, 1, settings.LOGIN_LOCKOUT_SECONDS):
            continue
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, settings.LOGIN_LOCKOUT_SECONDS)


def reset(username: str, address: str) -> None:
    cache.delete(_keys(username, address)[0])
