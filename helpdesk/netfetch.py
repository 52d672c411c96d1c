"""Fetching an address someone else gave us without letting it reach our own network (SSRF).

One rule, one place: the inbound attachment downloader uses it today, outgoing webhooks can
tomorrow. `fetch` GETs a URL only when

- its scheme is https (plain http only for a trusted prefix, such as the Graph sandbox's
  own origin in development),
- its host is a name or a canonical IP address: every other numeric spelling that a
  resolver would read as an address (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`) is
  refused outright,
- its host is under one of the policy's suffixes, on a label boundary (when it has any),
- every address the host resolves to is public: not loopback, private, link-local (the
  cloud metadata address), CGNAT, multicast, reserved or unspecified, nor an IPv6 address
  that embeds one (IPv4-mapped or -compatible, 6to4, Teredo, NAT64).

The connection is opened to the very address that was checked (no second DNS lookup), with
the host name kept for SNI, the Host header and certificate verification. Redirects are
followed by hand, at most `max_redirects`, each new address checked again. The body is
streamed with a size cap, a connect and a read timeout and an overall deadline. Proxies from
the environment are never used: they would connect elsewhere than the checked address.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import SplitResult, urljoin, urlsplit

import certifi
import urllib3
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.exceptions import HTTPError as Urllib3Error

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Stable codes of a refused address (FetchRefused.code).
REFUSED_NOT_WEB = "not_web"  # not an http(s) address at all
REFUSED_INSECURE = "insecure"  # http where only https is fetched
REFUSED_MALFORMED = "malformed"  # no host, credentials in it, a port that is not one
REFUSED_NUMERIC_HOST = "numeric_host"  # an address spelled in a way other than the canonical one
REFUSED_HOST_NOT_ALLOWED = "host_not_allowed"  # not under the policy's host suffixes
REFUSED_PRIVATE_ADDRESS = "private_address"  # resolves to an address that is not public
REFUSED_TOO_MANY_REDIRECTS = "too_many_redirects"

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES = 64 * 1024

_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
# Embedding IPv4 in IPv6 (RFC 6052 NAT64): the last 32 bits are the IPv4 address.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")


class FetchError(Exception):
    """Base of what `fetch` raises."""


class FetchRefused(FetchError):
    """The address is not one we fetch; trying again will not change that."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class FetchTooLarge(FetchError):
    """The body is (or says it is) larger than the policy's cap."""


class FetchUnavailable(FetchError):
    """A temporary failure: the name does not resolve, a timeout, a dropped connection, TLS."""


@dataclass(frozen=True, slots=True)
class TrustedPrefix:
    """An address prefix fetched as it is (http allowed, its address not checked): the Graph
    sandbox of a development machine, a benchmark's local server. Never for production."""

    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, prefix: str) -> TrustedPrefix:
        parts = urlsplit(prefix)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) prefix: {prefix!r}")
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        return cls(parts.scheme, parts.hostname.rstrip("."), parts.port or _default_port(parts.scheme), path)

    def matches(self, *, scheme: str, host: str, port: int, path: str) -> bool:
        return (scheme, host, port) == (self.scheme, self.host, self.port) and (path + "/").startswith(self.path)


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    max_bytes: int
    # Empty: any public host. Otherwise the host must be one of them or end with "." + one.
    host_suffixes: tuple[str, ...] = ()
    trusted_prefixes: tuple[TrustedPrefix, ...] = ()
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    # A slow drip is a timeout too: no fetch lasts longer than this.
    total_seconds: float = 120.0
    max_redirects: int = 3
    user_agent: str = "helpdesk/1.0"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Target:
    """An address that passed the policy, with the one IP address to connect to."""

    scheme: str
    host: str  # lower-case ASCII (IDNA), no trailing dot; an IPv6 address without brackets
    port: int
    addresses: tuple[str, ...]  # the checked IP addresses, in the resolver's order: the connection goes to one
    request_target: str  # path and query
    trusted: bool

    @property
    def address(self) -> str:
        return self.addresses[0]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _default_port(self.scheme) else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Fetched:
    """The answer: its status and headers; the body was written only for a 2xx."""

    status: int
    headers: Mapping[str, str]
    url: str  # after redirects
    size: int

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


