"""Playwright browser servers (SENTRI_BROWSER_SERVERS): where workers connect instead of launching.

`SENTRI_BROWSER_SERVERS=ws://browsers-1:3000#4,ws://browsers-2:3000#4`: each endpoint runs `playwright
run-server` (of the same Playwright version as Sentri) and takes up to its capacity (after `#`, default 1)
of tests at once, counted over every Sentri process serving the database: its slots are rows there,
leased like tests (worker/slots.py). The engine has as many workers as the capacities add up to; a worker
takes a slot with the test it claims, on the endpoint this pool prefers (up before unknown, then the most
free slots), connects there if it has no connection yet, and gives the slot back once the test's
contexts are closed.

Every process checks every endpoint each SENTRI_BROWSER_PROBE_SECONDS, busy or idle (worker/probe.py), and a
test's connect is a check too: an endpoint that refuses or cannot be reached is marked down (logged once,
shown by status() on /health and /metrics, with when it was last checked) and skipped until a check finds
it answering again, so a restarted server is used again without a restart here. When every endpoint is
down they are tried all the same, and when none answers the run fails at once with a sentence naming them.
A server of another Playwright version refuses the connection (HTTP 428): said with both versions.

Everything the browser guard enforces (schemes, blocked networks, where secrets may be typed) is enforced
here, on Sentri's side of the connection: the guard routes every request of a context, wherever the
browser runs. The browser server resolves host names itself, though: which hosts it can reach is the
deployment's concern (docs/scaling.md).

An endpoint's URL may carry credentials (`ws://user:password@host/path?token=...`): it is used to connect and
never shown. Everywhere an endpoint is shown (/health, /metrics labels, run and test errors, the PR comment,
log lines) it is its `name`, `host:port` (shown()), and any text quoting its URL goes through scrub() first.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import has_app_context
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..runtime import runtime
from ..timestamps import isoformat, utcnow
from . import slots
from .browsers import chromium_args

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_MS = 10_000
PLAYWRIGHT_VERSION = version("playwright")
_MISMATCH = re.compile(r"server version: v?([0-9][0-9.]*).*?client version: v?([0-9][0-9.]*)", re.S)
_URL = re.compile(r"\b(?:wss?|https?)://[^\s'\"<>]+", re.I)  # a URL as Playwright quotes it in an error
_DEFAULT_PORTS = {"ws": 80, "http": 80, "wss": 443, "https": 443}
MASK = "***"
RANK = {"up": 0, "unknown": 1, "down": 2}  # which endpoints a slot is taken on first


def shown(url: str) -> str:
    """Return how a browser server is shown: host:port, never the URL's credentials, path, query or fragment."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:  # not a number: nothing after the host is shown
        port = None
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


def _secrets(url: str) -> list[str]:
    """List the parts of an endpoint's URL that are never shown, as written and decoded, longest first."""
    parts = urlsplit(url)
    pieces = [
        parts.username,
        parts.password,
        parts.path.strip("/"),
        parts.query,
        parts.fragment,
        *(value for _key, _eq, value in (pair.partition("=") for pair in parts.query.split("&"))),
    ]
    found = {text for piece in pieces if piece for text in (piece, unquote(piece)) if len(text) >= 3}
    return sorted(found, key=len, reverse=True)


class NoBrowserServer(RuntimeError):
    """No configured browser server took the test; str() names each endpoint and why."""


