"""Crawl URLs: one spelling per page (normalize), the shape shared by pages of one template (pattern), and
the Frontier, the queue that keeps calendars and faceted searches from eating a crawl's budget.

The Frontier's caps, chosen so a 30-page crawl (the default) sees a site's templates rather than one
template's many instances; each refused URL is kept with its reason:

* ``max_depth`` (default 3) links from a seed, ``max_pages`` (default 30) pages visited — ``depth``,
  ``max_pages``;
* ``per_pattern`` (5): URLs queued per `pattern()` — ``/items/1`` … ``/items/200`` cost at most 5, and a
  calendar's ``?month=`` chain or ``/calendar/2026/12`` chain stops after 5 — ``trap``;
* ``per_param_values`` (10): distinct values per query parameter per path (``/search?color=``) — ``facet``;
* ``per_prefix`` (50): URLs queued per first path segment (a *section*: ``/blog/...``), for slugs that share no
  pattern. Past it a section's URLs are not refused but deferred: they wait until every other URL found has
  been visited, then take what ``max_pages`` leaves (a flat site of 70 apps under ``/examples/`` and a
  ``max_pages`` of 80 visits them all). Those the budget never reaches are skipped as ``section_cap``;
* another origin or scheme — ``offsite``; robots.txt — ``robots``; longer than limits.MAX_URL (a cut URL
  would be another page) — ``too_long``;
* a spelling of a URL already seen (a fragment, a tracking parameter, another query order) — ``duplicate``.
  A link to a URL seen under the same spelling is not recorded again: every page links home.
* the structure rule (`crawler` tells it): once 2 visited pages of one pattern have the same structure
  signature, the pattern's other queued URLs are skipped as ``duplicate_structure``.

The skip list keeps limits.MAX_SKIPPED entries of limits.MAX_SKIPPED_BYTES in all, each URL cut to
limits.MAX_URL; the refusals past that are counted (``unlisted``).

Levels are strict: a URL of depth d+1 is handed out only when every page of depth d is done, and a URL
whose pattern has pages in flight waits while the structure rule may still decide it — so with any
concurrency the same pages are visited (the order within a level may differ). Deferred URLs join the levels
only when every level is empty and no page is in flight, so they too are the same at any concurrency.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from . import limits

TRACKING_PARAMS = frozenset(
    {"gclid", "fbclid", "msclkid", "dclid", "mc_cid", "mc_eid", "_ga", "yclid", "igshid", "ref_src"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NUMBER = re.compile(r"^\d+(?:[-_.]\d+)*$")  # 17, 2026-11, 1.5
_ID = re.compile(
    r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?=[a-f]*\d)[0-9a-f]{12,})$", re.I
)
# Pages of one pattern visited with one signature before the pattern's other URLs are skipped.
SAME_STRUCTURE_VISITS = 2
PER_PATTERN, PER_PREFIX, PER_PARAM_VALUES = 5, 50, 10  # the Frontier's caps (see above)


def _tracking(key: str) -> bool:
    return key.lower().startswith("utm_") or key.lower() in TRACKING_PARAMS


def normalize(url: str, base: str) -> str | None:
    """Return the one spelling of `url` (resolved against `base`), or None unless it is http(s) and of
    base's origin."""
    try:
        parts = urlsplit(urljoin(base, url.strip()))
        home = urlsplit(base)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
        home_port = home.port or _DEFAULT_PORTS.get(home.scheme.lower())
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if (scheme, host, port) != (home.scheme.lower(), (home.hostname or "").lower(), home_port):
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _tracking(k)]
    query.sort(key=lambda pair: pair[0])  # stable: equal keys keep their order
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


def origin_of(url: str) -> str:
    """Return scheme://host[:port] of a normalised URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def path_of(url: str) -> str:
    """Return the path and query of a URL."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def pattern(url: str) -> str:
    """Return the URL's shape: numbers and ids of its path as {n} and {id}, its query keys without values."""
    parts = urlsplit(url)
    segments = []
    for segment in (parts.path or "/").split("/"):
        if _NUMBER.match(segment):
            segment = "{n}"
        elif _ID.match(segment):
            segment = "{id}"
        segments.append(segment)
    keys = sorted(dict.fromkeys(k for k, _ in parse_qsl(parts.query, keep_blank_values=True)))
    return "/".join(segments) + ("?" + "&".join(keys) if keys else "")


