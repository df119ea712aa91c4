"""Real Playwright browser servers on 127.0.0.1 for tests and benchmarks.

`BrowserServer()` runs `playwright run-server --unsafe` from Sentri's own Playwright (the venv's CLI), so
the client may tell it to launch this machine's Chromium (SENTRI_BROWSER_SERVER_CHROMIUM). `previous=True`
runs the older playwright-core from node_modules (package.json's playwright-core-previous): a server of
another version, which refuses Sentri's client. Each runs in its own session and is stopped (or killed)
as a whole process group: the CLI is a wrapper around Node, and a Node child left behind keeps the port.

`BrowserServer(log=path)` has the server write every protocol message it sends and receives to `path`
(Playwright's DEBUG=pw:server:metadata); `open_contexts(path)` reads from it how many browser contexts the
server had open at once, on the server's own clock of events.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS_CLI = ROOT / "node_modules" / "playwright-core-previous" / "cli.js"


class BrowserServer:
    def __init__(self, *, previous: bool = False, port: int | None = None, log: Path | None = None) -> None:
        self.previous = previous
        self.port = port or free_port()
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def command(self) -> list[str]:
        if self.previous:
            return ["node", str(PREVIOUS_CLI), "run-server", "--port", str(self.port), "--host", "127.0.0.1"]
        cli = Path(sys.executable).with_name("playwright")
        return [str(cli), "run-server", "--port", str(self.port), "--host", "127.0.0.1", "--unsafe"]

    def start(self, timeout: float = 30.0) -> BrowserServer:
        env = None
        if self.log is not None:
            env = {**os.environ, "DEBUG": "pw:server:metadata", "DEBUG_FILE": str(self.log)}
        self.process = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            env=env,
        )
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            seen.append(line)
            if line.startswith("Listening on"):
                # Keep reading what it says, so that a chatty server never blocks on a full pipe.
                threading.Thread(target=self.process.stdout.read, daemon=True).start()
                return self
        self.stop()
        raise RuntimeError(f"browser server on port {self.port} did not start: {''.join(seen)[-2000:]}")

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)
        # The CLI wrapper exits on SIGTERM; its node server did not always (CI found six left running).
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process = None

    def __enter__(self) -> BrowserServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def open_contexts(log: Path) -> int:
    """The most browser contexts a server logging to `log` had open at once: a context is open from the first
    message the server sends about it to the one that disposes of it (`__dispose__`). The server writes them
    in the order it acts, so a context disposed of before another was created is never counted with it."""
    opened: set[str] = set()
    closed: set[str] = set()
    most = 0
    for line in log.read_text(errors="replace").splitlines():
        _, marker, text = line.partition("SEND \u25ba ")
        if not marker:
            continue
        message = json.loads(text)
        guid = str(message.get("guid"))
        if not guid.startswith("browser-context@"):
            continue
        if message.get("method") == "__dispose__":
            opened.discard(guid)
            closed.add(guid)
        elif guid not in closed:
            opened.add(guid)
        most = max(most, len(opened))
    return most
