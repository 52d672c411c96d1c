"""The Graph API endpoints the product uses, apart from the Send API (``send_api``) and the
Attachment Upload API (``uploads``).

Each function takes the request's parameters already parsed, returns the JSON body of a
success, and raises ``SandboxGraphError`` with Facebook's code for anything else.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from helpdesk.converters import parse_int
from messenger.graph import SUBSCRIBED_FIELDS
from messenger.sandbox import errors
from messenger.sandbox.models import (
    SandboxAuthCode,
    SandboxCustomer,
    SandboxPage,
    SandboxSubscription,
    SandboxToken,
    TokenKind,
)
from messenger.sandbox.tokens import (
    LONG_LIVED_SECONDS,
    SHORT_LIVED_SECONDS,
    secret_hash,
    token_expires_in,
    token_find,
    token_issue,
    token_problem,
    token_require_page,
    token_require_permission,
    token_require_valid,
    token_scopes,
)

ACCOUNTS_PAGE_SIZE = 25
ACCOUNTS_MAX_PAGE_SIZE = 100
PROFILE_FIELDS = ("first_name", "last_name", "profile_pic", "id", "name")
# What a page subscription may ask for (a superset of what the product subscribes to).
WEBHOOK_FIELDS = frozenset(
    {*SUBSCRIBED_FIELDS, "messaging_optins", "messaging_referrals", "messaging_handovers", "standby", "feed"}
)
APP_NAME = "Helpdesk (sandbox)"


def _epoch(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def _check_app_credentials(*, client_id: str | None, client_secret: str | None) -> None:
    if client_id != settings.FB_APP_ID:
        raise errors.SandboxGraphError("Error validating application. Invalid application ID.", code=101)
    if not client_secret or not hmac.compare_digest(client_secret.encode(), settings.FB_APP_SECRET.encode()):
        raise errors.SandboxGraphError("Error validating client secret.", code=1)


def _token_answer(token: SandboxToken, raw: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"access_token": raw, "token_type": "bearer"}
    expires_in = token_expires_in(token)
    if expires_in is not None:
        answer["expires_in"] = expires_in
    return answer


# --------------------------------------------------------------------------- OAuth


def oauth_access_token(params: dict[str, str]) -> dict[str, Any]:
    """``/oauth/access_token``: a dialog code for a short-lived token, or the long-lived exchange."""
    _check_app_credentials(client_id=params.get("client_id"), client_secret=params.get("client_secret"))
    if params.get("grant_type") == "fb_exchange_token":
        return _exchange_long_lived(params.get("fb_exchange_token"))
    return _exchange_code(code=params.get("code"), redirect_uri=params.get("redirect_uri"))


def _exchange_long_lived(raw: str | None) -> dict[str, Any]:
    if not raw:
        raise errors.invalid_parameter("Missing fb_exchange_token parameter")
    user_token = token_require_valid(raw)
    if user_token.kind == TokenKind.PAGE:
        raise errors.invalid_parameter("fb_exchange_token must be a user access token")
    token, new_raw = token_issue(
        kind=TokenKind.USER_LONG, user=user_token.user, issued_from=user_token, lifetime_seconds=LONG_LIVED_SECONDS
    )
    return _token_answer(token, new_raw)


def _exchange_code(*, code: str | None, redirect_uri: str | None) -> dict[str, Any]:
    if not redirect_uri:
        raise errors.SandboxGraphError("Missing redirect_uri parameter.", code=191)
    if not code:
        raise errors.invalid_parameter("Missing authorization code")
    with transaction.atomic():
        auth_code = SandboxAuthCode.objects.select_related("user").filter(code_hash=secret_hash(code)).first()
        if auth_code is None:
            raise errors.invalid_parameter("Invalid verification code format.")
        if auth_code.redirect_uri != redirect_uri:
            raise errors.SandboxGraphError(
                "Error validating verification code. Please make sure your redirect_uri is identical to the one "
                "you used in the OAuth dialog request",
                code=100,
                subcode=36008,
            )
        now = timezone.now()
        if auth_code.expires_at <= now:
            raise errors.SandboxGraphError("This authorization code has expired.", code=100, subcode=36007)
        # A conditional UPDATE: of two concurrent exchanges, only one wins the code.
        if not SandboxAuthCode.objects.filter(pk=auth_code.pk, used_at__isnull=True).update(used_at=now):
            raise errors.SandboxGraphError("This authorization code has been used.", code=100, subcode=36009)
        token, raw = token_issue(kind=TokenKind.USER_SHORT, user=auth_code.user, lifetime_seconds=SHORT_LIVED_SECONDS)
    return _token_answer(token, raw)


# --------------------------------------------------------------------------- pages


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = parse_int(base64.urlsafe_b64decode(cursor.encode()).decode(), minimum=0, maximum=2**31)
    except (ValueError, binascii.Error):
        offset = None
    if offset is None:
        raise errors.invalid_parameter("Invalid cursor")
    return offset


def accounts_list(
    *,
    node_id: str,
    raw_token: str | None,
    limit: str | None,
    after: str | None,
    next_url: Callable[[str], str],
) -> dict[str, Any]:
    """``/me/accounts``: the person's pages with fresh page tokens, paged with cursors.

    Page tokens issued from a long-lived user token never expire; from a short-lived one
    they die with it, as Facebook does.
    """
    user_token = token_require_valid(raw_token)
    if user_token.kind == TokenKind.PAGE:
        raise errors.invalid_parameter("Tried accessing nonexisting field (accounts) on node type (Page)")
    if node_id not in ("me", user_token.user.facebook_id):
        raise errors.unknown_object(node_id, "GET")
    token_require_permission(user_token, "pages_show_list")
    size = ACCOUNTS_PAGE_SIZE
    if limit:
        number = parse_int(limit)
        if number is None:
            raise errors.invalid_parameter("Param limit must be an integer")
        size = min(ACCOUNTS_MAX_PAGE_SIZE, max(1, number))
    offset = _decode_cursor(after)
    pages = list(SandboxPage.objects.filter(owner=user_token.user).order_by("page_id")[offset : offset + size + 1])
    has_more = len(pages) > size
    pages = pages[:size]
    expires_at = user_token.expires_at if user_token.kind == TokenKind.USER_SHORT else None
    data = []
    for page in pages:
        _token, raw = token_issue(
            kind=TokenKind.PAGE, user=user_token.user, page=page, issued_from=user_token, expires_at=expires_at
        )
        data.append(
            {
                "access_token": raw,
                "category": page.category,
                "category_list": [{"id": "2200", "name": page.category}],
                "name": page.name,
                "id": page.page_id,
                "tasks": list(page.tasks),
            }
        )
    answer: dict[str, Any] = {"data": data}
    if data:
        answer["paging"] = {"cursors": {"before": _encode_cursor(offset), "after": _encode_cursor(offset + len(data))}}
        if has_more:
            answer["paging"]["next"] = next_url(_encode_cursor(offset + len(data)))
    return answer


def _page_with_token(*, page_id: str, raw_token: str | None, method: str) -> tuple[SandboxPage, SandboxToken]:
    page = SandboxPage.objects.filter(page_id=page_id).first()
    if page is None:
        raise errors.unknown_object(page_id, method)
    token = token_require_page(raw_token)
    if token.page_id != page.pk:
        raise errors.SandboxGraphError(
            "Error validating access token: the page access token was issued for another page.",
            code=190,
            subcode=467,
        )
    return page, token


def subscription_set(*, page_id: str, raw_token: str | None, subscribed_fields: str | None) -> dict[str, Any]:
    """``POST /{page-id}/subscribed_apps``."""
    page, token = _page_with_token(page_id=page_id, raw_token=raw_token, method="POST")
    token_require_permission(token, "pages_manage_metadata")
    fields = [name.strip() for name in (subscribed_fields or "").split(",") if name.strip()]
    if not fields:
        raise errors.invalid_parameter("The parameter subscribed_fields is required.")
    unknown = [name for name in fields if name not in WEBHOOK_FIELDS]
    if unknown:
        raise errors.invalid_parameter(f"Param subscribed_fields[{fields.index(unknown[0])}] is not a valid field")
    SandboxSubscription.objects.update_or_create(
        page=page, defaults={"subscribed_fields": fields, "updated_at": timezone.now()}
    )
    return {"success": True}


def subscription_delete(*, page_id: str, raw_token: str | None) -> dict[str, Any]:
    """``DELETE /{page-id}/subscribed_apps``."""
    page, token = _page_with_token(page_id=page_id, raw_token=raw_token, method="DELETE")
    token_require_permission(token, "pages_manage_metadata")
    SandboxSubscription.objects.filter(page=page).delete()
    return {"success": True}


def subscription_get(*, page_id: str, raw_token: str | None) -> dict[str, Any]:
    """``GET /{page-id}/subscribed_apps``: the apps subscribed to the page (this one or none)."""
    page, _token = _page_with_token(page_id=page_id, raw_token=raw_token, method="GET")
    subscription = SandboxSubscription.objects.filter(page=page).first()
    if subscription is None:
        return {"data": []}
    return {
        "data": [
            {
                "category": "Business",
                "link": settings.PUBLIC_URL,
                "name": APP_NAME,
                "id": settings.FB_APP_ID,
                "subscribed_fields": list(subscription.subscribed_fields),
            }
        ]
    }


# --------------------------------------------------------------------------- tokens


def debug_token(*, input_token: str | None, access_token: str | None) -> dict[str, Any]:
    """``/debug_token`` with the app token ``{app-id}|{app-secret}``; a dead token is data."""
    expected = f"{settings.FB_APP_ID}|{settings.FB_APP_SECRET}"
    if not access_token:
        raise errors.missing_token()
    if not hmac.compare_digest(access_token.encode(), expected.encode()):
        raise errors.SandboxGraphError("Invalid OAuth access token signature.", code=190)
    if not input_token:
        raise errors.invalid_parameter("The parameter input_token is required")
    token = token_find(input_token)
    if token is None:
        return {
            "data": {
                "error": {"code": 190, "message": errors.INVALID_TOKEN_MESSAGE},
                "is_valid": False,
                "scopes": [],
            }
        }
    scopes = token_scopes(token)
    data: dict[str, Any] = {
        "app_id": settings.FB_APP_ID,
        "type": "PAGE" if token.kind == TokenKind.PAGE else "USER",
        "application": APP_NAME,
        "data_access_expires_at": _epoch(token.data_access_expires_at),
        "expires_at": _epoch(token.expires_at),
        "is_valid": True,
        "issued_at": _epoch(token.issued_at),
        "scopes": scopes,
        "granular_scopes": [_granular_scope(scope, token) for scope in scopes],
        "user_id": token.user.facebook_id,
    }
    if token.page is not None:
        data["profile_id"] = token.page.page_id
    problem = token_problem(token)
    if problem is not None:
        data["is_valid"] = False
        data["error"] = {"code": problem.code, "message": problem.message, "subcode": problem.subcode}
    return {"data": data}


def _granular_scope(scope: str, token: SandboxToken) -> dict[str, Any]:
    if not scope.startswith("pages_") or scope == "pages_show_list":
        return {"scope": scope}
    page_ids = list(SandboxPage.objects.filter(owner_id=token.user_id).values_list("page_id", flat=True))
    return {"scope": scope, "target_ids": page_ids}


# --------------------------------------------------------------------------- profiles


def node_get(
    *, node_id: str, raw_token: str | None, fields: str | None, profile_pic_url: Callable[[str], str]
) -> dict[str, Any]:
    """``GET /{id}``: ``me`` (or one's own id) is the person or the page; else a customer."""
    token = token_require_valid(raw_token)
    if token.kind == TokenKind.PAGE and token.page is not None:
        if node_id in ("me", token.page.page_id):
            return {"name": token.page.name, "id": token.page.page_id}
        return profile_get(psid=node_id, raw_token=raw_token, fields=fields, profile_pic_url=profile_pic_url)
    if node_id in ("me", token.user.facebook_id):
        return {"name": token.user.name, "id": token.user.facebook_id}
    raise errors.page_token_required()


def profile_get(
    *, psid: str, raw_token: str | None, fields: str | None, profile_pic_url: Callable[[str], str]
) -> dict[str, Any]:
    """``GET /{psid}?fields=first_name,last_name,profile_pic`` with the page token."""
    token = token_require_page(raw_token)
    customer = SandboxCustomer.objects.filter(page_id=token.page_id, psid=psid, is_guest=False).first()
    if customer is None:
        raise errors.unknown_object(psid, "GET")
    token_require_permission(token, "pages_messaging", code=10)
    if not customer.has_profile:
        raise errors.invalid_parameter("No profile available for this user.", subcode=2018218)
    wanted = [name.strip() for name in (fields or "first_name,last_name,profile_pic").split(",") if name.strip()]
    unknown = [name for name in wanted if name not in PROFILE_FIELDS]
    if unknown:
        raise errors.invalid_parameter(f"Tried accessing nonexisting field ({unknown[0]}) on node type (User)")
    values = {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "name": customer.full_name,
        "profile_pic": profile_pic_url(customer.psid),
        "id": customer.psid,
    }
    return {name: values[name] for name in [*wanted, "id"]}
