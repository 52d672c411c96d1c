"""The safe fetcher (helpdesk.netfetch): what it refuses to reach, where it connects, how it
follows redirects and caps a body. DNS is patched (socket.getaddrinfo, autospec) where a name
must resolve; a local HTTP server stands behind a trusted prefix where an answer is needed."""

from __future__ import annotations

import io
import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3.util.connection

from helpdesk import netfetch
from helpdesk.netfetch import FetchPolicy, FetchRefused, TrustedPrefix

PUBLIC_IP = "157.240.22.35"
POLICY = FetchPolicy(max_bytes=1000)
PRODUCTION_POLICY = FetchPolicy(max_bytes=1000, host_suffixes=("fbcdn.net", "fbsbx.com", "facebook.com"))


def addrinfo(*addresses: str, port: int = 443) -> list[Any]:
    """What getaddrinfo answers for a name with these addresses."""
    return [
        (
            socket.AF_INET6 if ":" in address else socket.AF_INET,
            socket.SOCK_STREAM,
            6,
            "",
            (address, port, 0, 0) if ":" in address else (address, port),
        )
        for address in addresses
    ]


_real_getaddrinfo = socket.getaddrinfo


@pytest.fixture
def dns() -> Iterator[mock.MagicMock]:
    """Names resolve to `dns.answer` (a public address unless a test says otherwise); an IP
    literal (the connection to a checked address, the local server) resolves as it is."""

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return addrinfo(*getaddrinfo.answer, port=port)
        return _real_getaddrinfo(host, port, *args, **kwargs)

    with mock.patch.object(socket, "getaddrinfo", autospec=True, side_effect=resolve) as getaddrinfo:
        getaddrinfo.answer = (PUBLIC_IP,)
        yield getaddrinfo


@pytest.fixture
def no_connection() -> Iterator[mock.MagicMock]:
    """Every connection attempt is recorded and refused (nothing leaves the machine)."""
    with mock.patch.object(
        urllib3.util.connection, "create_connection", autospec=True, side_effect=ConnectionRefusedError("test")
    ) as create_connection:
        yield create_connection


# --------------------------------------------------------------------------- refused addresses

REFUSED = [
    ("https://127.0.0.1/x.png", ()),
    ("https://localhost/x.png", ("127.0.0.1", "::1")),
    ("https://2130706433/x.png", ()),
    ("https://0x7f000001/x.png", ()),
    ("https://0177.0.0.1/x.png", ()),
    ("https://0x7f.1/x.png", ()),
    ("https://127.1/x.png", ()),
    ("https://[::1]/x.png", ()),
    ("https://[::ffff:127.0.0.1]/x.png", ()),
    ("https://[::127.0.0.1]/x.png", ()),
    ("https://[2002:7f00:1::]/x.png", ()),  # 6to4 around 127.0.0.1
    ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/x.png", ()),  # Teredo around 127.0.0.1
    ("https://[64:ff9b::a00:1]/x.png", ()),  # NAT64 around 10.0.0.1
    ("https://[fd00::1]/x.png", ()),
    ("https://[fe80::1]/x.png", ()),
    ("https://[ff02::1]/x.png", ()),
    ("https://10.1.2.3/x.png", ()),
    ("https://172.16.0.1/x.png", ()),
    ("https://192.168.1.1/x.png", ()),
    ("https://169.254.169.254/latest/meta-data/", ()),
    ("https://100.64.0.1/x.png", ()),
    ("https://0.0.0.0/x.png", ()),
    ("https://224.0.0.1/x.png", ()),
    ("https://240.0.0.1/x.png", ()),
    ("https://intranet.example.com/x.png", ("10.0.0.5",)),
    ("https://half.example.com/x.png", (PUBLIC_IP, "192.168.0.10")),  # every address counts
    ("https://metadata.example.com/x.png", ("169.254.169.254",)),
    ("https://v6.example.com/x.png", ("fc00::7",)),
]


@pytest.mark.parametrize(("url", "resolves_to"), REFUSED, ids=[url for url, _ in REFUSED])
def test_no_spelling_of_an_internal_address_is_fetched(
    url: str, resolves_to: tuple[str, ...], dns: mock.MagicMock, no_connection: mock.MagicMock
) -> None:
    dns.answer = resolves_to
    with pytest.raises(FetchRefused) as refused:
        netfetch.fetch(url, policy=POLICY, into=io.BytesIO())
    assert refused.value.code in (netfetch.REFUSED_PRIVATE_ADDRESS, netfetch.REFUSED_NUMERIC_HOST)
    no_connection.assert_not_called()


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.1", "8.8.8", "08.8.8.8"])
def test_non_canonical_numeric_hosts_are_refused_without_a_lookup(host: str, dns: mock.MagicMock) -> None:
    with pytest.raises(FetchRefused) as refused:
        netfetch.vet_url(f"https://{host}/x.png", policy=POLICY)
    assert refused.value.code == netfetch.REFUSED_NUMERIC_HOST
    dns.assert_not_called()


