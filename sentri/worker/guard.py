"""The browser-side guard of a test attempt: the page goes only to web pages outside blocked networks,
and secrets are typed only into pages of trusted origins.

Validation refuses bad URLs when a test is saved; this guard is what holds at run time, for rows stored
before those rules and for whatever a page under test does on its own (a script's fetch, an image, a
redirect, a WebSocket). It is installed on every browser context:

* every connection the context opens goes through its gate (egress.py), a proxy that refuses addresses in
  a blocked network (link-local by default: cloud metadata) at the moment it connects: redirect hops,
  subresources, WebSockets and the run's own origin alike;
* every request the context makes outside the run's own origin also goes through a route, which refuses
  non-web schemes (``file:`` is routed; ``chrome:``, ``view-source:``, ``javascript:`` and ``data:`` never
  reach a route, which is why a step's own URL is checked before ``goto``) and says which URL a blocked
  host was refused for (the gate sees only host and port). Routes never see a redirect's later hops;
  the gate does;
* WebSockets go through the same host check;
* a step that carries a secret value acts only on a page (or, for a goto, a URL) of a trusted origin.

A refusal fails the test with a sentence saying what was refused and why; the refused request is
aborted, so nothing of it is shown, recorded or screenshotted.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from .. import origins
from .egress import Gate, blocked_message

HOST_CACHE_SECONDS = 30.0
# Schemes a page may use for its own subresources without the network: allowed through the route.
_LOCAL_SCHEMES = ("data", "blob")
_WEB_SOCKET_SCHEMES = ("ws", "wss")
# Steps that type or choose a value into the page: a secret in them must stay with trusted origins.
_TYPING = ("fill", "select", "press")
_ELEMENT_DOCUMENT_URL = "element => element.ownerDocument.URL"
# The document that keyboard input goes to: follow focused frames down while they are readable;
# a focused cross-origin frame cannot be read, and is answered as such.
_FOCUSED_DOCUMENT_URL = """() => {
  let doc = document;
  while (doc.activeElement && doc.activeElement.tagName === 'IFRAME') {
    const inner = doc.activeElement.contentDocument;
    if (!inner) return 'cross-origin-frame:';
    doc = inner;
  }
  return doc.URL;
}"""


class Refused(Exception):
    """The guard refused a navigation, a request or a step; str() says what and why."""


class HostCache:
    """Resolved addresses of host names, per browser worker, kept for a short while."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, int], tuple[float, tuple[str, ...]]] = {}

    async def addresses(self, host: str, port: int) -> tuple[str, ...]:
        key = (host, port)
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is not None and entry[0] > now:
            return entry[1]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            found = tuple(dict.fromkeys(info[4][0] for info in infos))
        except (OSError, UnicodeError):
            found = ()  # the browser will fail to resolve it too, and say so
        self._entries[key] = (now + HOST_CACHE_SECONDS, found)
        return found


class Routes:
    """A context's routes, answered by a guard that may be set after they are installed (a page opened ahead
    of its test, worker/spare.py, gets them before its test's guard exists). Until a guard is set, every
    routed request is refused. `skip`: the origin left out of the routes ("" for none)."""

    def __init__(self, skip: str) -> None:
        self.skip = skip
        self.guard: Guard | None = None

    async def install(self, context) -> None:
        skip = re.escape(self.skip) + "/" if self.skip else ""
        pages = re.compile(f"^(?!{skip})" if skip else r"^")
        sockets = re.compile("^(?!wss?" + skip[skip.index(":") :] + ")" if skip else r"^")
        await context.route(pages, self._on_route)
        await context.route_web_socket(sockets, self._on_web_socket)

    async def _on_route(self, route) -> None:
        if self.guard is None:
            await route.abort("blockedbyclient")
        else:
            await self.guard.on_route(route)

    async def _on_web_socket(self, web_socket) -> None:
        if self.guard is None:
            await web_socket.close(code=1008, reason="refused by Sentri")
        else:
            await self.guard.on_web_socket(web_socket)


