"""An overall deadline for one outbound exchange, however slowly the other side answers.

A socket timeout bounds each read, not the exchange: a peer that sends one byte just before every
timeout holds the caller for as long as it likes. Within `with Deadline(seconds):` the connections
that take part (ssrf's pinned connections call `watch`) are shut down when the time is up, which
wakes any read or write blocked on them at once; timeouts given to connects and reads are clamped
to the time left.
"""

from __future__ import annotations

import socket
import threading
import time
from contextvars import ContextVar

__all__ = ["Deadline", "current"]

# The shortest timeout a clamp gives: 0 would make a socket non-blocking rather than impatient.
_MIN_TIMEOUT = 0.01
_current: ContextVar[Deadline | None] = ContextVar("sentri_deadline", default=None)


def current() -> Deadline | None:
    """Return the deadline of the exchange this thread is in, if any."""
    return _current.get()


class Deadline:
    """At most `seconds` from now for everything done inside `with` (one exchange, one thread)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        # Our own duplicate of each watched descriptor: shutdown() acts on the connection behind all of
        # them, and one we hold open can never name some other socket by the time the timer fires.
        self._watched: dict[int, socket.socket] = {}
        self._interrupted = False
        self._closed = False
        self._timer: threading.Timer | None = None
        self._token = None

    def __enter__(self) -> Deadline:
        self._timer = threading.Timer(self.left(), self._expire)
        self._timer.daemon = True
        self._timer.name = "sentri-deadline"
        self._timer.start()
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc) -> None:
        _current.reset(self._token)
        self._timer.cancel()
        with self._lock:
            self._closed = True
            twins, self._watched = list(self._watched.values()), {}
        for twin in twins:
            twin.close()

    def left(self) -> float:
        """Seconds until the deadline (0 once it has passed)."""
        return max(0.0, self._ends - time.monotonic())

    @property
    def passed(self) -> bool:
        """Tell whether the deadline has come."""
        return self._interrupted or time.monotonic() >= self._ends

    @property
    def interrupted(self) -> bool:
        """Tell whether the watched connections were shut down (what was read from them may be cut short)."""
        return self._interrupted

    def clamp(self, timeout):
        """Return `timeout` (seconds, a (connect, read) pair, or None for none) capped at the time left."""
        if isinstance(timeout, tuple):
            return tuple(self.clamp(part) for part in timeout)
        left = self.left()
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
            left = min(left, timeout)
        return max(left, _MIN_TIMEOUT)

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock`'s connection down when the deadline comes (at once if it has)."""
        fd = sock.fileno()
        if fd < 0:
            return
        with self._lock:  # only local system calls under it
            if self._closed or fd in self._watched:
                return
            twin = socket.fromfd(fd, sock.family, sock.type)
            self._watched[fd] = twin
            if self._interrupted:
                _shut(twin)

    def _expire(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._interrupted = True
            for twin in self._watched.values():
                _shut(twin)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed by the other side
        pass
