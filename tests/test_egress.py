"""The gate every browser connection goes through (sentri/worker/egress.py), spoken to as Chromium speaks to it:
SOCKS5 over a real socket, to real loopback servers. The blocked network is a loopback stand-in (127.0.0.2)
whose server records whether anything arrived; redirect chains through real Chromium are in
test_browser_guard.py."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

import pytest

from sentri import origins
from sentri.worker import egress
from sentri.worker.egress import Gate
from tests.support import StaticSite

NETWORKS = origins.parse_networks("169.254.0.0/16,127.0.0.2/32")


@pytest.fixture
def loop():
    """An event loop in a thread of its own, as a browser worker's."""
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(timeout=5)
    running.close()


def _on(loop, coroutine):
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=30)


@pytest.fixture
def gate(loop):
    opened = Gate(NETWORKS)
    proxy = _on(loop, opened.open())
    opened.port = int(proxy["server"].rsplit(":", 1)[1])
    yield opened
    loop.call_soon_threadsafe(opened.close)


def _connect(port: int, host: str, target_port: int, *, command: int = 1) -> tuple[socket.socket, int]:
    """Open a SOCKS5 CONNECT to host:target_port through the gate; return the socket and the reply code."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"\x05\x01\x00")
    assert sock.recv(2) == b"\x05\x00"
    name = host.encode()
    sock.sendall(bytes([5, command, 0, 3, len(name)]) + name + struct.pack("!H", target_port))
    reply = sock.recv(10)
    return sock, reply[1]


def _get(sock: socket.socket, host: str) -> bytes:
    sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_an_allowed_address_is_connected_and_bytes_flow_both_ways(gate):
    with StaticSite({"/": "<h1>shop</h1>"}) as site:
        sock, code = _connect(gate.port, "127.0.0.1", site.port)
        with sock:
            assert code == 0
            assert _get(sock, "127.0.0.1").endswith(b"<h1>shop</h1>")
        assert [hit.path for hit in site.hits] == ["/"]
    assert gate.refusals == []


def test_a_blocked_address_is_refused_and_said_why(gate):
    with StaticSite({"/": "secret"}, host="127.0.0.2") as metadata:
        port = metadata.port
        sock, code = _connect(gate.port, "127.0.0.2", port)
        sock.close()
        assert code == 2  # "connection not allowed by ruleset"
        assert metadata.hits == []
    assert gate.refusals == [
        f"Sentri refused to connect to 127.0.0.2:{port}: 127.0.0.2 is in the blocked network 127.0.0.2/32 "
        "(link-local and cloud metadata addresses are never loaded; SENTRI_BROWSER_BLOCKED_NETWORKS sets the list)"
    ]


def test_a_name_is_resolved_at_every_connection_so_a_changed_answer_is_caught(gate, monkeypatch):
    """A run's own origin is checked when it is connected to, not once: a name that answered a safe address
    and then a blocked one (DNS rebinding) is refused the moment it does."""
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1", "127.0.0.2"])

    def rebinding(host, *args, **kwargs):
        return real(next(answers) if host == "shop.rebind.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with StaticSite({"/": "<h1>shop</h1>"}) as site, socket.socket() as stand_in:
        port = site.port
        stand_in.bind(("127.0.0.2", port))  # what the rebound name would reach: the same port, elsewhere
        stand_in.listen()
        stand_in.setblocking(False)
        first, code = _connect(gate.port, "shop.rebind.test", site.port)
        with first:
            assert code == 0 and _get(first, "shop.rebind.test").endswith(b"<h1>shop</h1>")
        second, code = _connect(gate.port, "shop.rebind.test", site.port)
        second.close()
        assert code == 2
        with pytest.raises(BlockingIOError):
            stand_in.accept()  # nobody ever dialled it
    assert gate.refusals == [
        f"Sentri refused to connect to shop.rebind.test:{port}: shop.rebind.test (127.0.0.2) is in the blocked "
        "network 127.0.0.2/32 (link-local and cloud metadata addresses are never loaded; "
        "SENTRI_BROWSER_BLOCKED_NETWORKS sets the list)"
    ]


def test_only_connect_is_spoken(gate):
    sock, code = _connect(gate.port, "127.0.0.1", 9, command=3)  # UDP ASSOCIATE: no UDP leaves this way
    sock.close()
    assert code == 7


def test_a_gate_talks_only_to_loopback_and_the_browser_servers_it_was_opened_for():
    gate = Gate(NETWORKS, peers=["10.1.2.3"])
    assert gate._expected(("127.0.0.1", 5000)) and gate._expected(("::1", 5000, 0, 0))
    assert gate._expected(("10.1.2.3", 5000)) and gate._expected(("::ffff:10.1.2.3", 5000, 0, 0))
    assert not gate._expected(("10.1.2.4", 5000)) and not gate._expected(("192.168.0.9", 5000))


def test_a_local_browser_and_a_loopback_browser_server_reach_the_gate_on_loopback():
    assert egress.reach(None) == ("127.0.0.1", ())
    assert egress.reach("ws://127.0.0.1:3000/") == ("127.0.0.1", ())
    assert egress.reach("ws://localhost:3000/?token=x") == ("127.0.0.1", ())
