"""An open-loop HTTP load: GETs sent at Poisson arrival times whether or not earlier ones were answered.

One thread, one asyncio loop, HTTP/1.1 over keep-alive connections opened before the timed window, the
standard library only. Why not threads with `requests` (what api_throughput.py used first): 64 threads of
`requests` cost ~1 ms of client CPU per request and take turns on one GIL, on the same 2 cores as the server,
so at 300 polls/s the client's own queueing was in every latency (/healthz's p99 was 72 ms, the same as the
status poll's). Here a request costs the client a write and a read on a socket it already has.

Each latency is from the request's scheduled time to the end of its answer, so a send the client was late
with counts against the figure (no coordinated omission); the lag (scheduled -> sent) is also returned, to
show whether the client kept up.
"""

from __future__ import annotations

import asyncio
import random
from urllib.parse import urlsplit

Target = tuple[str, str, dict[str, str]]  # (name, url, headers)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def get(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        if fields.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = await self.reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            raise ConnectionResetError("the server closed the connection")
        return status, body

    async def _chunked(self) -> bytes:
        parts = []
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)
        await self.reader.readuntil(b"\r\n")
        return b"".join(parts)


def _request(url: str, headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [
        f"GET {path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _run(
    targets: list[Target], rate: float, seconds: float, connections: int, seed: int
) -> tuple[dict[str, list[float]], dict[str, list[str]], list[float]]:
    rng = random.Random(seed)
    arrivals, at = [], 0.0
    while (at := at + rng.expovariate(rate)) < seconds:
        arrivals.append((at, rng.choice(targets)))
    parts = urlsplit(targets[0][1])
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(_Connection(*await asyncio.open_connection(host, port)))
    requests = {url: _request(url, headers) for _, url, headers in targets}
    # Warm, as a server that has been up for a while is: every target (each token's first look-up, its
    # rate-limit key) answered once, on each connection in turn, before the timed window.
    warm = [idle.get_nowait() for _ in range(connections)]
    for index, url in enumerate(dict.fromkeys(url for _, url, _ in targets)):
        await warm[index % connections].get(requests[url])
    for connection in warm:
        idle.put_nowait(connection)
    latencies: dict[str, list[float]] = {name: [] for name, _, _ in targets}
    errors: dict[str, list[str]] = {name: [] for name, _, _ in targets}
    lags: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5

    async def one(due: float, target: Target) -> None:
        name, url, _ = target
        await asyncio.sleep(max(0.0, start + due - loop.time()))
        scheduled = start + due
        connection = await idle.get()
        lags.append(loop.time() - scheduled)
        try:
            status, body = await connection.get(requests[url])
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[name].append(repr(exc))
            connection.writer.close()
            connection = _Connection(*await asyncio.open_connection(host, port))
        else:
            if status == 200:
                latencies[name].append(loop.time() - scheduled)
            else:
                errors[name].append(f"{status} {body[:300]!r}")
        idle.put_nowait(connection)

    await asyncio.gather(*(one(due, target) for due, target in arrivals))
    while not idle.empty():
        idle.get_nowait().writer.close()
    return latencies, errors, lags


def open_loop(
    targets: list[Target], rate: float, seconds: float, *, connections: int = 64, seed: int = 7
) -> tuple[dict[str, list[float]], dict[str, list[str]], list[float]]:
    """Send GETs at Poisson arrival times of `rate` per second for `seconds`, each to a target picked at
    random (all on one host); return per target name the latencies (seconds, scheduled -> answered) and the
    failures, and every request's send lag (scheduled -> a connection was free to send it on)."""
    return asyncio.run(_run(targets, rate, seconds, connections, seed))
