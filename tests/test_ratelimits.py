"""The rate limiter's in-process storage: the library's counters, no thread per request (sentri/ratelimits.py)."""

from __future__ import annotations

import time

import limits.storage.memory
from limits import parse, storage, strategies

from sentri import ratelimits
from sentri.extensions import limiter


class _CountingTimer:
    """Stands in for threading.Timer in the limits library's module: counts what it would have started."""

    made = 0

    def __init__(self, interval, function):
        type(self).made += 1
        self.function = function

    def start(self):
        pass

    def is_alive(self):
        return False  # as the library's timer is, 10 ms after it started: it would make another


def test_memory_means_the_swept_storage_and_other_uris_pass_through():
    assert ratelimits.storage_uri("memory://") == "sentri-memory://"
    assert ratelimits.storage_uri("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert isinstance(storage.storage_from_string("sentri-memory://"), ratelimits.SweptMemoryStorage)


def test_the_served_app_limits_with_the_swept_storage(app_factory):
    app_factory(RATELIMIT_ENABLED=True)
    assert isinstance(limiter.storage, ratelimits.SweptMemoryStorage)


def test_hits_start_no_thread_and_limits_still_hold(monkeypatch):
    monkeypatch.setattr(limits.storage.memory.threading, "Timer", _CountingTimer)
    swept = ratelimits.SweptMemoryStorage()
    plain = limits.storage.memory.MemoryStorage()
    _CountingTimer.made = 0
    three = parse("3 per second")
    for store in (swept, plain):
        fixed, moving = strategies.FixedWindowRateLimiter(store), strategies.MovingWindowRateLimiter(store)
        assert [fixed.hit(three, "fixed") for _ in range(5)] == [True, True, True, False, False]
        assert [moving.hit(three, "moving") for _ in range(5)] == [True, True, True, False, False]
    # The library's own storage made a timer per hit; Sentri's made none.
    assert _CountingTimer.made == 10
    time.sleep(1.05)  # the windows end: both strategies allow again
    fixed, moving = strategies.FixedWindowRateLimiter(swept), strategies.MovingWindowRateLimiter(swept)
    assert fixed.hit(three, "fixed") and moving.hit(three, "moving")
    assert _CountingTimer.made == 10


def test_expired_entries_are_swept_inline_once_per_period(monkeypatch):
    clock = {"now": 1000.0}
    monkeypatch.setattr(ratelimits.time, "monotonic", lambda: clock["now"])
    swept = ratelimits.SweptMemoryStorage()
    one = parse("1 per second")
    limiter_ = strategies.MovingWindowRateLimiter(swept)
    for key in ("a", "b", "c"):
        assert limiter_.hit(one, key)
    assert sum(map(len, swept.events.values())) == 3 and swept.sweeps == 0
    monkeypatch.setattr(
        limits.storage.memory.time, "time", lambda: time.time_ns() / 1e9 + 5
    )  # their window ended
    clock["now"] += ratelimits.SWEEP_SECONDS
    assert limiter_.hit(one, "d")  # this hit sweeps: a's, b's and c's entries are gone, d's stays
    assert swept.sweeps == 1
    assert {key.split("/")[1]: len(entries) for key, entries in swept.events.items()} == {
        "a": 0,
        "b": 0,
        "c": 0,
        "d": 1,
    }
    assert limiter_.hit(one, "e") and swept.sweeps == 1  # not again within the period
