"""Turn a claimed row into the TestJob a browser worker executes.

What a run's tests share (base URL, {{NAME}} values, decrypted secrets, trusted origins, browser and
device, retries) is read once per run per process and kept in a small cache; the test's own steps are
read at claim time, so an edit made while the run waits is not half-applied: a run executes the steps
its tests have when each of them starts (as before), and a test deleted meanwhile is skipped."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from .. import environments, origins
from ..artifacts import run_folder
from ..extensions import db
from ..models import Project, Run, TestCase
from ..queue.claims import Claim
from ..review import recording
from ..settings import settings
from ..stores import artifact_store
from ..vault import SecretUnreadable
from .job_spec import TestJob

CACHED_RUNS = 32


class RunUnusable(Exception):
    """The run cannot execute any test here (a secret that cannot be decrypted); str() says why."""


@dataclass(frozen=True)
class RunContext:
    """What every test of one run shares."""

    base_url: str
    values: dict[str, str]
    secret_values: list[str]
    trusted: origins.TrustedOrigins
    browser: str
    device: str
    retries: int
    vitals_samples: int
    artifacts_dir: Path  # where its screenshots and traces are written first (the store's staging folder)
    artifacts: object  # the artifact store (stores/): the visual store's pictures go there
    heal: bool  # the project heals locators (not strict)


class JobBuilder:
    """Build TestJobs from claims, with each run's shared context cached (thread-safe)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._contexts: OrderedDict[int, RunContext] = OrderedDict()

    def _context(self, run_id: int) -> RunContext:
        with self._lock:
            if run_id in self._contexts:
                self._contexts.move_to_end(run_id)
                return self._contexts[run_id]
        context = self._read_context(run_id)
        with self._lock:
            self._contexts[run_id] = context
            while len(self._contexts) > CACHED_RUNS:
                self._contexts.popitem(last=False)
        return context

    def _read_context(self, run_id: int) -> RunContext:
        run = db.session.get(Run, run_id)
        project = db.session.get(Project, run.project_id)
        options = run.options or {}
        try:
            # Secrets are decrypted here, in memory, for this run only.
            environment, values, secret_values = environments.for_options(project, options)
        except SecretUnreadable as exc:
            raise RunUnusable(str(exc)) from None
        base_url = environments.site_url(project, environment, options.get("baseUrl"))
        dials = options.get("dialsConfig") or {}
        return RunContext(
            base_url=base_url,
            values=values,
            secret_values=secret_values,
            # Secrets are typed only into pages of the run's base URL origin and the project's allowedOrigins.
            trusted=origins.TrustedOrigins([base_url], project.allowed_origins),
            browser=options.get("browserProfile") or "chromium",
            device=options.get("device") or "desktop",
            retries=dials.get("retries", 0),
            vitals_samples=dials.get("vitalsSamples") or 1,
            artifacts_dir=run_folder(artifact_store(self.app).staging, run.public_id),
            artifacts=artifact_store(self.app),
            heal=project.heal_locators,
        )

    def build(self, claim: Claim) -> TestJob | None:
        """Return the job for a claimed row, or None when its test was deleted since the run was planned."""
        context = self._context(claim.run_id)
        review: dict = {}
        if claim.page_url is not None:  # a page check: load the page the crawl found
            test_id, name, steps, viewport, setup_error = (
                None,
                claim.test_name,
                [{"action": "goto", "url": claim.page_url}],
                None,
                None,
            )
        else:
            test = db.session.get(TestCase, claim.test_id) if claim.test_id else None
            if test is None:
                return None
            test_id, name, steps, viewport, setup_error = test.id, test.name, test.steps, test.viewport, None
            review = recording.for_job(test, context.browser, context.device, context.heal)
            try:
                steps = environments.substitute(test.steps, context.values)
            except environments.UndefinedVariable as exc:
                setup_error = (exc.index, str(exc))
        config = settings(self.app)
        return TestJob(
            run_id=claim.run_id,
            position=claim.position,
            test_id=test_id,
            name=name,
            steps=steps,
            viewport=viewport,
            base_url=context.base_url,
            page_check=claim.page_url is not None,
            browser=context.browser,
            device=context.device,
            retries=context.retries,
            vitals_samples=context.vitals_samples,
            timeout_s=float(config.test_timeout_seconds),
            step_timeout_ms=config.step_timeout_ms,
            artifacts_dir=context.artifacts_dir,
            secret_values=context.secret_values,
            trusted=context.trusted,
            blocked_networks=config.blocked_networks,
            setup_error=setup_error,
            trace_mode=config.traces,
            artifacts=context.artifacts,
            **review,
        )