class Guard:
    """One attempt's guard: install() it on the context, ask it before and after each step."""

    def __init__(
        self,
        *,
        networks,
        hosts: HostCache,
        trusted: origins.TrustedOrigins,
        secret_values: list[str] | None = None,
        refusals: list[str] | None = None,
    ) -> None:
        self.networks = networks
        self.hosts = hosts
        self.trusted = trusted
        self.secret_values = [v for v in secret_values or [] if v]
        self.refusals: list[str] = refusals if refusals is not None else []  # shared with the context's gate

    async def install(self, context, base_url: str | None = None) -> None:
        """Route the context's requests and WebSockets through the guard. The run's own origin, once its
        host is checked (cached per worker), is left out of the routes: most of a page's requests then
        never make the round trip to Python, which a routed request costs."""
        routes = Routes(await self.own_origin(base_url))
        routes.guard = self
        await routes.install(context)

    async def own_origin(self, base_url: str | None) -> str:
        """The base URL's origin when the page may load it (what routes leave out), else ""."""
        origin = origins.origin_of(base_url) if base_url else None
        if origin is not None and await self.request_problem(str(origin) + "/") is None:
            return str(origin)
        return ""

    # -- network -----------------------------------------------------------------------------------

    async def request_problem(self, url: str) -> str | None:
        """Say why the page must not load this URL, or return None."""
        scheme = origins.scheme_of(url)
        if scheme in _LOCAL_SCHEMES:
            return None
        if scheme not in origins.WEB_SCHEMES + _WEB_SOCKET_SCHEMES:
            return f'{_short(url)}: only http(s) web pages may be loaded (got a "{scheme}:" URL)'
        if not self.networks:
            return None
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = parts.port or (443 if scheme in ("https", "wss") else 80)
        except ValueError:
            return f"{_short(url)}: not a valid URL"
        literal = origins.ip_literal(host)
        addresses = (str(literal),) if literal is not None else await self.hosts.addresses(host, port)
        for address in addresses:
            network = origins.blocked_network(address, self.networks)
            if network is not None:
                return blocked_message(
                    _short(url), host if literal is not None else f"{host} ({address})", network
                )
        return None

    async def on_route(self, route) -> None:
        problem = await self.request_problem(route.request.url)
        if problem is None:
            await route.continue_()
            return
        self.refusals.append(f"Sentri refused to load {problem}")
        await route.abort("blockedbyclient")

    async def on_web_socket(self, web_socket) -> None:
        problem = await self.request_problem(web_socket.url)
        if problem is None:
            web_socket.connect_to_server()
            return
        self.refusals.append(f"Sentri refused a WebSocket to {problem}")
        await web_socket.close(code=1008, reason="refused by Sentri")

    # -- steps -------------------------------------------------------------------------------------

    def carries_secret(self, step: dict) -> bool:
        """Tell whether any text of the (substituted) step holds one of the run's secret values."""
        return carries_secret(step, self.secret_values)

    def check_navigation(self, url: str, step: dict) -> None:
        """Refuse a goto to anything but an http(s) URL, or a secret-bearing URL of an untrusted origin."""
        problem = origins.step_url_problem(url)
        if problem is not None:
            raise Refused(f"Sentri refused to open {_short(url)}: the URL {problem}")
        if self.carries_secret(step) and not self.trusted.allows(url):
            raise Refused(self._secret_refusal(url))

    async def check_typing(self, page, step: dict, locator, timeout: float) -> None:
        """Refuse to type a secret into a document whose origin the run does not trust."""
        if step["action"] not in _TYPING or not self.carries_secret(step):
            return
        if locator is not None:
            url = await locator.evaluate(_ELEMENT_DOCUMENT_URL, timeout=timeout)
        else:
            url = await page.evaluate(_FOCUSED_DOCUMENT_URL)
        if not self.trusted.allows(url):
            raise Refused(self._secret_refusal(url))

    def check_page(self, page) -> None:
        """After a step: refuse a page that ended on a non-web document, and any refused request."""
        if self.refusals:
            raise Refused(self.refusals[0])
        url = page.url
        if url != "about:blank" and origins.scheme_of(url) not in origins.WEB_SCHEMES:
            raise Refused(f"Sentri refused the page {_short(url)}: only http(s) web pages may be opened")

    def _secret_refusal(self, url: str) -> str:
        origin = origins.origin_of(url)
        where = str(origin) if origin else _short(url)
        return (
            f"Sentri refused to send a secret to {where}: secrets are typed only into pages of the run's "
            f"base URL origin or the project's allowedOrigins ({self.trusted.describe()})"
        )


def carries_secret(step: dict, secret_values: list[str]) -> bool:
    """Tell whether any text of a (substituted) step holds one of these secret values."""
    return any(secret and secret in text for text in _texts(step) for secret in secret_values)


def _texts(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []


def _short(url: str) -> str:
    return url if len(url) <= 200 else url[:197] + "..."


async def gated_context(
    browser,
    networks,
    options: dict,
    *,
    storage: dict | None = None,
    reach: tuple[str, tuple[str, ...]] = ("127.0.0.1", ()),
) -> tuple[Any, Gate]:
    """A fresh context whose every connection goes through a gate of its own (egress.py), and the gate, closed
    with the context. `reach`: where the gate listens and which peers it accepts (egress.reach). Service
    workers are blocked: their requests would not pass through the guard's route."""
    host, peers = reach
    gate = Gate(networks, host=host, peers=peers)
    proxy = await gate.open()
    try:
        context = await browser.new_context(
            **options, service_workers="block", storage_state=storage, proxy=proxy
        )
    except BaseException:
        gate.close()
        raise
    context.on("close", lambda _context: gate.close())
    return context, gate


async def guarded_context(browser, where, hosts: HostCache, options: dict, storage: dict | None = None):
    """A fresh gated context behind a guard, and the guard: `where` is what a test job or a crawl plan says
    about the browser's limits (blocked_networks, secret_values, trusted, base_url, reach)."""
    context, gate = await gated_context(
        browser, where.blocked_networks, options, storage=storage, reach=where.reach
    )
    try:
        return context, await guard_context(context, where, hosts, gate)
    except BaseException:
        await context.close()
        raise


async def guard_context(context, where, hosts: HostCache, gate: Gate, routes: Routes | None = None) -> Guard:
    """Install `where`'s guard on a gated context nothing has been loaded into yet (a page opened ahead by
    worker/spare.py opens one too), and return it; what the gate refuses, the guard reports. `routes`: the
    ones already installed on it (install_routes), answered by this guard from now on when they leave out the
    same origin; else the guard's own are installed."""
    guard = Guard(
        networks=where.blocked_networks,
        hosts=hosts,
        secret_values=where.secret_values,
        trusted=where.trusted or origins.TrustedOrigins([where.base_url], []),
        refusals=gate.refusals,
    )
    if routes is not None and routes.guard is None:
        routes.guard = guard  # the routes were the context's first: nothing went through them before
        if routes.skip == await guard.own_origin(where.base_url):
            return guard
    await guard.install(context, where.base_url)
    return guard


async def install_routes(context, where, hosts: HostCache) -> Routes:
    """Install on a context opened ahead the routes its test's guard will answer (guard_context), for the test
    `where` says most likely comes next: the routes' own-origin exception is `where`'s."""
    probe = Guard(networks=where.blocked_networks, hosts=hosts, trusted=origins.TrustedOrigins([], []))
    routes = Routes(await probe.own_origin(where.base_url))
    await routes.install(context)
    return routes
