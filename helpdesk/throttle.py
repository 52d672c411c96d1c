"""Login throttling that an attacker cannot turn against everyone behind one address.

- An account is locked after LOGIN_FAILURE_LIMIT failed sign-ins within LOGIN_LOCKOUT_SECONDS,
  from whatever addresses they came: the right password is refused too until the period
  ends or a password reset unlocks it (`login_unlock`). django-axes keeps the attempts in the
  database (settings AXES_*): it goes on working while Redis is down, and the functions below
  are the callables those settings name.
- An address is never locked out, since an office NAT or a load balancer gives every user
  the same one: after LOGIN_ADDRESS_FAILURE_LIMIT failures from it (across accounts) within
  LOGIN_LOCKOUT_SECONDS, it may try once per LOGIN_ADDRESS_DELAY_SECONDS, a wait of seconds.
  That counter lives in the cache; while the cache is down it is not kept (an error is
  logged): agents must be able to sign in to answer customers during the outage.
- The client's address is `client_address`: REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies
  in front, the address the outermost of them saw, from the right of X-Forwarded-For.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from datetime import timedelta
from typing import Any

from axes.utils import reset as axes_reset
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from helpdesk.drf import error_body
from helpdesk.forms import LoginForm

logger = logging.getLogger(__name__)

LOCKED_CODE = "login_locked"

# The clock of the per-address wait (a name of its own so that tests can move it).
clock = time.time


def client_address(request: HttpRequest) -> str:
    """The client's address. X-Forwarded-For is read only behind TRUSTED_PROXY_COUNT proxies
    and only its last TRUSTED_PROXY_COUNT entries (those the proxies added): what the client
    put in front of them cannot choose the address a failure is counted against."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        return remote
    candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


# --- The account lock (django-axes) ------------------------------------------------------


def login_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the account an attempt is counted against. Usernames are
    compared without case, so that `Alice` and `alice` share one count."""
    if credentials:
        username = credentials.get("username")
    else:
        username = request.POST.get("username")
    return str(username).strip().lower() if username else None


def account_failure_limit(request: HttpRequest | None, credentials: dict[str, Any] | None) -> int:
    """AXES_FAILURE_LIMIT: LOGIN_FAILURE_LIMIT, read at each attempt."""
    return int(settings.LOGIN_FAILURE_LIMIT)


def account_lockout_period(request: HttpRequest | None = None) -> timedelta:
    """AXES_COOLOFF_TIME: LOGIN_LOCKOUT_SECONDS, read at each attempt."""
    return timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)


def account_locked(request: HttpRequest) -> bool:
    """Whether the attempt just made was refused (or was the last one allowed) because its
    account is locked: axes marks the request while authenticate() runs."""
    return bool(getattr(request, "axes_locked_out", False))


def locked_message() -> str:
    minutes = max(1, math.ceil(settings.LOGIN_LOCKOUT_SECONDS / 60))
    return _(
        "This account is locked after too many failed sign-ins. Reset your password to unlock it "
        "now, or try again in %(minutes)d minutes."
    ) % {"minutes": minutes}


def login_unlock(*, username: str) -> None:
    """Forget the failed sign-ins of this account (after a successful password reset)."""
    name = login_username(HttpRequest(), {"username": username})
    if name:
        axes_reset(username=name)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: what a locked attempt answers. The login page renders its own
    (the form with the message, 429); an API request gets the API's error shape."""
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body(LOCKED_CODE, locked_message()), status=429)
        response["Retry-After"] = str(settings.LOGIN_LOCKOUT_SECONDS)
        return response
    if original_response is not None and original_response.status_code == 429:
        return original_response
    form = refused_login_form(request, locked_message())
    return TemplateResponse(request, "helpdesk/login.html", {"form": form}, status=429).render()


def refused_login_form(request: HttpRequest, message: str) -> LoginForm:
    """The login form with the username typed and only `message`, built without checking a
    password (none is given to it, so validation stops at "required", which is dropped)."""
    form = LoginForm(request, data={"username": request.POST.get("username", "")})
    form.errors.clear()
    form.add_error(None, message)
    return form


# --- The per-address wait -----------------------------------------------------------------


def _address_keys(address: str) -> tuple[str, str]:
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]
    return f"login-addr-fail:{digest}", f"login-addr-wait:{digest}"


def address_wait_seconds(*, address: str) -> int:
    """Seconds before this address may try to sign in again (0: now)."""
    _count_key, wait_key = _address_keys(address)
    try:
        until = cache.get(wait_key)
    except Exception:  # the cache backend's own connection errors
        logger.error("login throttle: the cache is unavailable, login attempts are not limited", exc_info=True)
        return 0
    if until is None:
        return 0
    return max(0, math.ceil(float(until) - clock()))


def address_failure_record(*, address: str) -> None:
    """Count a failed sign-in from this address; past the limit, make it wait a little."""
    count_key, wait_key = _address_keys(address)
    window = settings.LOGIN_LOCKOUT_SECONDS
    try:
        if cache.add(count_key, 1, window):
            count = 1
        else:
            try:
                count = cache.incr(count_key)
            except ValueError:  # expired between add and incr
                cache.set(count_key, 1, window)
                count = 1
        if count >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            delay = settings.LOGIN_ADDRESS_DELAY_SECONDS
            cache.set(wait_key, clock() + delay, delay + 1)
    except Exception:
        logger.error("login throttle: the cache is unavailable, a failure was not counted", exc_info=True)
