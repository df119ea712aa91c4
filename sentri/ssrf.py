"""SSRF guard for server-side requests to user-given URLs (callbacks and other outbound calls).

A URL is checked by resolving its host and requiring every address to be public (or allowlisted);
the request is then sent to exactly those checked addresses, so DNS cannot change the answer between
check and connect. Host header, TLS SNI and certificate verification stay on the original name.
A request may also have an overall deadline and read only the first bytes of the answer, so that a
receiver that trickles or never stops sending costs a bounded time and memory.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urlsplit

import idna
import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError, ReadTimeoutError
from urllib3.util import connection

from . import deadline as deadlines

__all__ = ["Allowlist", "CheckedTarget", "DeadlineExceeded", "PinnedPool", "UnsafeURLError", "check_url",
           "is_public_address", "post_json", "request"]

MAX_URL_LENGTH = 2048
ALLOWLIST_ENV = "SENTRI_CALLBACK_ALLOWLIST"
Resolver = Callable[..., list]

_CGNAT = IPv4Network("100.64.0.0/10")
_NAT64 = IPv6Network("64:ff9b::/96")
# Local-use NAT64 (RFC 8215): the operator picks the prefix length, so where the IPv4 sits is unknowable.
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")
_6TO4 = IPv6Network("2002::/16")
_TEREDO = IPv6Network("2001::/32")
_HOSTNAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_SEND_KWARGS = frozenset({"stream", "verify", "cert"})


class UnsafeURLError(ValueError):
    """A user-given URL that must not be requested; str() is a sentence saying why."""


class DeadlineExceeded(requests.Timeout):
    """The exchange did not end within its overall deadline; its connection was shut down."""


def _normalize_host(host: str) -> str:
    """Return the canonical form of an IP literal or the lower-case ASCII (IDNA) form of a hostname."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    name = host.rstrip(".").lower()
    if not name.isascii():
        name = idna.encode(name, uts46=True).decode("ascii")  # IDNAError is a ValueError
    if not _HOSTNAME.fullmatch(name):
        raise ValueError(f"not a valid hostname: {host!r}")
    return name


def _default_port(parts) -> int:
    """Return the URL's explicit port or the scheme's default."""
    port = parts.port  # raises ValueError when not a number in 0..65535
    return port if port is not None else (443 if parts.scheme.lower() == "https" else 80)


@dataclass(frozen=True)
class Allowlist:
    """Hostnames, IPs and networks exempt from the private-address rule."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPv4Network | IPv6Network, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> Allowlist:
        """Parse a comma-separated list of hostnames, IPs and CIDRs; raise ValueError naming bad entries."""
        hosts, networks, bad = set(), [], []
        for entry in (e.strip() for e in (text or "").split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            try:
                name = _normalize_host(entry)
            except ValueError:
                name = ""
            # Dotted digits that are not an IP are a typo, not a hostname.
            if not name or re.fullmatch(r"[0-9.]+", name):
                bad.append(entry)
            else:
                hosts.add(name)
        if bad:
            raise ValueError(f"{ALLOWLIST_ENV} has invalid entries: {', '.join(bad)}")
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        """Tell whether this hostname (and so whatever it resolves to) is exempt."""
        try:
            return _normalize_host(host) in self.hosts
        except ValueError:
            return False

    def allows_ip(self, ip: str | IPv4Address | IPv6Address) -> bool:
        """Tell whether this address is exempt (an IPv4-mapped IPv6 address counts as its IPv4)."""
        ip = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        candidates = [ip, ip.ipv4_mapped] if isinstance(ip, IPv6Address) and ip.ipv4_mapped else [ip]
        return any(c in net for c in candidates for net in self.networks)


@dataclass(frozen=True)
class CheckedTarget:
    """A URL that passed the check, with the addresses it may be sent to."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def _non_public_kind(ip: IPv4Address | IPv6Address) -> str | None:
    """Name the kind of non-public address `ip` is, or return None when it is public unicast."""
    if isinstance(ip, IPv6Address):
        # is_global trusts these wrappers; judge the IPv4 they carry instead.
        if ip.ipv4_mapped:
            return _non_public_kind(ip.ipv4_mapped)
        if ip in _NAT64:
            return _non_public_kind(IPv4Address(int(ip) & 0xFFFFFFFF))
        for net, kind in ((_NAT64_LOCAL, "local-use NAT64"), (_6TO4, "6to4"), (_TEREDO, "Teredo")):
            if ip in net:
                return kind
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        # Deprecated (RFC 3879) but still routed inside some sites; is_private and is_global ignore it.
        (isinstance(ip, IPv6Address) and ip.is_site_local, "site-local"),
        (isinstance(ip, IPv4Address) and ip in _CGNAT, "CGNAT"),
        (ip.is_multicast, "multicast"),  # is_global is True for global multicast
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (not ip.is_global, "non-public"),
    )
    return next((kind for hit, kind in checks if hit), None)


