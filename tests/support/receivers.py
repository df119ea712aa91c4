"""Alert receivers on loopback, answering as the services do: Slack's incoming webhook ("ok", 200), a Teams
Workflows webhook (202), Discord's execute-webhook (204), a plain JSON webhook (200); or broken (500),
hanging until released, redirecting elsewhere (307 to `location`), or flooding (a 500 whose body never ends). Every request is kept (path and decoded JSON) for the test to check."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWERS = {
    "slack": (200, b"ok"),
    "teams": (202, b""),
    "discord": (204, b""),
    "webhook": (200, b'{"ok": true}'),
    "broken": (500, b"internal trouble"),
    "hang": (200, b"late"),
    "redirect": (307, b""),
    "flood": (500, b""),
}
FLOOD_CHUNK = b"x" * 65536
FLOOD_MOST = 64 * 1024 * 1024  # the flood ends here even if nobody stops reading it


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *_args):
        pass

    def do_POST(self):
        receiver: Receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        receiver.arrived(self.path, json.loads(body or b"null"))
        if receiver.behaviour == "hang":
            receiver.release.wait(60)
        status, answer = ANSWERS[receiver.behaviour]
        try:
            self.send_response(status)
            if receiver.behaviour == "flood":
                self.send_header("Connection", "close")
                self.end_headers()
                for _ in range(FLOOD_MOST // len(FLOOD_CHUNK)):
                    self.wfile.write(FLOOD_CHUNK)
                    receiver.flooded += len(FLOOD_CHUNK)
                return
            if receiver.behaviour == "redirect":
                self.send_header("Location", receiver.location)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except OSError:  # the sender gave up on us (its deadline)
            pass


class Receiver:
    """`with Receiver("slack") as r:` r.url, r.received (bodies), r.wait_for(n)."""

    def __init__(self, behaviour: str, location: str = "") -> None:
        self.behaviour = behaviour
        self.location = location
        self.flooded = 0  # bytes of the flood written before the sender hung up
        self.release = threading.Event()
        self._cond = threading.Condition()
        self._received: list[tuple[str, object]] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/services/T000/B000/secret-{self.behaviour}-path"

    def arrived(self, path: str, body: object) -> None:
        with self._cond:
            self._received.append((path, body))
            self._cond.notify_all()

    @property
    def received(self) -> list:
        with self._cond:
            return [body for _path, body in self._received]

    def wait_for(self, count: int, timeout: float = 30.0) -> list:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._received) < count and time.monotonic() < deadline:
                self._cond.wait(0.1)
            return [body for _path, body in self._received]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
