"""Where a test may point the browser, and which origins a project trusts.

A test names pages as http(s) URLs or as paths on the run's base URL; nothing else (``file:``,
``chrome:``, ``view-source:``, ``data:``, ``javascript:``...) is a web page. URLs are read the way a
browser reads them (WHATWG URL): leading and trailing C0 controls and spaces are ignored and tabs and
newlines anywhere are dropped, so ``" FILE:///etc/passwd"`` and ``"jav\\tascript:"`` are what they
look like to Chromium.

A project's *allowed origins* widen where a trigger's ``baseUrl`` may point and where secrets may be
typed, beyond the base URLs of the project and its environments: exact origins
(``https://staging.example.com``, ``http://10.0.0.5:8080``) or host globs whose ``*`` stands for one
DNS label or part of one (``https://pr-*.preview.example.com``, ``https://*.staging.example.com``)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urlsplit

WEB_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_ALLOWED_ORIGINS = 50
# Cloud metadata services answer on link-local addresses (169.254.169.254, fe80::/10) and, on AWS,
# on fd00:ec2::254; a page under test must never reach them. Private networks stay reachable:
# staging apps live there. SENTRI_BROWSER_BLOCKED_NETWORKS replaces this list.
DEFAULT_BLOCKED_NETWORKS = "169.254.0.0/16,fe80::/10,fd00:ec2::254/128"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_NAT64 = IPv6Network("64:ff9b::/96")
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$")
_GLOB_LABEL = re.compile(r"^[a-z0-9_*-]+$")


def browser_form(url: str) -> str:
    """Return the URL as a browser's parser sees it: trimmed of C0 controls/spaces, tabs and newlines dropped."""
    return url.strip(_C0_OR_SPACE).replace("\t", "").replace("\n", "").replace("\r", "")


def scheme_of(url: str) -> str | None:
    """Return the lower-case scheme a browser would read in `url`, or None for a relative URL."""
    match = _SCHEME.match(browser_form(url))
    return match.group(1).lower() if match else None


def step_url_problem(url: str) -> str | None:
    """Say why a step's URL is not a web page URL or a path on the base URL, or return None."""
    scheme = scheme_of(url)
    if scheme is None:
        if browser_form(url).replace("\\", "/").startswith("//"):
            return "must be an http(s) URL or a path on the base URL (a path cannot start with //)"
        return None
    if scheme not in WEB_SCHEMES:
        hint = ""
        if re.match(r"^[A-Za-z0-9.-]+:[0-9]+(?:[/?#]|$)", browser_form(url)):
            hint = f"; for a host and port write http://{browser_form(url)}"
        return f'must be an http(s) URL or a path on the base URL (got a "{scheme}:" URL{hint})'
    try:
        host = urlsplit(browser_form(url)).hostname
    except ValueError:
        return "is not a valid URL"
    if not host:
        return "must be an http(s) URL with a host, or a path on the base URL"
    return None


# -- origins --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """A web origin: scheme, lower-case host (IPv6 without brackets), port."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = DEFAULT_PORTS.get(self.scheme)
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")


def origin_of(url: str) -> Origin | None:
    """Return the origin of an http(s) URL, or None when it has none (another scheme, no host)."""
    try:
        parts = urlsplit(browser_form(url))
        scheme = parts.scheme.lower()
        if scheme not in WEB_SCHEMES or not parts.hostname:
            return None
        port = parts.port if parts.port is not None else DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    return Origin(scheme, parts.hostname.rstrip(".").lower(), port)


@dataclass(frozen=True)
class OriginPattern:
    """One entry of a project's allowedOrigins: an exact origin or a host glob."""

    scheme: str
    host: str  # may hold "*" in labels other than the last two
    port: int
    text: str

    def matches(self, origin: Origin | None) -> bool:
        """Tell whether an origin is this one, or fits its glob."""
        if origin is None or origin.scheme != self.scheme or origin.port != self.port:
            return False
        if "*" not in self.host:
            return origin.host == self.host
        want, got = self.host.split("."), origin.host.split(".")
        if len(want) != len(got):
            return False
        for pattern, label in zip(want, got, strict=True):
            regex = "^" + "[a-z0-9_-]+".join(re.escape(part) for part in pattern.split("*")) + "$"
            if not re.match(regex, label):
                return False
        return True