@pytest.mark.parametrize(
    "url,code",
    [
        ("http://cdn.example.com/x.png", netfetch.REFUSED_INSECURE),
        ("ftp://cdn.example.com/x.png", netfetch.REFUSED_NOT_WEB),
        ("file:///etc/passwd", netfetch.REFUSED_NOT_WEB),
        ("https://user:secret@cdn.example.com/x.png", netfetch.REFUSED_MALFORMED),
        ("https://cdn.example.com\\@127.0.0.1/x.png", netfetch.REFUSED_MALFORMED),
        ("https:///x.png", netfetch.REFUSED_MALFORMED),
    ],
)
def test_only_https_addresses_with_a_plain_host_are_fetched(url: str, code: str, dns: mock.MagicMock) -> None:
    with pytest.raises(FetchRefused) as refused:
        netfetch.vet_url(url, policy=POLICY)
    assert refused.value.code == code


def test_a_public_https_address_passes(dns: mock.MagicMock) -> None:
    target = netfetch.vet_url("https://CDN.Example.com./v/photo.png?x=1", policy=POLICY)
    assert (target.scheme, target.host, target.port, target.address) == ("https", "cdn.example.com", 443, PUBLIC_IP)
    assert target.request_target == "/v/photo.png?x=1"
    assert not target.trusted


# --------------------------------------------------------------------------- production hosts


@pytest.mark.parametrize(
    "host,allowed",
    [
        ("scontent.xx.fbcdn.net", True),
        ("fbcdn.net", True),
        ("cdn.fbsbx.com", True),
        ("lookaside.facebook.com", True),
        ("evilfbcdn.net", False),
        ("fbcdn.net.evil.example", False),
        ("notfacebook.com", False),
        ("157.240.22.35", False),
        ("cdn.example.com", False),
    ],
)
def test_in_production_only_facebook_cdn_hosts_are_fetched_on_a_label_boundary(
    host: str, allowed: bool, dns: mock.MagicMock
) -> None:
    url = f"https://{host}/v/photo.png"
    if allowed:
        assert netfetch.vet_url(url, policy=PRODUCTION_POLICY).host == host
    else:
        with pytest.raises(FetchRefused) as refused:
            netfetch.vet_url(url, policy=PRODUCTION_POLICY)
        assert refused.value.code == netfetch.REFUSED_HOST_NOT_ALLOWED


def test_a_facebook_host_that_resolves_inside_our_network_is_still_refused(dns: mock.MagicMock) -> None:
    dns.answer = ("127.0.0.1",)
    with pytest.raises(FetchRefused) as refused:
        netfetch.vet_url("https://scontent.xx.fbcdn.net/x.png", policy=PRODUCTION_POLICY)
    assert refused.value.code == netfetch.REFUSED_PRIVATE_ADDRESS


# --------------------------------------------------------------------------- the connection


def test_the_connection_goes_to_the_address_that_was_checked_with_one_lookup(
    dns: mock.MagicMock, no_connection: mock.MagicMock
) -> None:
    # A rebinding resolver would answer a private address the second time: there is none.
    dns.side_effect = [addrinfo(PUBLIC_IP), addrinfo("127.0.0.1")]
    with pytest.raises(netfetch.FetchUnavailable):
        netfetch.fetch("https://scontent.xx.fbcdn.net/v/photo.png", policy=PRODUCTION_POLICY, into=io.BytesIO())
    assert dns.call_count == 1
    no_connection.assert_called_once()
    assert no_connection.call_args.args[0] == (PUBLIC_IP, 443)


def test_tls_names_and_verifies_the_host_while_connecting_to_its_address(dns: mock.MagicMock) -> None:
    target = netfetch.vet_url("https://scontent.xx.fbcdn.net/v/photo.png", policy=PRODUCTION_POLICY)
    pool = netfetch.connection_pool(target, policy=PRODUCTION_POLICY)
    assert pool.host == PUBLIC_IP
    assert pool.conn_kw["server_hostname"] == "scontent.xx.fbcdn.net"
    assert pool.assert_hostname == "scontent.xx.fbcdn.net"
    assert pool.cert_reqs == "CERT_REQUIRED"
    assert target.host_header == "scontent.xx.fbcdn.net"


