"""Where deliveries may go: the attachment downloader's rules (helpdesk.netfetch) — public
addresses only, checked when an endpoint is registered and again before each batch of
deliveries (a name may be pointed elsewhere later), https only in production, no redirects."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from helpdesk import netfetch
from helpdesk.exceptions import HelpdeskError

CONNECT_SECONDS = 3.0
TOTAL_SECONDS = 10.0
EXCERPT_BYTES = 2048


class EndpointNotAllowed(HelpdeskError):
    code = "endpoint_not_allowed"
    status = 400
    default_message = _("This address cannot receive webhooks: use a public https address.")


def delivery_policy() -> netfetch.FetchPolicy:
    return netfetch.FetchPolicy(
        max_bytes=EXCERPT_BYTES,
        trusted_prefixes=tuple(
            netfetch.TrustedPrefix.parse(prefix)
            for prefix in ([] if settings.PRODUCTION else settings.OUTGOING_WEBHOOK_TEST_PREFIXES)
        ),
        connect_timeout=CONNECT_SECONDS,
        read_timeout=TOTAL_SECONDS - CONNECT_SECONDS,
        total_seconds=TOTAL_SECONDS,
        max_redirects=0,
        user_agent="helpdesk-webhooks/1.0",
    )


def endpoint_target(url: str) -> netfetch.Target:
    """The checked address to deliver to. Raises EndpointNotAllowed (with the reason)."""
    target = _checked_target(url)
    if settings.OUTGOING_WEBHOOK_PORTS and not target.trusted and target.port not in settings.OUTGOING_WEBHOOK_PORTS:
        raise EndpointNotAllowed(details={"reason": "port"})
    return target


def _checked_target(url: str) -> netfetch.Target:
    policy = delivery_policy()
    parts = urlsplit(url.strip())
    try:
        if parts.scheme.lower() == "http" and not settings.OUTGOING_WEBHOOKS_HTTPS_ONLY:
            try:
                return netfetch.vet_url(url, policy=policy)
            except netfetch.FetchRefused as refused:
                if refused.code != netfetch.REFUSED_INSECURE:
                    raise
            # Plain http where it is allowed: the same checks as https on the same port.
            port = parts.port or 80
            as_https = urlunsplit(("https", f"{parts.hostname}:{port}", parts.path, parts.query, ""))
            if parts.hostname and ":" in parts.hostname:
                as_https = urlunsplit(("https", f"[{parts.hostname}]:{port}", parts.path, parts.query, ""))
            if parts.username is not None or parts.password is not None:
                raise netfetch.FetchRefused(netfetch.REFUSED_MALFORMED, "The address carries credentials.")
            return dataclasses.replace(netfetch.vet_url(as_https, policy=policy), scheme="http")
        return netfetch.vet_url(url, policy=policy)
    except netfetch.FetchRefused as refused:
        raise EndpointNotAllowed(details={"reason": refused.code}) from refused
    except (netfetch.FetchUnavailable, ValueError) as error:
        raise EndpointNotAllowed(details={"reason": "does_not_resolve"}) from error
