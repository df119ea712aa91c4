"""Small HTTP servers on 127.0.0.1:0, each in a daemon thread.

`FixtureSite` is the website the tests run against:

* ``/page/<name>`` (name: letters, digits, ``_.-``): a button "Go <name>"; clicking it writes "Done <name>" into ``#out`` (inline script).
* ``/done/<name>``: a page that says "Done <name>" (for link-based tests).
* ``/slow?ms=N``: sleeps N ms (at most 30 s) before answering.
* ``/fail``: a page with a button "Go fail" whose click writes "Nope": the expected text never shows.
* ``/paced``: answers after ``pace_ms`` ± up to ``pace_jitter_ms`` (uniform; a normal spread with that
  standard deviation when ``gaussian``), all settable while the site runs: its TTFB and LCP move with them
  (the regression gate's fixture).
* ``/hero``: answers like ``/paced``, then paints its hero (a large block, the page's LCP element)
  ``paint_ms`` ± ``paint_jitter_ms`` after the load event, as a JS timer or a late fetch would.

Every request is logged with its arrival time on both clocks (``time.monotonic()`` and ``time.time()``),
taken before anything else is done, so a benchmark can see when the first request of a run arrived.

`CallbackSink` records every POST (JSON body, headers, path, arrival time) and lets a test wait,
bounded, for some of them. `TricklingReceiver` takes a callback and never finishes answering it.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

MAX_SLOW_MS = 30_000
# Page names go into HTML and an inline script unescaped, so only these characters are served.
NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Page {name}</title></head>
<body>
<h1>Page {name}</h1>
<button type="button" id="go" onclick="document.getElementById('out').textContent = 'Done {name}'">Go {name}</button>
<p id="out"></p>
<p><a href="/done/{name}">Open done {name}</a></p>
</body></html>
"""

DONE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Done {name}</title></head>
<body><h1>Done {name}</h1><p id="out">Done {name}</p></body></html>
"""

FAIL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fail</title></head>
<body>
<h1>Nothing to see</h1>
<button type="button" id="go" onclick="document.getElementById('out').textContent = 'Nope'">Go fail</button>
<p id="out"></p>
</body></html>
"""

PACED = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Paced</title></head>
<body><h1>Paced</h1><p id="out">A page whose answer takes as long as the site is told.</p></body></html>
"""

HERO = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hero</title></head>
<body><h1>Hero</h1>
<div id="hero" hidden style="width:700px;height:500px;background:#36c;color:#fff">The hero, painted {paint} ms
after the load event.</div>
<script>addEventListener("load", () => setTimeout(() => {{
  document.getElementById("hero").hidden = false; }}, {paint}));</script>
</body></html>
"""