# --------------------------------------------------------------------------- against a server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/cdn/redirect":
            self._answer(302, b"", location=query["to"][0])
        elif parts.path.startswith("/cdn/hop/"):
            left = int(parts.path.rsplit("/", 1)[1])
            if left:
                self._answer(302, b"", location=f"/cdn/hop/{left - 1}")
            else:
                self._answer(200, b"arrived")
        elif parts.path == "/cdn/big":
            self._answer(200, b"x" * 2000)
        elif parts.path == "/cdn/big-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(5):
                self.wfile.write(b"190\r\n" + b"y" * 400 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif parts.path == "/cdn/photo.png":
            self._answer(200, b"\x89PNG\r\n\x1a\nrest", content_type="image/png")
        else:
            self._answer(404, b"")

    def _answer(self, status: int, body: bytes, *, location: str = "", content_type: str = "text/plain") -> None:
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def trusted(server: str, **fields: Any) -> FetchPolicy:
    """Like the Graph sandbox in development: the local server's /cdn/ is trusted."""
    return FetchPolicy(max_bytes=1000, trusted_prefixes=(TrustedPrefix.parse(f"{server}/cdn/"),), **fields)


def test_a_trusted_prefix_is_fetched_over_http_and_its_body_written(server: str) -> None:
    body = io.BytesIO()
    fetched = netfetch.fetch(f"{server}/cdn/photo.png", policy=trusted(server), into=body)
    assert (fetched.status, fetched.content_type, fetched.size) == (200, "image/png", 12)
    assert body.getvalue().startswith(b"\x89PNG")


def test_the_same_server_outside_the_trusted_prefix_is_refused(server: str) -> None:
    with pytest.raises(FetchRefused) as refused:
        netfetch.fetch(f"{server}/admin/", policy=trusted(server), into=io.BytesIO())
    assert refused.value.code == netfetch.REFUSED_INSECURE


@pytest.mark.parametrize(
    "to",
    [
        "http://127.0.0.1:9/",
        "https://169.254.169.254/latest/meta-data/",
        "https://2130706433/",
        "https://intranet.example.com/",
        "/admin/",
    ],
)
def test_a_redirect_to_an_internal_address_is_refused(server: str, to: str, dns: mock.MagicMock) -> None:
    dns.answer = ("10.0.0.5",)
    with pytest.raises(FetchRefused):
        netfetch.fetch(f"{server}/cdn/redirect?to={to}", policy=trusted(server), into=io.BytesIO())


def test_three_redirects_are_followed_and_a_fourth_is_refused(server: str) -> None:
    body = io.BytesIO()
    assert netfetch.fetch(f"{server}/cdn/hop/3", policy=trusted(server), into=body).status == 200
    assert body.getvalue() == b"arrived"
    with pytest.raises(FetchRefused) as refused:
        netfetch.fetch(f"{server}/cdn/hop/4", policy=trusted(server), into=io.BytesIO())
    assert refused.value.code == netfetch.REFUSED_TOO_MANY_REDIRECTS


@pytest.mark.parametrize("path", ["/cdn/big", "/cdn/big-chunked"])
def test_a_body_over_the_cap_is_refused_declared_or_not(server: str, path: str) -> None:
    body = io.BytesIO()
    with pytest.raises(netfetch.FetchTooLarge):
        netfetch.fetch(f"{server}{path}", policy=trusted(server), into=body)
    assert len(body.getvalue()) <= 1000


def test_an_error_status_is_returned_without_its_body(server: str) -> None:
    body = io.BytesIO()
    assert netfetch.fetch(f"{server}/cdn/gone.png", policy=trusted(server), into=body).status == 404
    assert body.getvalue() == b""


def test_a_server_that_does_not_answer_in_time_is_unavailable(server: str) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    silent = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with pytest.raises(netfetch.FetchUnavailable):
            netfetch.fetch(f"{silent}/cdn/x", policy=trusted(silent, read_timeout=0.2), into=io.BytesIO())
    finally:
        listener.close()


def test_when_the_first_checked_address_takes_no_connection_the_next_one_is_tried(
    server: str, dns: mock.MagicMock
) -> None:
    port = urlsplit(server).port
    dns.answer = ("::1", "127.0.0.1")  # nothing listens on [::1]:port
    policy = FetchPolicy(max_bytes=1000, trusted_prefixes=(TrustedPrefix.parse(f"http://localhost:{port}/cdn/"),))
    real = urllib3.util.connection.create_connection
    with mock.patch.object(urllib3.util.connection, "create_connection", autospec=True, side_effect=real) as connect:
        body = io.BytesIO()
        assert netfetch.fetch(f"http://localhost:{port}/cdn/photo.png", policy=policy, into=body).status == 200
    assert [call.args[0] for call in connect.call_args_list] == [("::1", port), ("127.0.0.1", port)]
    assert body.getvalue().startswith(b"\x89PNG")
    assert dns.call_args_list[0].args[0] == "localhost"
