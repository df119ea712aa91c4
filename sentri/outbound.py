"""Outbound requests to checked URLs: sent to exactly the addresses ssrf.py checked, never through a proxy
nor a redirect, with an optional overall deadline and a bounded read of the answer.

Host header, TLS SNI and certificate verification stay on the original name. A receiver that trickles or
never stops sending costs a bounded time and memory (deadline.py shuts its connection down in time).
"""

from __future__ import annotations

import contextlib
import socket
import sys
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError, ReadTimeoutError
from urllib3.util import connection

from . import deadline as deadlines
from .ssrf import Allowlist, CheckedTarget, Resolver, UnsafeURLError, _check, _default_port, _normalize_host

__all__ = ["DeadlineExceeded", "PinnedAdapter", "PinnedPool", "post_json", "request"]

_SEND_KWARGS = frozenset({"stream", "verify", "cert"})


class DeadlineExceeded(requests.Timeout):
    """The exchange did not end within its overall deadline; its connection was shut down."""


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
                error = ConnectTimeoutError(
                    self, f"Connection to {self.host} ran out of its {bound.seconds:g} s deadline."
                )
                break
            try:
                sock = connection.create_connection(
                    (address, self.port),
                    self.timeout if bound is None else bound.clamp(self.timeout),
                    source_address=self.source_address,
                    socket_options=self.socket_options,
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

    return {
        "http": pool(HTTPConnectionPool, HTTPConnection),
        "https": pool(HTTPSConnectionPool, HTTPSConnection),
    }


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
                self.target.scheme,
                self.target.host,
                self.target.port,
            )
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
        same_origin = (u.scheme.lower(), u.hostname, _default_port(u)) == (
            b.scheme.lower(),
            b.hostname,
            _default_port(b),
        )
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


def request(
    method: str,
    url: str,
    *,
    allowlist: Allowlist | None = None,
    trusted_base: str | None = None,
    resolver: Resolver | None = None,
    session: requests.Session | None = None,
    field: str = "url",
    timeout: float | tuple[float, float] = 10.0,
    pool: PinnedPool | None = None,
    deadline: float | None = None,
    max_body: int | None = None,
    **kwargs,
) -> requests.Response:
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
            response = _exchange(
                target,
                method,
                url,
                session,
                bound.clamp(timeout) if bound else timeout,
                pool,
                max_body,
                send_kwargs,
                kwargs,
            )
        except Exception as exc:
            if bound is not None and bound.passed:
                raise DeadlineExceeded(f"{target.host} did not answer within {deadline:g} s") from exc
            raise
        if bound is not None and bound.interrupted:  # what was read may have been cut short
            raise DeadlineExceeded(f"{target.host} did not answer within {deadline:g} s")
    return response


def _exchange(
    target: CheckedTarget,
    method: str,
    url: str,
    session: requests.Session | None,
    timeout,
    pool: PinnedPool | None,
    max_body: int | None,
    send_kwargs: dict,
    kwargs: dict,
) -> requests.Response:
    """Send the request to the checked target and read its answer (all of it, or up to `max_body` bytes)."""
    stream = bool(send_kwargs.get("stream"))
    own_session = session is None
    if own_session:
        session = requests.Session()
        session.trust_env = False  # no netrc credentials either
    prepared = session.prepare_request(requests.Request(method.upper(), url, **kwargs))
    if max_body is not None:
        prepared.headers["Accept-Encoding"] = (
            "identity"  # a bounded read of compressed bytes could not be decoded
        )
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


def post_json(
    url: str,
    payload: dict,
    *,
    timeout: float = 10.0,
    allowlist: Allowlist | None = None,
    headers: dict | None = None,
    resolver: Resolver | None = None,
    session: requests.Session | None = None,
    max_body: int = 4096,
) -> requests.Response:
    """Re-check the URL, then POST `payload` as JSON to the checked address without following redirects.

    `timeout` bounds the whole exchange, not each read; at most `max_body` bytes of the answer are read.
    """
    return request(
        "POST",
        url,
        allowlist=allowlist,
        resolver=resolver,
        session=session,
        field="callbackUrl",
        timeout=timeout,
        deadline=timeout,
        max_body=max_body,
        headers=headers,
        json=payload,
    )