# --------------------------------------------------------------------------- addresses


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (and would reach through a translator)."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if int(address) >> 32 == 0 or any(address in network for network in _NAT64):
        # IPv4-compatible (::a.b.c.d, deprecated) and NAT64 prefixes: the last 32 bits.
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _ipv4_is_public(address: ipaddress.IPv4Address) -> bool:
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in _CGNAT
    )


def is_public_address(address: IPAddress) -> bool:
    """Whether an address is on the public internet, IPv4 forms inside IPv6 included."""
    if isinstance(address, ipaddress.IPv4Address):
        return _ipv4_is_public(address)
    embedded = _embedded_ipv4(address)
    if address.ipv4_mapped is not None:
        # ::ffff:a.b.c.d is a.b.c.d on the wire.
        return _ipv4_is_public(address.ipv4_mapped)
    if embedded and not all(_ipv4_is_public(inner) for inner in embedded):
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_site_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def host_matches_suffixes(host: str, suffixes: Iterable[str]) -> bool:
    """`host` is one of the suffixes or under one, on a label boundary (evilfbcdn.net is not)."""
    for suffix in suffixes:
        suffix = suffix.strip().lower().strip(".")
        if suffix and (host == suffix or host.endswith("." + suffix)):
            return True
    return False


def _host_of(parts: SplitResult) -> tuple[str, IPAddress | None]:
    """The host in canonical form and, for an IP literal, the address. Refuses numeric
    spellings other than the canonical ones (WHATWG: a host whose last label is a number)."""
    try:
        raw_host = parts.hostname or ""
    except ValueError:
        raise FetchRefused(REFUSED_MALFORMED, "The address has no valid host.") from None
    if not raw_host:
        raise FetchRefused(REFUSED_MALFORMED, "The address has no host.")
    if "[" in parts.netloc:
        try:
            return raw_host, ipaddress.IPv6Address(raw_host)
        except ValueError:
            raise FetchRefused(REFUSED_NUMERIC_HOST, f"{raw_host!r} is not an IPv6 address.") from None
    try:
        host = raw_host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise FetchRefused(REFUSED_MALFORMED, f"{raw_host!r} is not a valid host name.") from None
    if host.endswith("."):
        host = host[:-1]
    last_label = host.rsplit(".", 1)[-1]
    if _NUMERIC_LABEL.match(last_label):
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            raise FetchRefused(REFUSED_NUMERIC_HOST, f"{host!r} is an address in a non-standard spelling.") from None
        return str(address), address
    if not _HOST_NAME.match(host):
        raise FetchRefused(REFUSED_MALFORMED, f"{host!r} is not a valid host name.")
    return host, None


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchUnavailable(f"{host} does not resolve ({error}).") from error
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FetchUnavailable(f"{host} does not resolve.")
    return addresses


