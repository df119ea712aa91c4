"""Tests for sentri.ssrf: URL checks, address classification and pinned, redirect-free delivery.

Every test runs behind the `net` guard: names resolve only through a fake table, numeric hosts go
through the real getaddrinfo with AI_NUMERICHOST (parsed locally, never a DNS query), and any
connect() to a non-loopback address fails. Real HTTP traffic only ever goes to 127.0.0.1 / ::1.
"""

import errno
import http.server
import ipaddress
import itertools
import json
import re
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
from types import SimpleNamespace

import pytest
import requests
from urllib3.connectionpool import HTTPSConnectionPool

from sentri.outbound import DeadlineExceeded, PinnedAdapter, PinnedPool, _under_base, post_json, request
from sentri.ssrf import Allowlist, CheckedTarget, UnsafeURLError, check_url, is_public_address

PUBLIC_V4 = "93.184.216.34"
PROXY_VARS = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
)
_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect


def _infos(ips, port):
    """Build getaddrinfo-style results for `ips`."""
    port = int(port or 0)
    return [
        (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port, 0, 0))
        if ":" in ip
        else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port))
        for ip in ips
    ]


def resolver_for(*answers):
    """Return a resolver that answers each call with the next list of IPs (the last one repeats)."""
    calls = []

    def resolve(host, port, family=0, type=0, proto=0, flags=0):
        calls.append(host)
        return _infos(answers[min(len(calls), len(answers)) - 1], port)

    resolve.calls = calls
    return resolve


def _is_loopback(address):
    ip = ipaddress.ip_address(address.split("%")[0])
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


@pytest.fixture(autouse=True)
def net(monkeypatch):
    """Keep every test on loopback and record lookups and connection attempts."""
    state = SimpleNamespace(
        dns={
            "localhost": ["127.0.0.1"],
            "example.com": [PUBLIC_V4],
            "private.test": ["10.1.2.3"],
            "mixed.test": [PUBLIC_V4, "10.0.0.5"],
            "xn--bcher-kva.example": [PUBLIC_V4],
            "sitelocal.test": ["2606:4700::1111", "fec0::5"],
        },
        lookups=[],
        connects=[],
    )

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        host = host.decode() if isinstance(host, bytes) else host
        state.lookups.append(host)
        if host in state.dns:
            return _infos(state.dns[host], port)
        # AI_NUMERICHOST: glibc parses numeric forms itself (inet_aton) and never queries DNS.
        return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    def connect(sock, address):
        if isinstance(address, tuple):
            state.connects.append(address[0])
            if not _is_loopback(address[0]):
                raise OSError(errno.ENETUNREACH, f"test guard: refusing to connect to {address[0]}")
        return _real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    return state


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Record each request and answer with the server's configured status and headers."""

    def _handle(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        status, headers = self.server.reply
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = do_CONNECT = _handle

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self):
        # Skip HTTPServer.server_bind's getfqdn(), a reverse lookup we do not need.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


@pytest.fixture
def serve():
    """Start recording HTTP(S) servers on loopback; stop them after the test."""
    servers = []

    def start(status=200, headers=None, host="127.0.0.1", tls=None):
        cls = (
            _Server if ":" not in host else type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
        )
        server = cls((host, 0), _Recorder)
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        server.received, server.reply, server.port = [], (status, headers or {}), server.server_address[1]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


LOCAL = Allowlist.parse("127.0.0.1")

