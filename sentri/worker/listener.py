"""The LISTEN side of queue/notices.py: a thread with a PostgreSQL connection of its own, waiting for the
notices other transactions send when work becomes claimable, and waking this process's idle workers.

Why a connection of its own: a LISTEN belongs to a session, and a pooled connection goes back to the pool
(and to other threads) between uses; this one stays in autocommit, idle in the server, so that notices
arrive as soon as their transaction commits (procrastinate listens the same way).

A connection can die with the server (a restart, a failover) or the network. An error ends it and the thread
connects again, with a growing pause; while it is not listening the engine polls as it does on SQLite, and
each change of state wakes the idle workers: work queued while nobody listened is found by that look. A
connection that died silently (a half-open TCP) is found by a `SELECT 1` every KEEPALIVE_SECONDS.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg
from psycopg import sql

from ..queue.notices import CHANNEL

log = logging.getLogger("sentri.worker")
WAIT_SECONDS = 1.0  # how long one wait for notices lasts: the thread sees a stop request this often
KEEPALIVE_SECONDS = 30.0
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)  # pauses before connecting again, the last one repeated
CONNECT_TIMEOUT_SECONDS = 5
APPLICATION_NAME = "sentri-listener"  # how its session shows in pg_stat_activity


class WorkListener:
    """LISTEN on notices.CHANNEL and call `on_change` for every notice and whenever listening starts or stops."""

    def __init__(self, conninfo: str, on_change: Callable[[], None]) -> None:
        self.conninfo = conninfo
        self.on_change = on_change
        self.listening = threading.Event()  # set while a LISTEN is in place
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sentri-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = WAIT_SECONDS * 2) -> None:
        """Stop listening; the thread ends within WAIT_SECONDS (its connection with it)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self.conninfo,
                    autocommit=True,
                    connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    application_name=APPLICATION_NAME,
                ) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    if failures:
                        log.info("listening for work again after %d failed attempt(s)", failures)
                    failures = 0
                    self._changed(listening=True)
                    self._listen(conn)
            except psycopg.Error as exc:
                if failures == 0:  # one line per outage, not one per attempt
                    log.warning(
                        "lost the connection that listens for work (%s); polling until it is back",
                        str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                    )
                failures += 1
            except Exception:  # never let the thread die: the engine would poll slowly with no notice coming
                log.exception("the listener for work failed")
                failures += 1
            if self.listening.is_set():
                self._changed(listening=False)
            if not self._stop.is_set():
                self._stop.wait(RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1] if failures else 0)

    def _listen(self, conn: psycopg.Connection) -> None:
        checked = time.monotonic()
        while not self._stop.is_set():
            noticed = False
            for _notice in conn.notifies(timeout=WAIT_SECONDS):
                noticed = True
                self.on_change()
            if noticed:
                checked = time.monotonic()  # the connection just proved alive
            elif time.monotonic() - checked >= KEEPALIVE_SECONDS:
                conn.execute("SELECT 1")  # raises when the connection died without a word
                checked = time.monotonic()

    def _changed(self, *, listening: bool) -> None:
        # Listening: wake before saying so, and a wait begun once `listening` is set is one no notice missed.
        # Not listening: say so first, and the woken workers go back to waiting for the short poll.
        if listening:
            self.on_change()
            self.listening.set()
        else:
            self.listening.clear()
            self.on_change()