def is_public_address(ip: IPv4Address | IPv6Address) -> bool:
    """Tell whether `ip` is public unicast, unwrapping IPv6 forms that embed an IPv4 address."""
    return _non_public_kind(ip) is None


def check_url(url: str, allowlist: Allowlist | None = None, *, field: str = "callbackUrl",
              resolver: Resolver | None = None) -> CheckedTarget:
    """Validate scheme/length/host, resolve, and refuse unless every address is public or allowlisted."""
    return _check(url, allowlist, field, resolver, trusted=False)


def _check(url, allowlist, field, resolver, *, trusted: bool) -> CheckedTarget:
    """Do check_url's work; `trusted` skips only the private-address rule."""
    if not isinstance(url, str) or not url:
        raise UnsafeURLError(f"{field} must be a URL")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURLError(f"{field} must be at most {MAX_URL_LENGTH} characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise UnsafeURLError(f"{field} must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket, say: "http://[::1"
        raise UnsafeURLError(f"{field} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURLError(f"{field} must be an http or https URL")
    if "@" in parts.netloc:
        raise UnsafeURLError(f"{field} must not contain a username or password")
    if not parts.hostname:
        raise UnsafeURLError(f"{field} has no host")
    try:
        host = _normalize_host(parts.hostname)
        port = _default_port(parts)
    except ValueError:
        raise UnsafeURLError(f'{field} host "{parts.netloc}" is not a valid host and port') from None
    if not 0 < port < 65536:
        raise UnsafeURLError(f"{field} has an invalid port")

    # Looked up at call time so that tests can monkeypatch socket.getaddrinfo.
    resolve = resolver or socket.getaddrinfo
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeURLError(f'{field} host "{host}" could not be resolved') from None
    addresses = tuple(dict.fromkeys(i[4][0] for i in infos if i[0] in (socket.AF_INET, socket.AF_INET6)))
    if not addresses:
        raise UnsafeURLError(f'{field} host "{host}" could not be resolved')

    allowlist = allowlist or Allowlist()
    if not (trusted or allowlist.allows_host(host)):
        for address in addresses:
            ip = ipaddress.ip_address(address)
            kind = _non_public_kind(ip)
            if kind and not allowlist.allows_ip(ip):
                article = "an" if kind[0] in "aeiou" else "a"
                raise UnsafeURLError(f'{field} host "{host}" resolves to {article} {kind} address ({address})')
    return CheckedTarget(url=url, scheme=scheme, host=host, port=port, addresses=addresses)


class _PinnedConnectionMixin:
    """Dial the checked addresses instead of resolving `host` again; `host` still drives Host, SNI and cert."""

    pinned: tuple[str, ...] = ()

    def _new_conn(self) -> socket.socket:
        """Open a socket to the first checked address that accepts, in resolver order, within the
        exchange's deadline (if it has one), which then watches the socket."""
        error: Exception = NewConnectionError(self, "no checked address to connect to")
        bound = deadlines.current()
        for address in self.pinned:
            if bound is not None and bound.passed:
                error = ConnectTimeoutError(self, f"Connection to {self.host} ran out of its {bound.seconds:g} s deadline.")
                break
            try:
                sock = connection.create_connection(
                    (address, self.port), self.timeout if bound is None else bound.clamp(self.timeout),
                    source_address=self.source_address, socket_options=self.socket_options,
                )
            except TimeoutError:
                error = ConnectTimeoutError(self, f"Connection to {self.host} ({address}) timed out.")
            except OSError as e:
                error = NewConnectionError(self, f"Failed to establish a new connection to {address}: {e}")
            else:
                if bound is not None:
                    bound.watch(sock)
                sys.audit("http.client.connect", self, self.host, self.port)
                return sock
        raise error

    def request(self, *args, **kwargs) -> None:
        """Send a request, first putting a kept-alive connection (dialled earlier) under this exchange's deadline."""
        bound = deadlines.current()
        if bound is not None and self.sock is not None:
            bound.watch(self.sock)
        super().request(*args, **kwargs)


def _pinned_pool_classes(addresses: tuple[str, ...]) -> dict[str, type]:
    """Build http/https pool classes whose connections dial only `addresses`."""
    def pool(pool_cls, conn_cls):
        conn = type(f"Pinned{conn_cls.__name__}", (_PinnedConnectionMixin, conn_cls), {"pinned": addresses})
        return type(f"Pinned{pool_cls.__name__}", (pool_cls,), {"ConnectionCls": conn})
    return {"http": pool(HTTPConnectionPool, HTTPConnection), "https": pool(HTTPSConnectionPool, HTTPSConnection)}


class PinnedAdapter(HTTPAdapter):
    """Send requests for one checked target to its checked addresses only, never via a proxy."""

    def __init__(self, target: CheckedTarget):
        self.target = target  # init_poolmanager (called by super) needs it
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs) -> None:
        """Create the pool manager with pinned pool classes."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pinned_pool_classes(self.target.addresses)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        """Refuse anything but the checked scheme/host/port, then send directly (no proxy)."""
        parts = urlsplit(request.url)
        try:
            same = (parts.scheme.lower(), _normalize_host(parts.hostname or ""), _default_port(parts)) == (
                self.target.scheme, self.target.host, self.target.port)
        except ValueError:
            same = False
        if not same:  # e.g. `params` or a hook changed the URL after the check
            raise UnsafeURLError(f"request to {request.url} does not match the checked URL {self.target.url}")
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies={})


def _under_base(url: str, base: str | None) -> bool:
    """Tell whether `url` is `base` or below its path, on the same scheme, host and port."""
    if not base:
        return False
    try:
        u, b = urlsplit(url), urlsplit(base)
        same_origin = (u.scheme.lower(), u.hostname, _default_port(u)) == (b.scheme.lower(), b.hostname, _default_port(b))
    except ValueError:
        return False
    prefix = b.path.rstrip("/")
    return bool(u.hostname) and same_origin and (u.path == prefix or u.path.startswith(prefix + "/"))


class PinnedPool:
    """Kept-alive connections for several requests, each still checked: a connection is reused only
    for a request whose check gave the same scheme, host, port and addresses. Close it when done."""

    def __init__(self) -> None:
        self._adapters: dict[tuple, PinnedAdapter] = {}

    def adapter(self, target: CheckedTarget) -> PinnedAdapter:
        key = (target.scheme, target.host, target.port, target.addresses)
        if key not in self._adapters:
            self._adapters[key] = PinnedAdapter(target)
        return self._adapters[key]

    def close(self) -> None:
        for adapter in self._adapters.values():
            adapter.close()
        self._adapters.clear()


def request(method: str, url: str, *, allowlist: Allowlist | None = None, trusted_base: str | None = None,
            resolver: Resolver | None = None, session: requests.Session | None = None, field: str = "url",
            timeout: float | tuple[float, float] = 10.0, pool: PinnedPool | None = None,
            deadline: float | None = None, max_body: int | None = None, **kwargs) -> requests.Response:
    """Check `url`, then send one request to the checked addresses: no redirects, no env proxies.

    URLs under `trusted_base` skip the private-address rule but are still pinned. `session` only
    supplies defaults (headers, auth, cookies); the transport is always the pinned adapter, a fresh
    one per request unless `pool` keeps connections to the same checked addresses alive.
    `timeout` bounds each connect and read. `deadline` (seconds) bounds the whole exchange, check and
    connect included, however slowly the peer answers: then the connection is shut down and
    DeadlineExceeded raised. `max_body` reads at most that many bytes of the answer's body, as sent
    (identity encoding is asked for), and drops the connection with whatever is left.
    Other kwargs go to requests.Request (headers, json, data, params, auth...) or, for
    stream/verify/cert, to the send; `stream` cannot go with `deadline` or `max_body`.
    """
    send_kwargs = {k: kwargs.pop(k) for k in _SEND_KWARGS & kwargs.keys()}
    if send_kwargs.get("stream") and (deadline is not None or max_body is not None):
        raise ValueError("deadline and max_body bound reading the answer inside request(): not with stream")
    with deadlines.Deadline(deadline) if deadline is not None else contextlib.nullcontext() as bound:
        target = _check(url, allowlist, field, resolver, trusted=_under_base(url, trusted_base))
        try:
            response = _exchange(target, method, url, session, bound.clamp(timeout) if bound else timeout, pool,
                                 max_body, send_kwargs, kwargs)
        except Exception as exc:
            if bound is not None and bound.passed:
                raise DeadlineExceeded(f"{target.host} did not answer within {deadline:g} s") from exc
            raise
        if bound is not None and bound.interrupted:  # what was read may have been cut short
            raise DeadlineExceeded(f"{target.host} did not answer within {deadline:g} s")
    return response


def _exchange(target: CheckedTarget, method: str, url: str, session: requests.Session | None, timeout,
              pool: PinnedPool | None, max_body: int | None, send_kwargs: dict, kwargs: dict) -> requests.Response:
    """Send the request to the checked target and read its answer (all of it, or up to `max_body` bytes)."""
    stream = bool(send_kwargs.get("stream"))
    own_session = session is None
    if own_session:
        session = requests.Session()
        session.trust_env = False  # no netrc credentials either
    prepared = session.prepare_request(requests.Request(method.upper(), url, **kwargs))
    if max_body is not None:
        prepared.headers["Accept-Encoding"] = "identity"  # a bounded read of compressed bytes could not be decoded
    adapter = pool.adapter(target) if pool is not None else PinnedAdapter(target)
    try:
        response = adapter.send(prepared, timeout=timeout, **send_kwargs)
        if max_body is not None:
            _read_bounded(response, max_body)
        elif not stream:
            response.content  # noqa: B018 - read the body before the pool is closed
    finally:
        if not stream and pool is None:
            adapter.close()
        if own_session:
            session.close()
    return response


def _read_bounded(response: requests.Response, limit: int) -> None:
    """Read at most `limit` bytes of the body into response.content, then drop the connection."""
    raw = response.raw
    try:
        response._content = raw.read(limit, decode_content=False)
    except ReadTimeoutError as exc:
        raise requests.ReadTimeout(exc, response=response) from None
    except (HTTPError, OSError) as exc:
        raise requests.ConnectionError(exc, response=response) from None
    finally:
        raw.close()  # never drain an answer that may not end: close the connection with it
        raw.release_conn()
    response._content_consumed = True


def post_json(url: str, payload: dict, *, timeout: float = 10.0, allowlist: Allowlist | None = None,
              headers: dict | None = None, resolver: Resolver | None = None,
              session: requests.Session | None = None, max_body: int = 4096) -> requests.Response:
    """Re-check the URL, then POST `payload` as JSON to the checked address without following redirects.

    `timeout` bounds the whole exchange, not each read; at most `max_body` bytes of the answer are read.
    """
    return request("POST", url, allowlist=allowlist, resolver=resolver, session=session,
                   field="callbackUrl", timeout=timeout, deadline=timeout, max_body=max_body, headers=headers,
                   json=payload)
