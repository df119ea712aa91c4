"""The browser servers' health, checked actively: every SENTRI_BROWSER_PROBE_SECONDS each Sentri process checks
every endpoint, whether it has tests for it or none, so that a server that died is seen down by an idle replica
and one that came back is seen up by a busy one, and /health and /metrics say the same on every replica within
one interval.

The check is the opening of a WebSocket as Playwright's connect() begins it, closed as soon as it is answered:
- cheap: one TCP connection and one HTTP exchange, bounded by PROBE_TIMEOUT_SECONDS; no browser is launched
  (run-server launches one only when the client's first message asks for it), nothing stays open;
- true of what a test needs: the address is reached, the path (and a gateway's token or credentials, sent as
  Playwright's client sends them) is accepted, and the server's Playwright version is ours (run-server
  refuses another version's User-Agent with a 428, which refusal() words with both versions).
What it cannot see is a server that takes connections but cannot launch a browser: the test that tries marks
it down (saying why) until the next check.

Each process checks for itself instead of sharing one verdict through the database: whether a server can be
reached is a fact about the path from the process whose workers use it, a check costs a server one
handshake per replica and interval, and /health can still say it while the database does not answer.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import logging
import os
import ssl
import threading
import time
from urllib.parse import unquote, urlsplit

from .remote import PLAYWRIGHT_VERSION, ServerPool

log = logging.getLogger(__name__)
PROBE_TIMEOUT_SECONDS = 5.0  # a handshake takes milliseconds; a server busy with browsers gets some slack
_PORTS = {"ws": 80, "wss": 443}
_MAX_ANSWER = 4096  # a refusal's body (run-server's version box is ~1 KiB)


def _request(url: str) -> bytes:
    """The opening handshake Playwright's client sends (RFC 6455), with its User-Agent and credentials."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {parts.netloc.rpartition('@')[2]}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        f"User-Agent: Playwright/{PLAYWRIGHT_VERSION} (Sentri health check)",
    ]
    if parts.username is not None or parts.password is not None:
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        lines.append(f"Authorization: Basic {base64.b64encode(pair.encode()).decode()}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def handshake(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> str | None:
    """Open a WebSocket to a browser server and close it at once: None when the server took it, else what went
    wrong, worded as Playwright words it (the URL in it is the caller's to scrub)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or _PORTS.get(parts.scheme, 80)
    try:
        async with asyncio.timeout(timeout):
            secure = ssl.create_default_context() if parts.scheme == "wss" else None
            reader, writer = await asyncio.open_connection(host, port, ssl=secure)
            try:
                writer.write(_request(url))
                await writer.drain()
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                status = head.split("\r\n", 1)[0].partition(" ")[2]
                body = (
                    ""
                    if status.startswith("101")
                    else (await reader.read(_MAX_ANSWER)).decode(errors="replace")
                )
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
    except TimeoutError:
        return f"WebSocket error: {host}:{port} did not answer within {timeout:g} s"
    except asyncio.IncompleteReadError:
        return f"WebSocket error: {host}:{port} closed the connection without answering"
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0)
        return f"WebSocket error: connect {code} {host}:{port}" if code else f"WebSocket error: {exc}"
    if status.startswith("101"):
        return None
    return f"WebSocket error: {url} {status}\n{body}".rstrip()


class Prober:
    """This process's checks of a pool's endpoints, one round every `interval` seconds in a thread of its own,
    until `stop` is set."""

    def __init__(self, pool: ServerPool, interval: float, stop: threading.Event) -> None:
        self.pool = pool
        self.interval = interval
        self.stop = stop
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sentri-probe", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        due = time.monotonic()
        try:
            while not self.stop.is_set():
                try:
                    loop.run_until_complete(self.check())
                except Exception:  # the thread must go on checking
                    log.exception("the browser servers could not be checked")
                # A fixed rhythm, however long a round took; a round that overran starts the next at once.
                due = max(due + self.interval, time.monotonic())
                self.stop.wait(due - time.monotonic())
        finally:
            loop.close()

    async def check(self) -> None:
        """Check every endpoint at once and say what each answered."""
        endpoints = list(self.pool.endpoints)
        answers = await asyncio.gather(*(handshake(endpoint.url) for endpoint in endpoints))
        for endpoint, error in zip(endpoints, answers, strict=True):
            if error is None:
                self.pool.answered(endpoint)
            else:
                self.pool.refused(endpoint, error)