@dataclass
class Endpoint:
    url: str  # as configured, credentials included: for connect() only, never shown
    capacity: int
    state: str = "unknown"  # unknown (not tried yet) | up | down
    error: str | None = None  # why it is down, scrubbed
    checked_at: datetime | None = None  # when a check (or a test's connect) last said which
    name: str = ""  # how it is shown: shown(url), numbered by ServerPool when two share a host:port
    key: str = ""  # slots.key(): what its slots are stored under, set by ServerPool

    def __post_init__(self) -> None:
        self.name = self.name or shown(self.url)

    def scrub(self, text: str) -> str:
        """Return `text` with this endpoint's URL as its name and its user, password, path and query masked."""
        ours = shown(self.url)
        text = _URL.sub(lambda found: self.name if shown(found.group()) == ours else found.group(), text)
        for secret in _secrets(self.url):
            if secret not in self.name:  # what the name shows anyway must not mangle the name
                text = text.replace(secret, MASK)
        return text

    def row(self, busy: int | None) -> dict[str, Any]:
        return {
            "endpoint": self.name,
            "state": self.state,
            "capacity": self.capacity,
            "busy": busy,
            "error": self.error,
            "checkedAt": isoformat(self.checked_at),
        }


def parse_servers(value: str | None) -> list[Endpoint]:
    """Parse SENTRI_BROWSER_SERVERS; ValueError says which entry is wrong and why."""
    endpoints: list[Endpoint] = []
    entries = [part.strip() for part in (value or "").split(",")]
    for number, entry in enumerate((entry for entry in entries if entry), start=1):
        url, _, capacity = entry.partition("#")
        parts = urlsplit(url)
        # The entry itself is never quoted: it may hold a password. Its number and host:port say which.
        which = f"entry {number} ({shown(url)})"
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"{which} is not a ws:// or wss:// URL of a Playwright browser server")
        if capacity and not (capacity.isdigit() and 1 <= int(capacity) <= 256):
            raise ValueError(f"{which}: the capacity after # must be a whole number from 1 to 256")
        if any(known.url == url for known in endpoints):
            raise ValueError(f"{which} is listed twice")
        endpoints.append(Endpoint(url, int(capacity) if capacity else 1))
    return _named(endpoints)


def _named(endpoints: list[Endpoint]) -> list[Endpoint]:
    """Number the names two endpoints share, as /health rows and /metrics labels must differ."""
    # One host:port can be several servers, e.g. behind a gateway that tells them apart by path or token.
    counts: dict[str, int] = {}
    for endpoint in endpoints:
        base = shown(endpoint.url)
        counts[base] = counts.get(base, 0) + 1
        endpoint.name = base if counts[base] == 1 else f"{base} ({counts[base]})"
    return endpoints


def refusal(endpoint: Endpoint, error: Exception | str) -> str:
    """Say in one line why an endpoint refused or could not be reached, its URL scrubbed from the error."""
    text = endpoint.scrub(str(error))
    mismatch = _MISMATCH.search(text)
    if mismatch or "428 Precondition Required" in text:
        server = mismatch.group(1) if mismatch else "another version"
        return (
            f"{endpoint.name} runs Playwright {server}, this Sentri Playwright {PLAYWRIGHT_VERSION}: run the "
            f"browser server from the same version (mcr.microsoft.com/playwright:v{PLAYWRIGHT_VERSION}-noble)"
        )
    first = next((line.strip() for line in text.splitlines() if line.strip()), "no answer")
    return f"{endpoint.name}: {first.removeprefix('BrowserType.connect: ')[:200]}"


