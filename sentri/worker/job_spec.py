"""One test's job as a worker runs it (TestJob: its steps, site, secrets, options and bounds), an attempt's
outcome, and the deadlines the executor and the engine hold it to; jobs.py builds a job from a claimed row."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .. import origins
from ..queue.outcome import Attempt, attempt
from ..states import ResultStatus
from .guard import carries_secret
from .steps import DEFAULT_STEP_TIMEOUT_MS

# After its steps, an attempt reads the last page's vitals, the hints, the storage for samples, the failure's
# screenshot and its trace: each bounded on its own, and all of them together by this.
WRAP_UP_SECONDS = 30.0


# Beyond what a job's own bounds allow (hard_deadline), the engine gives the job up (engine.py).
SLACK_SECONDS = 30.0


class BrowserLost(Exception):
    """The browser (or its server, or Playwright's driver) went away under an attempt: not the test's doing.
    `attempts` are the ones finished before it; str() says what was seen."""

    def __init__(self, reason: str, attempts: list[Attempt]) -> None:
        super().__init__(reason)
        self.attempts = attempts


@dataclass
class AttemptOutcome:
    """What one attempt found: its Attempt (as_attempt()), and what the test's result takes from the last one."""

    status: str = ResultStatus.PASSED
    error: str | None = None
    failing_step: int | None = None
    duration_ms: int = 0
    refused: bool = False  # the guard refused a request: no screenshot or trace is kept
    vitals: list[dict] | None = None
    snapshots: list[dict] | None = None
    healed: list[dict] = field(default_factory=list)
    hints: dict | None = None
    storage: dict | None = None  # cookies and storage the passing test ended with, for the vitals samples
    screenshot: str | None = None
    trace: str | None = None

    def as_attempt(self) -> Attempt:
        return attempt(self.status, self.error, self.failing_step, self.duration_ms)


@dataclass
class TestJob:
    """One test of one run, as a worker executes it."""

    __test__ = False  # not a pytest class

    run_id: int
    position: int
    test_id: int | None  # None for a page check
    name: str
    steps: list[dict]
    base_url: str
    viewport: dict | None = None
    retries: int = 0
    vitals_samples: int = 1  # page loads measured per visited page (the test's own, then fresh contexts)
    timeout_s: float = 60.0
    step_timeout_ms: int = DEFAULT_STEP_TIMEOUT_MS
    artifacts_dir: Path | None = None
    browser: str = "chromium"
    device: str = "desktop"
    device_descriptor: dict | None = None  # Playwright's descriptor for a mobile run, set by the worker
    secret_values: list[str] = field(default_factory=list, repr=False)  # masked in everything reported
    # Where secrets may be typed (the run's base URL origin and the project's allowedOrigins), and the
    # networks the browser must never reach (origins.parse_networks).
    trusted: origins.TrustedOrigins | None = None
    blocked_networks: tuple = origins.parse_networks(None)
    reach: tuple[str, tuple[str, ...]] = ("127.0.0.1", ())  # where its contexts' gates listen (egress.reach)
    setup_error: tuple[int, str] | None = None  # (step, message): e.g. an undefined {{NAME}}
    trace_mode: str = "rerun"  # SENTRI_TRACES: "rerun" (a failure is run again, traced) or "always"
    page_check: bool = False  # a crawl's page: it also fails on HTTP >= 400, exceptions, failed requests
    # expect_screenshot: the approved baselines {name@WxH: {"id", "sha256"}} for the run's browser and device,
    # the pictures a person rejected {name@WxH: [sha256]}, and the artifact store the pictures go to
    # (visual/store.py, stores/).
    baselines: dict[str, dict] = field(default_factory=dict)
    rejected_shots: dict[str, list[str]] = field(default_factory=dict)
    artifacts: Any = None  # where pictures are kept (sentri/stores): the instance folder or a bucket
    # Healing locators: on unless the project is strict; the last passing run's descriptions per step, the
    # targets a person rejected per step, and the target of a proposal waiting for review per step, tried
    # before the step's own (worker/healer.py).
    heal: bool = False
    remember: bool = False  # describe each target's element in this run (when the hints are missing or old)
    steps_hash: str = ""  # the version of the test's steps the hints belong to (review/recording.py)
    hints: dict[int, dict] = field(default_factory=dict)
    heal_refused: dict[int, list[dict]] = field(default_factory=dict)
    heal_pending: dict[int, dict] = field(default_factory=dict)
    # Set by the worker while the job runs, so that another thread can cancel it.
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    task: asyncio.Task | None = field(default=None, repr=False)
    current_step: int = 0

    @cached_property
    def uses_secrets(self) -> bool:
        """Tell whether any step holds a secret value (after {{NAME}} substitution)."""
        return any(carries_secret(step, self.secret_values) for step in self.steps)

    def traces(self, attempt: int) -> bool:
        """Tell whether this attempt records a Playwright trace. A trace records typed values and input
        snapshots and cannot be masked reliably, so a test that types a secret never keeps one (README).
        Tracing costs a passing test about a tenth of its time (bench/run_overhead.py), so by default only
        retries are traced (Playwright's "on-first-retry"), and a failure without one is run again for it."""
        return not self.uses_secrets and (self.trace_mode == "always" or attempt > 1)


def hard_deadline(job: TestJob) -> float:
    """Seconds after which a job has outlived every bound of its own: each attempt (and a trace re-run) its
    timeout plus its wrap-up, the extra vitals samples the timeout once more, and some slack. The engine gives a
    job up past it: its context is closed, the browser relaunched, its lease left to expire."""
    attempts = job.retries + 2
    return attempts * (job.timeout_s + WRAP_UP_SECONDS) + job.timeout_s + SLACK_SECONDS


def context_options(job: TestJob) -> dict[str, Any]:
    """Return new_context() options: the device's descriptor, then the test's own viewport."""
    options = dict(job.device_descriptor or {})
    if job.viewport:
        options["viewport"] = job.viewport
    return options
