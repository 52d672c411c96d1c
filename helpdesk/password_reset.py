"""How often a password reset may be asked for: at most PASSWORD_RESET_LIMIT_PER_HOUR emails
per address per hour, and four times as many requests from one client address.

The per-address limit is silent (the page answers as if the email had gone out, so it tells
nothing about which addresses have accounts); the per-client limit is said, since it depends
only on who asks. Counters live in the shared cache; when it is down, requests are not
limited (an error is logged), like logins.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

_WINDOW_SECONDS = 60 * 60


@dataclass(frozen=True)
class ResetAllowance:
    send_email: bool  # False: answer as usual, send nothing
    client_refused: bool  # True: this client asked too often, say so


def _count(key: str) -> int:
    if cache.add(key, 1, _WINDOW_SECONDS):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, _WINDOW_SECONDS)
        return 1


def password_reset_allowance(*, email: str, client_address: str) -> ResetAllowance:
    """Counts this request and says what may be done with it."""
    limit = settings.PASSWORD_RESET_LIMIT_PER_HOUR
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    try:
        client_count = _count(f"password-reset:addr:{client_address}")
        if client_count > 4 * limit:
            return ResetAllowance(send_email=False, client_refused=True)
        email_count = _count(f"password-reset:email:{digest}")
    except Exception:  # the cache backend's own connection errors
        logger.error("password reset: the cache is unavailable, requests are not limited", exc_info=True)
        return ResetAllowance(send_email=True, client_refused=False)
    return ResetAllowance(send_email=email_count <= limit, client_refused=False)
