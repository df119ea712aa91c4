"""Every connection a tested page makes goes through a gate: a SOCKS5 proxy of the browser context's own,
which resolves the host itself, refuses an address in a blocked network, and connects to the address it
checked.

Why a proxy: Playwright's routes see only the first request of a redirect chain (microsoft/playwright#2617:
Chromium's network stack follows redirects itself), so a page answering `302 Location: http://169.254.169.254/`
walked past them; and a route that checked a host name once cannot see its address change later. A proxy the
browser must use sees every connection (navigations, each redirect hop, subresources, WebSockets) because it
makes them, and checks the address it is about to connect to, never an earlier answer.

Why SOCKS5: one connection is one CONNECT to host:port whatever the protocol on top (http, https, ws), so
nothing of HTTP is parsed or decrypted here, bytes are only copied; and Chromium sends the host *name*
(resolution on the proxy), so a name that resolves into a blocked network is caught here. Playwright makes a
context's proxy apply to loopback too (`<-loopback>`), which is what lets tests use a loopback stand-in for a
blocked network.

Chromium sends no credentials to a SOCKS proxy, so a gate listens on one port per context, on loopback for a
local browser (or, for a browser server on another machine, on the address that reaches it), and talks only
to the peers it expects.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
from collections.abc import Iterable
from urllib.parse import urlsplit

from .. import origins

HANDSHAKE_SECONDS = 10.0  # a client that does not say where it is going within this is dropped
CONNECT_SECONDS = 30.0  # as long as Chromium itself waits for a connection before giving up
CHUNK = 64 * 1024
MAX_REFUSALS = 20  # kept per context (the first is what a test's error says)

# RFC 1928 reply codes
_SUCCEEDED, _FAILURE, _NOT_ALLOWED, _UNREACHABLE, _REFUSED, _BAD_COMMAND, _BAD_ADDRESS = 0, 1, 2, 4, 5, 7, 8


def blocked_message(shown: str, host: str, network) -> str:
    """The sentence a refusal carries: what was refused and which setting says so."""
    return (
        f"{shown}: {host} is in the blocked network {network} (link-local and cloud metadata addresses are "
        "never loaded; SENTRI_BROWSER_BLOCKED_NETWORKS sets the list)"
    )


class Gate:
    """One browser context's SOCKS5 proxy: open() it, pass `proxy` to new_context(), close() it with the context.
    Refusals are kept in `refusals` (the attempt's guard reads them)."""

    def __init__(self, networks, *, host: str = "127.0.0.1", peers: Iterable[str] = ()) -> None:
        self.networks = networks
        self.host = host
        self.peers = {ipaddress.ip_address(p) for p in peers}
        self.refusals: list[str] = []
        self.proxy: dict | None = None
        self._server: asyncio.Server | None = None
        self._streams: set[asyncio.StreamWriter] = set()  # both ends of every connection being served

    async def open(self) -> dict:
        """Listen on a free port; return the `proxy` option of new_context()."""
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        port = self._server.sockets[0].getsockname()[1]
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.proxy = {"server": f"socks5://{shown}:{port}"}
        return self.proxy

    def close(self) -> None:
        """Stop listening and cut every connection still open (the context is gone): their copies then end on
        their own (a served connection is never cancelled: asyncio logs a cancelled connection handler as an
        error)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for stream in list(self._streams):
            stream.transport.abort()

    def _refuse(self, text: str) -> None:
        if len(self.refusals) < MAX_REFUSALS:
            self.refusals.append(text)

    def _expected(self, peer) -> bool:
        try:
            address = ipaddress.ip_address(peer[0].split("%")[0])
        except (TypeError, ValueError, IndexError):
            return False
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        return address.is_loopback or address in self.peers

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._streams.add(writer)
        try:
            if self._expected(writer.get_extra_info("peername")):
                await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            pass
        except asyncio.CancelledError:  # the worker's loop is closing: nothing is left to serve
            pass
        finally:
            self._streams.discard(writer)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(HANDSHAKE_SECONDS):
            target = await _handshake(reader, writer)
        if target is None:
            return
        host, port = target
        shown = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
        addresses = await _resolve(host, port)
        if not addresses:
            await _reply(writer, _UNREACHABLE)
            return
        for address in addresses:
            network = origins.blocked_network(address, self.networks)
            if network is not None:
                named = host if host == address else f"{host} ({address})"
                self._refuse(f"Sentri refused to connect to {blocked_message(shown, named, network)}")
                await _reply(writer, _NOT_ALLOWED)
                return
        upstream = await _connect(addresses, port)
        if upstream is None:
            await _reply(writer, _REFUSED)
            return
        up_reader, up_writer = upstream
        self._streams.add(up_writer)
        try:
            await _reply(writer, _SUCCEEDED)
            await _splice(reader, writer, up_reader, up_writer)
        finally:
            self._streams.discard(up_writer)
            up_writer.close()


async def _handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[str, int] | None:
    """Read a SOCKS5 greeting (no authentication) and CONNECT request; return its host and port."""
    version, count = await reader.readexactly(2)
    methods = await reader.readexactly(count)
    if version != 5 or 0 not in methods:
        writer.write(b"\x05\xff")
        return None
    writer.write(b"\x05\x00")
    version, command, _reserved, kind = await reader.readexactly(4)
    if version != 5 or command != 1:  # CONNECT only: no BIND, no UDP ASSOCIATE
        await _reply(writer, _BAD_COMMAND)
        return None
    if kind == 1:
        host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
    elif kind == 4:
        host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
    elif kind == 3:
        size = (await reader.readexactly(1))[0]
        host = (await reader.readexactly(size)).decode("ascii", errors="replace")  # Chromium sends punycode
    else:
        await _reply(writer, _BAD_ADDRESS)
        return None
    (port,) = struct.unpack("!H", await reader.readexactly(2))
    return host, port


async def _reply(writer: asyncio.StreamWriter, code: int) -> None:
    writer.write(bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]))
    await writer.drain()


async def _resolve(host: str, port: int) -> list[str]:
    """The addresses to check and connect to, resolved now (never a cached answer)."""
    literal = origins.ip_literal(host)
    if literal is not None:
        return [str(literal)]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(info[4][0] for info in infos))


async def _connect(addresses: list[str], port: int):
    """Open a connection to the first checked address that accepts, or return None."""
    for address in addresses:
        try:
            async with asyncio.timeout(CONNECT_SECONDS):
                return await asyncio.open_connection(address, port)
        except (OSError, TimeoutError):
            continue
    return None


async def _splice(reader, writer, up_reader, up_writer) -> None:
    """Copy bytes both ways until either side is done."""
    copies = [
        asyncio.ensure_future(_copy(reader, up_writer)),
        asyncio.ensure_future(_copy(up_reader, writer)),
    ]
    try:
        await asyncio.wait(copies, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for copy in copies:
            copy.cancel()
        await asyncio.gather(*copies, return_exceptions=True)


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()


def reach(endpoint_url: str | None) -> tuple[str, tuple[str, ...]]:
    """Where a gate listens for a browser at `endpoint_url` (None: a local browser), and the peers it accepts
    besides loopback: a browser server on another machine reaches the address of this machine that routes to
    it, and only it may use that gate."""
    host = urlsplit(endpoint_url).hostname if endpoint_url else None
    if not host:
        return "127.0.0.1", ()
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return "127.0.0.1", ()
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    if all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        return "127.0.0.1", ()
    family = socket.AF_INET6 if ":" in addresses[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect(
            (addresses[0], 9)
        )  # no packet is sent: this asks the routing table which address is ours
        return probe.getsockname()[0], addresses