REFUSED = [
    ("ftp://example.com/x", "must be an http or https URL"),
    ("javascript:alert(1)", "must be an http or https URL"),
    ("http://localhost/", "loopback address (127.0.0.1)"),
    ("http://127.0.0.1/", "loopback address (127.0.0.1)"),
    ("http://0.0.0.0/", "unspecified address (0.0.0.0)"),
    ("http://[::]/", "unspecified address"),
    ("http://[::1]/", "loopback address (::1)"),
    ("http://[::ffff:127.0.0.1]/", "loopback address (::ffff:127.0.0.1)"),
    ("http://[::ffff:7f00:1]/", "loopback address"),
    ("http://[::7f00:1]/", "reserved address"),
    ("http://2130706433/", "loopback address (127.0.0.1)"),
    ("http://0x7f.1/", "loopback address (127.0.0.1)"),
    ("http://0177.0.0.1/", "loopback address (127.0.0.1)"),
    ("http://127.1/", "loopback address (127.0.0.1)"),
    ("http://[2002:7f00:1::1]/", "6to4 address"),
    ("http://[2002:808:808::1]/", "6to4 address"),
    ("http://[2001::1]/", "Teredo address"),
    ("http://[64:ff9b::a9fe:a9fe]/", "link-local address"),
    ("http://[64:ff9b::7f00:1]/", "loopback address"),
    ("http://[64:ff9b:1::a00:5]/", "NAT64 address"),
    ("http://10.0.0.5/", "private address (10.0.0.5)"),
    ("http://172.16.0.1/", "private address (172.16.0.1)"),
    ("http://192.168.1.1/", "private address (192.168.1.1)"),
    ("http://100.64.0.1/", "CGNAT address (100.64.0.1)"),
    ("http://169.254.169.254/latest/meta-data/", "link-local address (169.254.169.254)"),
    ("http://[fd00::1]/", "private address (fd00::1)"),
    ("http://[fe80::1]/", "link-local address (fe80::1)"),
    ("http://[fec0::1]/", "site-local address (fec0::1)"),
    ("http://[fed0:1:2::3]/", "site-local address (fed0:1:2::3)"),
    ("http://[feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/", "site-local address"),
    ("http://224.0.0.1/", "multicast address (224.0.0.1)"),
    ("http://[ff02::1]/", "multicast address"),
    ("http://240.0.0.1/", "reserved address"),
    ("http://private.test/hook", 'host "private.test" resolves to a private address (10.1.2.3)'),
    ("http://mixed.test/hook", "private address (10.0.0.5)"),
    ("http://sitelocal.test/hook", 'host "sitelocal.test" resolves to a site-local address (fec0::5)'),
    ("http://user:pass@example.com/", "must not contain a username or password"),
    ("http://example.com@127.0.0.1/", "must not contain a username or password"),
    ("http://example.com/" + "a" * 2048, "at most 2048 characters"),
    ("http:///nohost", "has no host"),
    ("http://:80/", "has no host"),
    ("https://", "has no host"),
    ("http://exa mple.com/", "spaces or control characters"),
    ("http://evil.test\\.example.com/", "not a valid host"),
    ("http://example.com:99999/", "not a valid host and port"),
    ("http://example.com:0/", "invalid port"),
    ("http://unknown.test/", 'host "unknown.test" could not be resolved'),
    ("", "must be a URL"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED, ids=[u[:40] for u, _ in REFUSED])
def test_refused_urls(net, url, reason):
    with pytest.raises(UnsafeURLError, match=re.escape(reason)):
        check_url(url)
    assert net.connects == []


def test_message_names_field_host_and_address():
    with pytest.raises(UnsafeURLError) as exc:
        check_url("http://10.0.0.5/")
    assert str(exc.value) == 'callbackUrl host "10.0.0.5" resolves to a private address (10.0.0.5)'
    with pytest.raises(UnsafeURLError, match=r'^webhookUrl host "127\.0\.0\.1"'):
        check_url("http://127.0.0.1/", field="webhookUrl")


@pytest.mark.parametrize("form", ["2130706433", "0x7f.1", "0177.0.0.1", "127.1"])
def test_numeric_forms_parse_to_loopback_on_this_machine(form):
    infos = _real_getaddrinfo(form, 80, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    assert {info[4][0] for info in infos} == {"127.0.0.1"}


def test_accepted_public_hostname(net):
    assert check_url("https://example.com/hook") == CheckedTarget(
        url="https://example.com/hook", scheme="https", host="example.com", port=443, addresses=(PUBLIC_V4,)
    )
    assert net.connects == []


@pytest.mark.parametrize(
    ("url", "host", "port", "addresses"),
    [
        ("http://[2606:4700::1111]/", "2606:4700::1111", 80, ("2606:4700::1111",)),
        ("HTTPS://Example.COM.:8443/x", "example.com", 8443, (PUBLIC_V4,)),
        ("https://bücher.example/", "xn--bcher-kva.example", 443, (PUBLIC_V4,)),
        ("http://[64:ff9b::808:808]/", "64:ff9b::808:808", 80, ("64:ff9b::808:808",)),
        ("http://8.8.8.8:8080/", "8.8.8.8", 8080, ("8.8.8.8",)),
    ],
)
def test_accepted_urls(net, url, host, port, addresses):
    target = check_url(url)
    assert (target.host, target.port, target.addresses) == (host, port, addresses)
    assert net.connects == []


def test_injected_resolver_is_used_and_addresses_keep_order(net):
    resolve = resolver_for(["2606:4700::1111", PUBLIC_V4, "2606:4700::1111"])
    target = check_url("https://hooks.ci.test/x", resolver=resolve)
    assert target.addresses == ("2606:4700::1111", PUBLIC_V4)
    assert resolve.calls == ["hooks.ci.test"] and net.lookups == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("64:ff9b::808:808", True),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("10.0.0.5", False),
        ("100.64.0.1", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("192.0.2.1", False),
        ("::1", False),
        ("::", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.5", False),
        ("64:ff9b::a00:5", False),
        ("64:ff9b:1::808:808", False),
        ("2002:808:808::1", False),
        ("2001::1", False),
        ("2001:db8::1", False),
        ("fd00::1", False),
        ("fec0::1", False),
        ("feff::1", False),
        ("ff00::1", False),
    ],
)
def test_is_public_address(address, public):
    assert is_public_address(ipaddress.ip_address(address)) is public


def test_allowlist_parse():
    allow = Allowlist.parse(" ci.internal, 127.0.0.1,10.0.0.0/8 , [::1], Bücher.Example., ")
    assert allow.hosts == frozenset({"ci.internal", "xn--bcher-kva.example"})
    assert allow.networks == tuple(ipaddress.ip_network(n) for n in ("127.0.0.1/32", "10.0.0.0/8", "::1/128"))
    assert Allowlist.parse(None) == Allowlist.parse("") == Allowlist.parse(" , ") == Allowlist()


def test_allowlist_parse_names_bad_entries():
    with pytest.raises(ValueError, match="http://x/") as exc:
        Allowlist.parse("ok.host, http://x/, 10.0.0.0/33, 999.1.1.1")
    message = str(exc.value)
    assert "http://x/" in message and "10.0.0.0/33" in message and "999.1.1.1" in message
    assert "ok.host" not in message


def test_allowlist_membership():
    allow = Allowlist.parse("CI.internal,127.0.0.0/8")
    assert allow.allows_host("ci.INTERNAL") and not allow.allows_host("other.internal")
    assert allow.allows_ip("127.9.9.9") and allow.allows_ip(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert not allow.allows_ip("10.0.0.1")


@pytest.mark.parametrize(
    ("allow", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080/hook"),
        ("127.0.0.0/8", "http://127.0.0.2/"),
        ("127.0.0.0/8", "http://2130706433/"),
        ("localhost", "http://localhost:5000/"),
        ("::1", "http://[::1]/"),
        ("127.0.0.1", "http://[::ffff:127.0.0.1]/"),
        ("10.0.0.0/8", "http://mixed.test/"),
        ("private.test", "http://private.test/"),
        ("fec0::/10", "http://[fec0::1]/"),
    ],
)
def test_allowlist_exempts(allow, url):
    assert check_url(url, Allowlist.parse(allow)).url == url


@pytest.mark.parametrize(
    ("allow", "url", "reason"),
    [
        ("127.0.0.1", "http://10.0.0.5/", "private"),
        ("localhost", "http://127.0.0.1/", "loopback"),
        ("ci.internal", "http://private.test/", "private"),
        ("127.0.0.1", "ftp://127.0.0.1/", "http or https"),
        ("127.0.0.1", "http://u:p@127.0.0.1/", "username or password"),
    ],
)
def test_allowlist_exempts_nothing_else(allow, url, reason):
    with pytest.raises(UnsafeURLError, match=reason):
        check_url(url, Allowlist.parse(allow))


def test_post_json_delivers_body_and_host(serve):
    server = serve()
    url = f"http://127.0.0.1:{server.port}/hook?x=1"
    payload = {"runId": "RUN-42", "status": "completed", "verdict": "passed"}
    response = post_json(url, payload, allowlist=LOCAL, headers={"X-Sentri": "1"})
    assert response.status_code == 200 and response.text == "ok" and response.url == url
    (got,) = server.received
    assert (got["method"], got["path"], json.loads(got["body"])) == ("POST", "/hook?x=1", payload)
    assert got["headers"]["Host"] == f"127.0.0.1:{server.port}"
    assert got["headers"]["Content-Type"] == "application/json"
    assert got["headers"]["X-Sentri"] == "1"


def test_post_json_refuses_loopback_without_allowlist(serve, net):
    server = serve()
    with pytest.raises(UnsafeURLError, match="loopback"):
        post_json(f"http://127.0.0.1:{server.port}/", {})
    assert server.received == [] and net.connects == []


def test_connection_is_pinned_while_host_keeps_the_name(serve):
    server = serve()
    post_json(
        f"http://localhost:{server.port}/cb",
        {"a": 1},
        allowlist=Allowlist.parse("localhost"),
        resolver=resolver_for(["127.0.0.1"]),
    )
    assert server.received[0]["headers"]["Host"] == f"localhost:{server.port}"


def test_transport_never_resolves_the_name_again(serve, net):
    # The guard resolver does not know this name: success proves urllib3 dialled the checked IP.
    server = serve()
    post_json(
        f"http://hooks.ci.test:{server.port}/cb",
        {},
        allowlist=Allowlist.parse("hooks.ci.test"),
        resolver=resolver_for(["127.0.0.1"]),
    )
    assert server.received[0]["headers"]["Host"] == f"hooks.ci.test:{server.port}"
    assert "hooks.ci.test" not in net.lookups and net.connects == ["127.0.0.1"]


def test_checked_addresses_are_tried_in_order(serve, net):
    server = serve()  # listens on 127.0.0.1 only, so 127.0.0.2 refuses the connection
    post_json(
        f"http://multi.test:{server.port}/",
        {},
        allowlist=Allowlist.parse("127.0.0.0/8"),
        resolver=resolver_for(["127.0.0.2", "127.0.0.1"]),
    )
    assert net.connects == ["127.0.0.2", "127.0.0.1"] and len(server.received) == 1


def test_all_checked_addresses_failing_is_a_connection_error(serve, net):
    server = serve()
    with pytest.raises(requests.ConnectionError):
        post_json(
            f"http://multi.test:{server.port}/",
            {},
            allowlist=Allowlist.parse("127.0.0.0/8"),
            resolver=resolver_for(["127.0.0.2", "127.0.0.3"]),
        )
    assert net.connects == ["127.0.0.2", "127.0.0.3"] and server.received == []


def test_ipv6_literal_over_loopback(serve):
    try:
        server = serve(host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    post_json(f"http://[::1]:{server.port}/v6", {"v": 6}, allowlist=Allowlist.parse("::1"))
    assert server.received[0]["headers"]["Host"] == f"[::1]:{server.port}"


def test_redirects_are_not_followed(serve):
    second = serve()
    first = serve(302, {"Location": f"http://127.0.0.1:{second.port}/stolen"})
    response = post_json(f"http://127.0.0.1:{first.port}/", {"x": 1}, allowlist=LOCAL)
    assert response.status_code == 302 and response.history == []
    assert response.headers["Location"].endswith("/stolen")
    assert len(first.received) == 1 and second.received == []


def test_dns_rebinding_is_refused_at_send_time(serve, net):
    server = serve()
    url = f"http://rebind.test:{server.port}/"
    resolve = resolver_for(["127.0.0.1"], ["10.0.0.5"])
    check_url(url, LOCAL, resolver=resolve)  # trigger time: fine
    with pytest.raises(UnsafeURLError, match=re.escape("private address (10.0.0.5)")):
        post_json(url, {}, allowlist=LOCAL, resolver=resolve)
    assert resolve.calls == ["rebind.test", "rebind.test"]
    assert server.received == [] and net.connects == []


def test_environment_and_session_proxies_are_ignored(serve, monkeypatch):
    proxy, target = serve(), serve()
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, f"http://127.0.0.1:{proxy.port}")
    post_json(f"http://127.0.0.1:{target.port}/a", {}, allowlist=LOCAL)
    session = requests.Session()  # trust_env=True and an explicit proxy: both must be ignored
    session.proxies = {"http": f"http://127.0.0.1:{proxy.port}"}
    session.headers["X-Token"] = "abc"
    post_json(f"http://127.0.0.1:{target.port}/b", {}, allowlist=LOCAL, session=session)
    assert [r["path"] for r in target.received] == ["/a", "/b"]
    assert target.received[1]["headers"]["X-Token"] == "abc"
    assert proxy.received == []


def test_trusted_base_skips_only_the_private_rule(serve):
    second = serve()
    server = serve(302, {"Location": f"http://127.0.0.1:{second.port}/"})
    base = f"http://127.0.0.1:{server.port}/api/v3"
    response = request("GET", f"{base}/repos/x", trusted_base=base, params={"page": 2})
    assert response.status_code == 302 and second.received == []
    assert server.received[0]["path"] == "/api/v3/repos/x?page=2"
    for outside in (
        f"http://127.0.0.1:{server.port}/api/v3evil",
        f"http://127.0.0.1:{second.port}/api/v3/x",
        f"https://127.0.0.1:{server.port}/api/v3/x",
    ):
        with pytest.raises(UnsafeURLError, match="loopback"):
            request("GET", outside, trusted_base=base)
    assert len(server.received) == 1


@pytest.mark.parametrize(
    ("url", "under"),
    [
        ("https://ghe.test/api/v3", True),
        ("https://GHE.test:443/api/v3/repos", True),
        ("https://ghe.test/api/v3evil", False),
        ("http://ghe.test/api/v3/x", False),
        ("https://ghe.test:8443/api/v3/x", False),
        ("https://other.test/api/v3/x", False),
    ],
)
def test_under_base(url, under):
    assert _under_base(url, "https://ghe.test/api/v3/") is under


def test_adapter_refuses_a_request_for_another_target():
    target = check_url("http://127.0.0.1:8080/", LOCAL)
    for other in ("http://127.0.0.1:8081/", "https://127.0.0.1:8080/", "http://localhost:8080/"):
        with pytest.raises(UnsafeURLError, match="does not match"):
            PinnedAdapter(target).send(requests.Request("GET", other).prepare())


def test_https_pool_keeps_the_name_for_sni_and_certificate():
    target = CheckedTarget("https://hooks.ci.test/x", "https", "hooks.ci.test", 443, ("127.0.0.1",))
    pool = PinnedAdapter(target).get_connection_with_tls_context(
        requests.Request("POST", target.url).prepare(), verify=True
    )
    assert isinstance(pool, HTTPSConnectionPool) and pool.host == "hooks.ci.test"
    conn = pool._new_conn()  # builds the connection object without connecting
    assert conn.host == "hooks.ci.test" and conn.pinned == ("127.0.0.1",)
    # No override: urllib3 then uses conn.host for SNI and for the certificate's name check.
    assert conn.server_hostname is None and conn.assert_hostname is None
    assert conn.cert_reqs == "CERT_REQUIRED"


def _tls_context(tmp_path) -> tuple[ssl.SSLContext, str]:
    """A server context with a self-signed certificate for hooks.ci.test only, and the certificate's path."""
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=hooks.ci.test",
            "-addext",
            "subjectAltName=DNS:hooks.ci.test",
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, str(cert)


@pytest.fixture
def tls_server(serve, tmp_path):
    """Serve HTTPS on 127.0.0.1 with a self-signed certificate for hooks.ci.test only."""
    context, cafile = _tls_context(tmp_path)
    sni = []
    context.sni_callback = lambda sock, name, ctx: sni.append(name)
    server = serve(tls=context)
    server.sni, server.cafile = sni, cafile
    return server


def test_tls_sni_and_certificate_use_the_name(tls_server, net):
    url = f"https://hooks.ci.test:{tls_server.port}/cb"
    response = request(
        "POST",
        url,
        allowlist=Allowlist.parse("hooks.ci.test"),
        resolver=resolver_for(["127.0.0.1"]),
        verify=tls_server.cafile,
        json={"a": 1},
    )
    assert response.status_code == 200
    assert tls_server.sni == ["hooks.ci.test"]
    assert tls_server.received[0]["headers"]["Host"] == f"hooks.ci.test:{tls_server.port}"
    assert net.connects == ["127.0.0.1"] and "hooks.ci.test" not in net.lookups


@pytest.mark.parametrize("url", ["https://127.0.0.1:{port}/", "https://other.ci.test:{port}/"])
def test_tls_certificate_is_checked_against_the_url_name(tls_server, url):
    with pytest.raises(requests.exceptions.SSLError):
        request(
            "GET",
            url.format(port=tls_server.port),
            allowlist=Allowlist.parse("127.0.0.1"),
            resolver=resolver_for(["127.0.0.1"]),
            verify=tls_server.cafile,
        )
    assert tls_server.received == []


class _KeepAlive(_Recorder):
    protocol_version = "HTTP/1.1"


def test_a_pool_keeps_one_connection_per_checked_target_and_still_checks_every_request(net):
    server = _Server(("127.0.0.1", 0), _KeepAlive)
    server.received, server.reply = [], (200, {})
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/api/v3"
    pool = PinnedPool()
    try:
        for page in range(3):
            assert request("GET", f"{base}/x?page={page}", trusted_base=base, pool=pool).status_code == 200
        assert len(server.received) == 3 and net.connects == ["127.0.0.1"]  # one connection, kept alive
        with pytest.raises(UnsafeURLError, match="loopback"):  # outside the trusted base: refused as ever
            request("GET", f"http://127.0.0.1:{server.server_address[1]}/other", trusted_base=base, pool=pool)
        assert len(server.received) == 3
    finally:
        pool.close()
        server.shutdown()
        server.server_close()


class _Trickles(_Recorder):
    """Keep the connection alive; answer the first `server.answer` requests, then trickle the next one's
    head forever, one byte every 0.3 s."""

    protocol_version = "HTTP/1.1"

    def _handle(self):
        if len(self.server.received) < self.server.answer:
            return super()._handle()
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append({"method": self.command, "path": self.path})
        lines = itertools.chain(
            [b"HTTP/1.1 200 OK\r\n"], (f"X-Wait-{n}: 1\r\n".encode() for n in itertools.count())
        )
        head = itertools.chain.from_iterable(lines)
        for byte in head:
            if self.server.stopping.wait(0.3):
                return
            try:
                self.wfile.write(bytes([byte]))
            except OSError:  # the client hung up
                return

    do_GET = do_POST = _handle


@pytest.fixture
def trickling():
    """Start a _Trickles server (over TLS with `tls`); stop it after the test."""
    servers = []

    def start(answer=0, tls=None):
        server = _Server(("127.0.0.1", 0), _Trickles)
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        server.received, server.reply, server.answer, server.stopping = (
            [],
            (200, {}),
            answer,
            threading.Event(),
        )
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stopping.set()
        server.shutdown()
        server.server_close()


def test_the_deadline_bounds_a_trickling_answer_over_tls(trickling, tmp_path, net):
    """The deadline watches the socket it dialled, which TLS then wraps."""
    context, cafile = _tls_context(tmp_path)
    server = trickling(tls=context)
    outcome = {}

    def call():
        try:
            request(
                "POST",
                f"https://hooks.ci.test:{server.server_address[1]}/cb",
                json={"a": 1},
                deadline=1.5,
                allowlist=Allowlist.parse("hooks.ci.test"),
                resolver=resolver_for(["127.0.0.1"]),
                verify=cafile,
            )
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the request was still waiting after 30 s"
    assert isinstance(outcome.get("error"), DeadlineExceeded), outcome
    assert [r["path"] for r in server.received] == ["/cb"]  # the handshake was done: the answer trickled


def test_the_deadline_also_bounds_a_kept_alive_connection(trickling, net):
    """A connection dialled for an earlier request is put under the new request's deadline too."""
    server = trickling(answer=1)
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    pool, outcome = PinnedPool(), {}

    def second():
        try:
            request("GET", url, allowlist=LOCAL, pool=pool, deadline=1.5)
        except Exception as exc:
            outcome["error"] = exc

    try:
        assert request("GET", url, allowlist=LOCAL, pool=pool, deadline=1.5).status_code == 200
        thread = threading.Thread(target=second, daemon=True)
        thread.start()
        thread.join(30)
        assert not thread.is_alive(), "the second request was still waiting after 30 s"
        assert isinstance(outcome.get("error"), DeadlineExceeded), outcome
        assert len(server.received) == 2 and net.connects == ["127.0.0.1"]  # the same, kept-alive connection
    finally:
        pool.close()


def test_a_deadline_already_passed_never_connects(serve, net):
    server = serve()
    with pytest.raises(DeadlineExceeded, match="did not answer within 0 s"):
        request("POST", f"http://127.0.0.1:{server.port}/", allowlist=LOCAL, deadline=0, json={})
    assert net.connects == [] and server.received == []


def test_a_deadline_or_a_bounded_read_cannot_stream(serve):
    server = serve()
    for bound in ({"deadline": 5}, {"max_body": 10}):
        with pytest.raises(ValueError, match="not with stream"):
            request("GET", f"http://127.0.0.1:{server.port}/", allowlist=LOCAL, stream=True, **bound)
    assert server.received == []
