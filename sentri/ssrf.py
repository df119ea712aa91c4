"""SSRF guard for server-side requests to user-given URLs (callbacks and other outbound calls).

A URL is checked by resolving its host and requiring every address to be public (or allowlisted).
outbound.py then sends the request to exactly those checked addresses, so DNS cannot change the answer
between check and connect.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any
from urllib.parse import SplitResult, urlsplit

import idna

__all__ = ["Allowlist", "CheckedTarget", "UnsafeURLError", "check_url", "is_public_address"]

MAX_URL_LENGTH = 2048
ALLOWLIST_ENV = "SENTRI_CALLBACK_ALLOWLIST"
# socket.getaddrinfo's answer: (family, type, proto, canonname, sockaddr), the sockaddr starting with the address.
AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]
Resolver = Callable[..., Sequence[AddrInfo]]

_CGNAT = IPv4Network("100.64.0.0/10")
_NAT64 = IPv6Network("64:ff9b::/96")
# Local-use NAT64 (RFC 8215): the operator picks the prefix length, so where the IPv4 sits is unknowable.
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")
_6TO4 = IPv6Network("2002::/16")
_TEREDO = IPv6Network("2001::/32")
_HOSTNAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")


class UnsafeURLError(ValueError):
    """A user-given URL that must not be requested; str() is a sentence saying why."""


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


def _default_port(parts: SplitResult) -> int:
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


def check_url(
    url: str,
    allowlist: Allowlist | None = None,
    *,
    field: str = "callbackUrl",
    resolver: Resolver | None = None,
) -> CheckedTarget:
    """Validate scheme/length/host, resolve, and refuse unless every address is public or allowlisted."""
    return _check(url, allowlist, field, resolver, trusted=False)


def _check(
    url: str, allowlist: Allowlist | None, field: str, resolver: Resolver | None, *, trusted: bool
) -> CheckedTarget:
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
    resolve: Resolver = resolver or socket.getaddrinfo
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
                raise UnsafeURLError(
                    f'{field} host "{host}" resolves to {article} {kind} address ({address})'
                )
    return CheckedTarget(url=url, scheme=scheme, host=host, port=port, addresses=addresses)
