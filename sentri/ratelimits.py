"""The rate limiter's in-process storage (SENTRI_RATELIMIT_STORAGE_URI=memory://, the default).

The `limits` library's MemoryStorage keeps its counters in dicts, checks a counter's expiry when it is
read, and also schedules a sweep of expired entries 10 ms after every hit, on a new threading.Timer
whenever the last one has finished. Under CI's status polls that is one new thread per request: more
than half of a poll's time in a profile of the served process (bench/api_throughput.py). This subclass
keeps the library's counters and checks as they are, and runs the same sweep inline, at most once per
SWEEP_SECONDS: expired counters are still never counted (get() drops them on read), and a moving
window's old entries are still trimmed.
"""

from __future__ import annotations

import time

from limits.storage import MemoryStorage

SWEEP_SECONDS = 5.0


class SweptMemoryStorage(MemoryStorage):
    """MemoryStorage without a timer thread per hit; registered as `sentri-memory://`."""

    STORAGE_SCHEME = ["sentri-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.next_sweep = time.monotonic() + SWEEP_SECONDS
        self.sweeps = 0

    # The base class calls its private __schedule_expiry() from incr, decr and acquire_entry; its sweep is
    # __expire_events(). Both names are mangled, so this is where the override has to go.
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now < self.next_sweep:
            return
        self.next_sweep = (
            now + SWEEP_SECONDS
        )  # two threads may both sweep: harmless, the sweep is locked per key
        self.sweeps += 1
        self._MemoryStorage__expire_events()


def storage_uri(configured: str) -> str:
    """The storage Flask-Limiter is given: `memory://` means this module's storage."""
    return "sentri-memory://" if configured.strip() == "memory://" else configured