class ServerPool:
    """The configured endpoints and how they answer, shared by this process's workers (thread-safe); their
    slots are in the database (worker/slots.py), shared with every other process."""

    def __init__(
        self, endpoints: list[Endpoint], chromium_path: str | None = None, secret: str | bytes = ""
    ) -> None:
        self.endpoints = _named(endpoints)
        for endpoint in self.endpoints:
            endpoint.key = slots.key(secret, endpoint.url)
        self._by_key = {endpoint.key: endpoint for endpoint in self.endpoints}
        self.chromium_path = chromium_path
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return sum(endpoint.capacity for endpoint in self.endpoints)

    def slot_rows(self) -> list[tuple[str, int, str]]:
        """(key, capacity, name) of each endpoint, for slots.ensure()."""
        return [(e.key, e.capacity, e.name) for e in self.endpoints]

    def endpoint(self, key: str) -> Endpoint:
        return self._by_key[key]

    def candidates(self, skip: set[str] | frozenset = frozenset()) -> list[tuple[str, int, int]]:
        """(key, capacity, rank) of the endpoints a test may take a slot on (slots.take()): those not in `skip`
        that answer or are not known yet. When every endpoint left is down, all of them: a restarted server is
        better than a failed run, and a run whose servers are all gone fails at once, naming them."""
        with self._lock:
            left = [e for e in self.endpoints if e.url not in skip]
            ready = [e for e in left if e.state != "down"] or left
            return [(e.key, e.capacity, RANK[e.state]) for e in ready]

    def all_down(self, tried: set[str]) -> bool:
        """Whether no endpoint is left to wait for: each was just tried or is down."""
        with self._lock:
            return all(e.url in tried or e.state == "down" for e in self.endpoints)

    def answered(self, endpoint: Endpoint) -> None:
        """Mark an endpoint up: a check or a test's connect was taken."""
        with self._lock:
            was = endpoint.state
            endpoint.state, endpoint.error, endpoint.checked_at = "up", None, utcnow()
        if was == "down":
            log.warning("browser server %s answers again", endpoint.name)

    def refused(self, endpoint: Endpoint, error: Exception | str) -> str:
        """Mark an endpoint down until a check finds it answering; return (and log, once per outage) why."""
        why = refusal(endpoint, error)
        with self._lock:
            was = endpoint.state
            endpoint.state, endpoint.error, endpoint.checked_at = "down", why, utcnow()
        if was != "down":
            log.warning("browser server skipped: %s", why)
        return why

    def unavailable(self) -> NoBrowserServer:
        reasons = "; ".join(e.error or f"{e.name}: all {e.capacity} slots busy" for e in self.endpoints)
        return NoBrowserServer(f"No Playwright browser server took the test ({reasons}).")

    def scrub(self, text: str) -> str:
        """Return `text` with every endpoint's URL shown as its name and their secrets masked."""
        for endpoint in self.endpoints:
            text = endpoint.scrub(text)
        return text

    def connect_options(self) -> dict[str, Any]:
        """connect() keyword arguments. Launch options reach the browser only from a server started with
        --unsafe (e.g. one that runs a system Chromium); the official image's server uses its own."""
        launch: dict[str, Any] = {"headless": True, "args": [*chromium_args(), "--no-sandbox"]}
        if self.chromium_path:
            launch["executablePath"] = self.chromium_path
        return {"timeout": CONNECT_TIMEOUT_MS, "headers": {"x-playwright-launch-options": json.dumps(launch)}}

    def status(self, busy: dict[str, int] | None = None) -> list[dict[str, Any]]:
        """One row per endpoint, with `busy` slots (None: not known) as slots.busy() counted them."""
        with self._lock:
            return [
                endpoint.row(None if busy is None else busy.get(endpoint.key, 0))
                for endpoint in self.endpoints
            ]


def status() -> list[dict[str, Any]]:
    """One row per browser endpoint: {"endpoint", "state", "capacity", "busy", "error", "checkedAt"}, `busy`
    counted over every process (None when the database did not answer), the rest as this process's checks
    found it. With local browsers, one row "local" (capacity
    SENTRI_MAX_BROWSERS, busy = this process's workers running a test)."""
    if not has_app_context():
        return []
    engine = runtime().engine
    if engine.pool is not None:
        try:
            busy = slots.busy([endpoint.key for endpoint in engine.pool.endpoints])
        except SQLAlchemyError:  # the servers' state is still worth showing
            db.session.rollback()
            log.exception("the browser servers' busy slots could not be read")
            busy = None
        return engine.pool.status(busy)
    return [
        {
            "endpoint": "local",
            "state": "up",
            "capacity": engine.size,
            "busy": engine.busy(),
            "error": None,
            "checkedAt": None,
        }
    ]