def vet_url(url: str, *, policy: FetchPolicy) -> Target:
    """Check an address against the policy and resolve it, once. Raises FetchRefused (or
    FetchUnavailable when the name does not resolve)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchRefused(REFUSED_NOT_WEB, "Not a web address.")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused(REFUSED_MALFORMED, "The address carries credentials.")
    host, literal = _host_of(parts)
    try:
        port = parts.port or _default_port(scheme)
    except ValueError:
        raise FetchRefused(REFUSED_MALFORMED, "The address has an invalid port.") from None
    path = parts.path or "/"
    request_target = path + (f"?{parts.query}" if parts.query else "")
    trusted = any(p.matches(scheme=scheme, host=host, port=port, path=path) for p in policy.trusted_prefixes)
    if not trusted:
        if scheme != "https":
            raise FetchRefused(REFUSED_INSECURE, "Only https addresses are fetched.")
        if policy.host_suffixes and (literal is not None or not host_matches_suffixes(host, policy.host_suffixes)):
            raise FetchRefused(REFUSED_HOST_NOT_ALLOWED, f"{host} is not one of the allowed servers.")
    addresses = [literal] if literal is not None else _resolve(host, port)
    if not trusted:
        for address in addresses:
            if not is_public_address(address):
                raise FetchRefused(
                    REFUSED_PRIVATE_ADDRESS, f"{host} leads to {address}, which is not a public internet address."
                )
    return Target(
        scheme=scheme,
        host=host,
        port=port,
        addresses=tuple(str(address) for address in addresses),
        request_target=request_target,
        trusted=trusted,
    )


# --------------------------------------------------------------------------- fetching


def connection_pool(
    target: Target, *, policy: FetchPolicy, address: str | None = None, maxsize: int = 1
) -> urllib3.HTTPConnectionPool:
    """A pool of `maxsize` connections to a checked address (the first unless told); TLS names
    and verifies the host."""
    address = address or target.address
    assert address in target.addresses
    timeout = urllib3.Timeout(connect=policy.connect_timeout, read=policy.read_timeout)
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            maxsize=maxsize,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, maxsize=maxsize, retries=False)


def _open(target: Target, *, policy: FetchPolicy) -> tuple[urllib3.HTTPConnectionPool, urllib3.BaseHTTPResponse]:
    """GET the target from the first of its checked addresses that takes a connection (a
    name with IPv4 and IPv6 addresses on a host with no IPv6 route, say)."""
    headers = {
        **policy.headers,
        "Host": target.host_header,
        "User-Agent": policy.user_agent,
        "Accept-Encoding": "identity",
    }
    for number, address in enumerate(target.addresses, start=1):
        pool = connection_pool(target, policy=policy, address=address)
        try:
            response = pool.urlopen(
                "GET",
                target.request_target,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
        except (NewConnectionError, ConnectTimeoutError) as error:
            pool.close()
            if number == len(target.addresses):
                raise FetchUnavailable(type(error).__name__) from error
            continue
        except (Urllib3Error, OSError) as error:
            pool.close()
            raise FetchUnavailable(type(error).__name__) from error
        return pool, response
    raise FetchUnavailable("no address to connect to")


def fetch(url: str, *, policy: FetchPolicy, into: IO[bytes]) -> Fetched:
    """GET `url` under `policy`, writing a 2xx body into `into`.

    Raises FetchRefused (the address or a redirect's), FetchTooLarge, FetchUnavailable.
    Any other status is returned as it is, without its body.
    """
    started = time.monotonic()
    current = url
    for _hop in range(policy.max_redirects + 1):
        target = vet_url(current, policy=policy)
        pool, response = _open(target, policy=policy)
        try:
            answer = {key.lower(): value for key, value in response.headers.items()}
            if response.status in REDIRECT_STATUSES and answer.get("location"):
                current = urljoin(current, answer["location"])
                continue
            size = 0
            if 200 <= response.status < 300:
                declared = answer.get("content-length", "")
                if declared.isdigit() and int(declared) > policy.max_bytes:
                    raise FetchTooLarge(f"{declared} bytes declared")
                for chunk in response.stream(CHUNK_BYTES, decode_content=False):
                    size += len(chunk)
                    if size > policy.max_bytes:
                        raise FetchTooLarge(f"more than {policy.max_bytes} bytes")
                    if time.monotonic() - started > policy.total_seconds:
                        raise FetchUnavailable("the download took too long")
                    into.write(chunk)
            return Fetched(status=response.status, headers=answer, url=current, size=size)
        except (Urllib3Error, OSError) as error:
            raise FetchUnavailable(type(error).__name__) from error
        finally:
            response.release_conn()
            pool.close()
    raise FetchRefused(REFUSED_TOO_MANY_REDIRECTS, f"More than {policy.max_redirects} redirects.")