def parse_pattern(text: str) -> OriginPattern:
    """Parse one allowed origin, or raise ValueError saying what is wrong with it."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("must be a non-empty string like https://staging.example.com")
    raw = text.strip()
    match = re.fullmatch(r"(?i)(https?)://([^/?#@\s]+?)(?::(\d{1,5}))?/?", raw)
    if not match:
        raise ValueError(
            f'"{raw}" is not an origin like https://staging.example.com (scheme and host, no path)'
        )
    scheme, host, port_text = match.group(1).lower(), match.group(2).lower().rstrip("."), match.group(3)
    port = int(port_text) if port_text else DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        raise ValueError(f'"{raw}" has an invalid port')
    literal = ip_literal(host)
    if literal is not None:
        host = str(literal)
    else:
        labels = host.split(".")
        if not all(_GLOB_LABEL.match(label) and _LABEL.match(label.replace("*", "a")) for label in labels):
            raise ValueError(f'"{raw}" does not have a valid host name')
        if "*" in ".".join(labels[-2:]):
            raise ValueError(
                f'"{raw}": a * may only stand in a sub-domain label, as in https://pr-*.example.com'
            )
    return OriginPattern(scheme, host, port, str(Origin(scheme, host, port)))


def parse_patterns(values: object, field: str = "allowedOrigins") -> list[str]:
    """Validate a list of allowed origins; return their normalised texts (raise ValueError naming the field)."""
    if values is None:
        return []
    if not isinstance(values, list):
        raise ValueError(f"{field}: must be a list of origins like https://staging.example.com")
    if len(values) > MAX_ALLOWED_ORIGINS:
        raise ValueError(f"{field}: at most {MAX_ALLOWED_ORIGINS} origins")
    cleaned = []
    for value in values:
        try:
            cleaned.append(parse_pattern(value).text)
        except ValueError as exc:
            raise ValueError(f"{field}: {exc}") from None
    return list(dict.fromkeys(cleaned))


class TrustedOrigins:
    """The origins a run trusts: exact ones (base URLs) and the project's allowedOrigins patterns."""

    def __init__(self, exact: list[str | None], patterns: list[str] | None) -> None:
        self.exact = {origin for origin in (origin_of(u) if u else None for u in exact) if origin}
        self.patterns = [parse_pattern(p) for p in patterns or []]

    def allows(self, url_or_origin: str | Origin | None) -> bool:
        """Tell whether a URL's origin is one of these."""
        origin = origin_of(url_or_origin) if isinstance(url_or_origin, str) else url_or_origin
        if origin is None:
            return False
        return origin in self.exact or any(p.matches(origin) for p in self.patterns)

    def describe(self) -> str:
        names = sorted(str(o) for o in self.exact) + [p.text for p in self.patterns]
        return ", ".join(names) or "none"


# -- blocked networks -----------------------------------------------------------------------------


def parse_networks(text: str | None) -> tuple[IPv4Network | IPv6Network, ...]:
    """Parse SENTRI_BROWSER_BLOCKED_NETWORKS (comma-separated CIDRs or IPs; "none" for none)."""
    if text is None:
        text = DEFAULT_BLOCKED_NETWORKS
    if text.strip().lower() == "none":
        return ()
    networks, bad = [], []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            bad.append(entry)
    if bad:
        raise ValueError(
            f"SENTRI_BROWSER_BLOCKED_NETWORKS has entries that are not networks: {', '.join(bad)}"
        )
    return tuple(networks)


def blocked_network(
    address: str | IPv4Address | IPv6Address, networks: Iterable[IPv4Network | IPv6Network]
) -> IPv4Network | IPv6Network | None:
    """Return the blocked network an address falls in (IPv4-mapped and NAT64 forms unwrapped), or None."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return None
    candidates = [ip]
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped:
            candidates.append(ip.ipv4_mapped)
        elif ip in _NAT64:
            candidates.append(IPv4Address(int(ip) & 0xFFFFFFFF))
    for candidate in candidates:
        for network in networks:
            if candidate.version == network.version and candidate in network:
                return network
    return None


def ip_literal(host: str) -> IPv4Address | IPv6Address | None:
    """Return the address a URL host names literally, or None for a host name."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        return None