def section_of(url: str) -> str:
    """Return the URL's first path segment (its section: /blog for /blog/2026/hello)."""
    return "/" + urlsplit(url).path.lstrip("/").split("/", 1)[0]


@dataclass
class QueuedURL:
    url: str
    depth: int
    source: str  # "start" | "crawlPages" | "sitemap" | "link"
    parent: str | None
    pattern: str
    deferred: bool = False  # past its section's cap (per_prefix): visited after the rest of the site


class Frontier:
    """Breadth-first queue of same-origin URLs, with caps against traps; no I/O."""

    def __init__(
        self,
        base: str,
        *,
        max_pages: int = 30,
        max_depth: int = 3,
        per_pattern: int = PER_PATTERN,
        per_prefix: int = PER_PREFIX,
        per_param_values: int = PER_PARAM_VALUES,
        allowed: Callable[[str], bool] | None = None,
        max_skipped: int = limits.MAX_SKIPPED,
    ) -> None:
        self.base = base
        self.max_pages = max_pages
        self.max_depth = max_depth
        self.per_pattern = per_pattern
        self.per_prefix = per_prefix
        self.per_param_values = per_param_values
        self.allowed = allowed  # robots.txt's say, set once it is read
        self.max_skipped = max_skipped
        self.skipped: list[dict] = []
        self.unlisted = (
            0  # refusals past max_skipped entries or limits.MAX_SKIPPED_BYTES: counted, not listed
        )
        self._skipped_bytes = 2
        self._skipped_urls: set[str] = set()
        self._refused = 0  # skipped URLs never accepted
        self._seen: set[str] = set()  # accepted URLs, queued or handed out
        self._levels: dict[int, deque[QueuedURL]] = defaultdict(deque)
        self._deferred: deque[QueuedURL] = deque()  # past per_prefix: visited once everything else is
        self._patterns: Counter[str] = Counter()
        self._prefixes: Counter[str] = Counter()
        self._values: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._in_flight: Counter[int] = Counter()  # depth -> pages handed out and not done
        self._flight_patterns: Counter[str] = Counter()
        self._signatures: dict[str, list[str]] = defaultdict(list)  # pattern -> signatures of visited pages
        self.handed_out = 0
        self.visited = 0

    # -- offering ----------------------------------------------------------------------------------

    def offer(self, url: str, depth: int, source: str = "link", parent: str | None = None) -> str | None:
        """Queue a URL (absolute or relative to the base); return why it was refused, or None."""
        if len(url) > limits.MAX_URL:
            return self._skip(url, "too_long")
        normal = normalize(url, parent or self.base)
        if normal is not None and len(normal) > limits.MAX_URL:  # the query's encoding can lengthen it
            return self._skip(normal, "too_long")
        if normal is None:
            return self._skip(url, "offsite")
        if normal in self._seen:
            # Another spelling of a URL seen: recorded once; the same spelling again is not news.
            spelled = _spelling(url, parent or self.base)
            return self._skip(spelled, "duplicate") if spelled != normal else "duplicate"
        if self.allowed is not None and not self.allowed(normal):
            return self._skip(normal, "robots")
        if depth > self.max_depth:
            return self._skip(normal, "depth")
        if self.handed_out >= self.max_pages:
            return self._skip(normal, "max_pages")
        shape = pattern(normal)
        reason = self._trap(normal, shape)
        if reason:
            return self._skip(normal, reason)
        self._seen.add(normal)
        self._patterns[shape] += 1
        prefix = section_of(normal)
        crowded = self._prefixes[prefix] >= self.per_prefix
        self._prefixes[prefix] += 1
        path = urlsplit(normal).path
        for key, value in parse_qsl(urlsplit(normal).query, keep_blank_values=True):
            self._values[(path, key)].add(value)
        item = QueuedURL(normal, depth, source, parent, shape, deferred=crowded)
        (self._deferred if crowded else self._levels[depth]).append(item)
        return None

    def _trap(self, url: str, shape: str) -> str | None:
        if self._patterns[shape] >= self.per_pattern:
            return "trap"
        parts = urlsplit(url)
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            values = self._values[(parts.path, key)]
            if value not in values and len(values) >= self.per_param_values:
                return "facet"
        return None

    def skip(self, url: str, reason: str) -> None:
        """Record a URL handed out but not kept (the crawl's pages are full)."""
        self._skip(url, reason)

    def _skip(self, url: str, reason: str) -> str:
        url = url[: limits.MAX_URL]
        if url in self._skipped_urls:
            return reason
        entry = {"url": url, "reason": reason}
        size = limits.entry_size(entry)
        if len(self.skipped) >= self.max_skipped or self._skipped_bytes + size > limits.MAX_SKIPPED_BYTES:
            self.unlisted += 1
            return reason
        self._skipped_urls.add(url)
        self._skipped_bytes += size
        self._refused += url not in self._seen
        self.skipped.append(entry)
        return reason

    # -- handing out -------------------------------------------------------------------------------

    def next(self) -> QueuedURL | None:
        """Hand out the next URL to visit, or None when nothing may start now (see `pending`)."""
        while self.handed_out < self.max_pages:
            level = min((d for d, queue in self._levels.items() if queue), default=None)
            if level is None and self._deferred and not any(self._in_flight.values()):
                self._release_deferred()
                continue
            if level is None or any(self._in_flight[d] for d in range(level)):
                return None
            queue = self._levels[level]
            for index, item in enumerate(queue):
                verdict = self._structure_verdict(item.pattern)
                if verdict == "wait":
                    continue
                del queue[index]
                if verdict == "skip":
                    self._skip(item.url, "duplicate_structure")
                    break  # look again from the start
                self.handed_out += 1
                self._in_flight[item.depth] += 1
                self._flight_patterns[item.pattern] += 1
                return item
            else:
                return None
        return None

    def _release_deferred(self) -> None:
        """Queue the deferred URLs at their depths: the rest of the site is done and the budget has room."""
        while self._deferred:
            item = self._deferred.popleft()
            self._levels[item.depth].append(item)

    def _structure_verdict(self, shape: str) -> str:
        seen = self._signatures[shape]
        if _repeated(seen):
            return "skip"
        if len(seen) + self._flight_patterns[shape] >= SAME_STRUCTURE_VISITS and self._flight_patterns[shape]:
            return "wait"  # the pages in flight may settle it
        return "go"

    def done(self, item: QueuedURL, signature: str | None, final_url: str | None = None) -> None:
        """Record a visited page (signature None: the page could not be read; final_url: where a redirect
        led, not to be visited again)."""
        if final_url:
            self._seen.add(final_url)
        self._in_flight[item.depth] -= 1
        self._flight_patterns[item.pattern] -= 1
        self.visited += 1
        if signature is not None:
            self._signatures[item.pattern].append(signature)

    @property
    def queued(self) -> int:
        return sum(len(queue) for queue in self._levels.values()) + len(self._deferred)

    @property
    def found(self) -> int:
        """URLs known: accepted (queued, visiting or visited) and refused."""
        return len(self._seen) + self._refused

    def drain(self, reason: str) -> None:
        """Record every URL still queued as skipped for `reason` (the crawl ended); a deferred one that the
        page budget never reached as ``section_cap``."""
        left = [item for depth in sorted(self._levels) for item in self._levels[depth]] + list(self._deferred)
        self._levels.clear()
        self._deferred.clear()
        for item in left:
            self._skip(item.url, "section_cap" if item.deferred and reason == "max_pages" else reason)


def _repeated(signatures: list[str]) -> bool:
    return any(count >= SAME_STRUCTURE_VISITS for count in Counter(signatures).values())


def _spelling(url: str, base: str) -> str:
    """The URL resolved as written (fragment and all), to tell another spelling from the same one."""
    try:
        return urljoin(base, url.strip())
    except ValueError:
        return url