SLOW = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Slow</title></head>
<body><h1>Slow</h1><p id="out">Slept {ms} ms</p></body></html>
"""


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # with the query string
    monotonic: float  # time.monotonic() on arrival
    wall: float  # time.time() on arrival
    user_agent: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's 5 drops bursts of parallel connections into 1 s SYN retries


class _BaseThreadServer:
    """Start a handler class on 127.0.0.1:0 (or another loopback address) in a daemon thread; a context manager."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:  # pragma: no cover - abstract
        raise NotImplementedError

    def start(self):
        self._server = _Server((self.host, 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class FixtureSite(_BaseThreadServer):
    """The website Sentri's browsers visit; see the module docstring for its pages."""

    def __init__(self) -> None:
        super().__init__()
        self._log: list[LoggedRequest] = []
        self._cond = threading.Condition()
        self.pace_ms = 100.0
        self.pace_jitter_ms = 0.0
        self.paint_ms = 800.0
        self.paint_jitter_ms = 0.0
        self.gaussian = False

    def spread(self, ms: float, jitter: float) -> float:
        """`ms` give or take `jitter` (uniform, or the standard deviation of a normal spread), never below 0."""
        return max(0.0, random.gauss(ms, jitter) if self.gaussian else ms + random.uniform(-jitter, jitter))

    # -- the request log -------------------------------------------------------------------------

    def _record(self, entry: LoggedRequest) -> None:
        with self._cond:
            self._log.append(entry)
            self._cond.notify_all()

    @property
    def log(self) -> list[LoggedRequest]:
        """A copy of every request so far, in arrival order."""
        with self._cond:
            return list(self._log)

    def requests_since(self, monotonic: float, path_prefix: str | None = None) -> list[LoggedRequest]:
        """Requests that arrived at or after `monotonic` (optionally only paths starting with a prefix)."""
        return [
            r
            for r in self.log
            if r.monotonic >= monotonic and (path_prefix is None or r.path.startswith(path_prefix))
        ]

    def first_request_since(self, monotonic: float, path_prefix: str | None = None) -> LoggedRequest | None:
        found = self.requests_since(monotonic, path_prefix)
        return found[0] if found else None

    def wait_for_request(
        self, path_prefix: str, *, since: float = 0.0, timeout: float = 30.0
    ) -> LoggedRequest:
        """Wait (at most `timeout` s) for a request whose path starts with `path_prefix`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for r in self._log:
                    if r.monotonic >= since and r.path.startswith(path_prefix):
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    paths = [r.path for r in self._log[-20:]]
                    raise TimeoutError(f"no request for {path_prefix} within {timeout}s; last paths: {paths}")
                self._cond.wait(timeout=min(left, 0.5))

    # -- the pages ---------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def _send(self, code: int, body: str, content_type: str = "text/html; charset=utf-8") -> None:
                data = body.encode("utf-8")
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def do_GET(self):
                site._record(
                    LoggedRequest(
                        self.command,
                        self.path,
                        time.monotonic(),
                        time.time(),
                        self.headers.get("User-Agent", ""),
                    )
                )
                parts = urlsplit(self.path)
                path = parts.path
                name = unquote(path.split("/", 2)[2]) if path.count("/") == 2 else ""
                if path.startswith("/page/") and NAME.fullmatch(name):
                    self._send(200, PAGE.format(name=name))
                elif path.startswith("/done/") and NAME.fullmatch(name):
                    self._send(200, DONE.format(name=name))
                elif path == "/slow":
                    try:
                        ms = int(parse_qs(parts.query).get("ms", ["0"])[0])
                    except ValueError:
                        ms = 0
                    ms = max(0, min(ms, MAX_SLOW_MS))
                    time.sleep(ms / 1000)
                    self._send(200, SLOW.format(ms=ms))
                elif path in ("/paced", "/hero"):
                    time.sleep(site.spread(site.pace_ms, site.pace_jitter_ms) / 1000)
                    paint = round(site.spread(site.paint_ms, site.paint_jitter_ms))
                    self._send(200, PACED if path == "/paced" else HERO.format(paint=paint))
                elif path == "/fail":
                    self._send(200, FAIL)
                elif path == "/":
                    self._send(200, "<!doctype html><title>Fixture site</title><h1>Fixture site</h1>")
                else:
                    self._send(404, "<!doctype html><title>Not found</title><h1>Not found</h1>")

            do_HEAD = do_GET

        return Handler


@dataclass
class Callback:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: object  # the parsed JSON, or None when it was not JSON
    monotonic: float
    wall: float = field(default=0.0)


class CallbackSink(_BaseThreadServer):
    """Record POSTed callbacks; `wait_for(n)` / `wait_for_run(run_id)` wait for them, bounded."""

    def __init__(self) -> None:
        super().__init__()
        self._received: list[Callback] = []
        self._cond = threading.Condition()

    def hook_url(self, name: str = "hook") -> str:
        return f"{self.url}/{name.lstrip('/')}"

    @property
    def received(self) -> list[Callback]:
        with self._cond:
            return list(self._received)

    @staticmethod
    def _matches(c: Callback, run_id: str, path: str | None) -> bool:
        return isinstance(c.body, dict) and c.body.get("runId") == run_id and (path is None or c.path == path)

    def for_run(self, run_id: str, path: str | None = None) -> list[Callback]:
        """Callbacks for this runId (and, when given, this path: run ids repeat across servers)."""
        return [c for c in self.received if self._matches(c, run_id, path)]

    def wait_for(self, n: int, *, timeout: float = 30.0, predicate=None) -> list[Callback]:
        """Wait (at most `timeout` s) until `n` callbacks (matching `predicate`, if given) have arrived."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                matching = [c for c in self._received if predicate is None or predicate(c)]
                if len(matching) >= n:
                    return matching
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(matching)} of {n} callback(s) within {timeout}s; all received: "
                        f"{[c.body for c in self._received]}"
                    )
                self._cond.wait(timeout=min(left, 0.5))

    def wait_for_run(self, run_id: str, *, path: str | None = None, timeout: float = 30.0) -> Callback:
        """Wait for the (first) callback whose body has this runId (posted to `path`, when given)."""
        return self.wait_for(1, timeout=timeout, predicate=lambda c: self._matches(c, run_id, path))[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def do_POST(self):
                arrived, wall = time.monotonic(), time.time()
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(min(length, 1_000_000)) if length else b""
                try:
                    body = json.loads(raw.decode("utf-8")) if raw else None
                except (UnicodeDecodeError, json.JSONDecodeError):
                    body = None
                entry = Callback(self.path, dict(self.headers.items()), raw, body, arrived, wall)
                with sink._cond:
                    sink._received.append(entry)
                    sink._cond.notify_all()
                data = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@dataclass(frozen=True)
class Hit:
    method: str
    path: str  # with the query string
    body: bytes
    headers: dict[str, str]


class StaticSite(_BaseThreadServer):
    """Serve fixed HTML pages ({path: html}) and redirects ({path: (status, Location)}) on a loopback address
    and record every request it gets, query strings and form bodies included (tests look for what must never
    arrive here)."""

    def __init__(
        self,
        pages: dict[str, str],
        host: str = "127.0.0.1",
        redirects: dict[str, tuple[int, str]] | None = None,
        delays: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.pages = pages
        self.redirects = redirects or {}  # {path: (status, Location)}
        self.delays = delays or {}  # {path: seconds before it answers}: data that arrives late
        self.host = host
        self._hits: list[Hit] = []
        self._lock = threading.Lock()

    @property
    def hits(self) -> list[Hit]:
        with self._lock:
            return list(self._hits)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 1_000_000)) if length else b""
                with site._lock:
                    site._hits.append(Hit(self.command, self.path, body, dict(self.headers.items())))
                redirect = site.redirects.get(urlsplit(self.path).path)
                if redirect is not None:
                    self.send_response(redirect[0])
                    self.send_header("Location", redirect[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                time.sleep(site.delays.get(urlsplit(self.path).path, 0))
                page = site.pages.get(urlsplit(self.path).path)
                data = (page if page is not None else "<!doctype html><title>Not found</title>").encode()
                self.send_response(200 if page is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        return Handler


class TricklingReceiver(_BaseThreadServer):
    """A callback receiver that never finishes its answer, to test that Sentri gives up on it.

    `mode="head"`: the status line and headers come one byte every `interval` s, forever.
    `mode="slow-body"`: a complete head, then a body without a length one byte every `interval` s.
    `mode="endless-body"`: a complete head, then a body without a length as fast as the client reads it
    (at most `cap` bytes, so that a client that reads it all still ends).
    It records what it got (`requests`: the parsed JSON bodies) and how many connections the client hung up
    on it while it was still answering (`hangups`); `wait_for(...)` waits, bounded, for either.
    """

    def __init__(self, mode: str = "head", *, interval: float = 0.5, cap: int = 64 * 1024 * 1024) -> None:
        super().__init__()
        assert mode in ("head", "slow-body", "endless-body"), mode
        self.mode, self.interval, self.cap = mode, interval, cap
        self.requests: list[object] = []
        self.hangups = 0
        self._cond = threading.Condition()
        self._stopping = threading.Event()

    def hook_url(self, name: str = "hook") -> str:
        return f"{self.url}/{name.lstrip('/')}"

    def wait_for(self, *, requests: int = 0, hangups: int = 0, timeout: float = 30.0) -> bool:
        """Wait (at most `timeout` s) until at least this many requests arrived and hang-ups happened."""
        with self._cond:
            return self._cond.wait_for(
                lambda: len(self.requests) >= requests and self.hangups >= hangups, timeout=timeout
            )

    def stop(self) -> None:
        self._stopping.set()
        super().stop()

    def _answer(self):
        """Yield the bytes to send, in the pieces to send them in, with the pause before each."""
        if self.mode == "head":
            yield from ((bytes([b]), self.interval) for b in b"HTTP/1.1 200 OK\r\n")
            n = 0
            while True:
                n += 1
                yield from ((bytes([b]), self.interval) for b in f"X-Wait-{n}: 1\r\n".encode())
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
        yield head, 0.0
        if self.mode == "slow-body":
            while True:
                yield b"x", self.interval
        chunk = b"x" * 65536
        for _ in range(self.cap // len(chunk)):
            yield chunk, 0.0

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(min(length, 1_000_000)) if length else b""
                try:
                    body = json.loads(raw.decode("utf-8")) if raw else None
                except (UnicodeDecodeError, json.JSONDecodeError):
                    body = None
                with receiver._cond:
                    receiver.requests.append(body)
                    receiver._cond.notify_all()
                self.close_connection = True
                try:
                    for piece, pause in receiver._answer():
                        if pause and receiver._stopping.wait(pause):
                            return
                        if receiver._stopping.is_set():
                            return
                        self.wfile.write(piece)
                except OSError:  # the client hung up while we were still answering
                    with receiver._cond:
                        receiver.hangups += 1
                        receiver._cond.notify_all()

            do_GET = do_POST  # a robots.txt or sitemap that never ends, for the crawler

        return Handler


class HoldSite(_BaseThreadServer):
    """`/hold` answers only once `release()` is called (or after 60 s): a test on it is surely running while
    the test does something to its browser. `/` answers at once. `holders` counts the requests being held."""

    PAGE = "<!doctype html><title>Held</title><h1>Held</h1>"

    def __init__(self) -> None:
        super().__init__()
        self.holders = 0
        self._released = threading.Event()
        self._cond = threading.Condition()

    def wait_for_holders(self, count: int, timeout: float = 60.0) -> bool:
        """Wait (at most `timeout` s) until this many requests are being held."""
        with self._cond:
            return self._cond.wait_for(lambda: self.holders >= count, timeout=timeout)

    def release(self) -> None:
        self._released.set()

    def stop(self) -> None:
        self._released.set()
        super().stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def do_GET(self):
                if urlsplit(self.path).path == "/hold":
                    with site._cond:
                        site.holders += 1
                        site._cond.notify_all()
                    site._released.wait(60)
                data = site.PAGE.encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # its browser went away while it was held
                    pass

        return Handler
