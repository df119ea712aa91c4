"""What this process counts for Prometheus, and the text GET /metrics answers with.

The instruments below are process-local (prometheus_client's default registry, made on first use): each call site is one
line, `metrics.observe_test(status, seconds)` and the like. What is true of the whole deployment (runs,
queued tests, browser slots) is not counted here but read at scrape time by collectors the caller passes
to `exposition` (monitoring.py), so every replica reports the same numbers for it.

Without PROMETHEUS_MULTIPROC_DIR, every process exposes its own counters: scrape every replica and sum
in PromQL. With it (set before the processes start, to an emptied directory all of them share, as
prometheus_client's multiprocess mode requires), the counters and histograms of every process on that
host are written there and any one process answers with their sum (MultiProcessCollector); the
scrape-time collectors still run once, in the process answering, so nothing is counted twice. The
default registry's process and garbage-collector metrics are then left out: they cannot be summed.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ParamSpec

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
log = logging.getLogger(__name__)
P = ParamSpec("P")

# The label values each instrument is known to take. A child exists (and is exposed) only once .labels() made
# it: made with the instruments, each is a 0 from the first scrape, so an alert on a rate of failures sees 0,
# not "no data".
CALLBACK_OUTCOMES = ("delivered", "rejected", "failed", "refused", "dropped")
GITHUB_KINDS, GITHUB_OUTCOMES = ("comment", "status"), ("posted", "failed")
TEST_STATUSES = ("passed", "failed")


@dataclass(frozen=True)
class Instruments:
    test_duration: Histogram
    claim_duration: Histogram
    callbacks: Counter
    github_posts: Counter


_made: list[Instruments] = []  # at most one: the default registry refuses a second instrument of a name
_making = threading.Lock()


def instruments() -> Instruments:
    """This process's instruments, made on first use rather than at import (in multiprocess mode each one
    opens files under PROMETHEUS_MULTIPROC_DIR, which the configuration checks first)."""
    if _made:
        return _made[0]
    with _making:
        if not _made:
            _made.append(_make())
    return _made[0]


def _make() -> Instruments:
    made = Instruments(
        test_duration=Histogram(
            "sentri_test_duration_seconds",
            "How long a test took, all its attempts together, when its outcome was recorded.",
            ["status"],
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
        ),
        claim_duration=Histogram(
            "sentri_claim_duration_seconds",
            "How long one claim of the next queued test took (the write lock included).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
        ),
        callbacks=Counter(
            "sentri_callbacks",
            "Run callbacks by outcome: delivered (2xx), rejected (another answer), failed "
            "(no answer in time), refused (SSRF rules), dropped (too many pending, or the server stopping).",
            ["outcome"],
        ),
        github_posts=Counter(
            "sentri_github_posts",
            "Posts to GitHub by kind (comment, status) and outcome (posted, failed).",
            ["kind", "outcome"],
        ),
    )
    for outcome in CALLBACK_OUTCOMES:
        made.callbacks.labels(outcome=outcome)
    for kind in GITHUB_KINDS:
        for outcome in GITHUB_OUTCOMES:
            made.github_posts.labels(kind=kind, outcome=outcome)
    for status in TEST_STATUSES:
        made.test_duration.labels(status=status)
    return made


def _never_raises(record: Callable[P, None]) -> Callable[P, None]:
    """Counting must never stop what it counts: a full disk under PROMETHEUS_MULTIPROC_DIR (every update is
    a write there) loses the figure, logged once, and the claim, outcome or callback goes on."""
    failed = []

    @functools.wraps(record)
    def safe(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            record(*args, **kwargs)
        except Exception:
            if not failed:
                failed.append(True)
                log.exception("a metric could not be recorded (later failures are not logged)")

    return safe


@_never_raises
def observe_test(status: str, seconds: float) -> None:
    """Count a test whose outcome was recorded, and how long it took."""
    instruments().test_duration.labels(status=status).observe(seconds)


@_never_raises
def observe_claim(seconds: float) -> None:
    """Count one claim() call and how long it took."""
    instruments().claim_duration.observe(seconds)


@_never_raises
def count_callback(outcome: str) -> None:
    """Count a run's callback by what became of it."""
    instruments().callbacks.labels(outcome=outcome).inc()


@_never_raises
def count_github(outcome: str, kind: str) -> None:
    """Count one post to GitHub (a comment or a commit status) by how it went."""
    instruments().github_posts.labels(kind=kind, outcome=outcome).inc()


def multiprocess_dir() -> str | None:
    """The directory prometheus_client's multiprocess mode writes to, when it is on."""
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(accept: str | None, collectors: Iterable[object] = ()) -> tuple[bytes, str]:
    """The scrape: this process's (or, in multiprocess mode, this host's) instruments, then `collectors`,
    in the format the Accept header asks for (OpenMetrics, or the classic text format by default); returns
    the body and its content type."""
    instruments()  # each counter is a 0 before its first count
    registry = CollectorRegistry()
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    for collector in collectors:
        registry.register(collector)
    encode, content_type = choose_encoder(accept or "")
    return encode(registry), content_type
