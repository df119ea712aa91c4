"""Run a claimed crawl on a browser worker's loop: the project's environment, variables and secrets apply,
a test tagged `setup` (a login) runs first and its cookies and storage become the crawl's, every page
goes through the same browser guard as a test's, and what comes back is masked like a test's result."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from playwright.async_api import Browser
from sqlalchemy import select

from .. import environments, origins, vault
from ..crawl.crawler import CrawlOptions, crawl
from ..crawl.models import Crawl
from ..crawl.settings import CrawlSettings
from ..extensions import db
from ..models import Project, Run, TestCase, utcnow
from ..settings import settings
from ..vault import SecretUnreadable
from .guard import HostCache, guarded_context
from .steps import StepFailed, run_steps

log = logging.getLogger(__name__)
SETUP_TAG = "setup"
PROGRESS_EVERY_SECONDS = 1.0


class CrawlUnusable(Exception):
    """The crawl cannot run here (an unreadable secret); str() says why."""


@dataclass
class CrawlPlan:
    """What a worker needs to run one crawl, read from the database before the browser starts."""

    crawl_id: int
    base_url: str
    settings: CrawlSettings
    browser: str = "chromium"
    device: str = "desktop"
    secret_values: list[str] = field(default_factory=list, repr=False)
    trusted: origins.TrustedOrigins | None = None
    blocked_networks: tuple = ()
    reach: tuple[str, tuple[str, ...]] = ("127.0.0.1", ())  # where its contexts' gates listen (egress.reach)
    setup: tuple[str, list[dict]] | None = None  # (TST-n, substituted steps) of the login to run first
    setup_error: str | None = None
    timeout_ms: int = 15_000
    device_descriptor: dict | None = None
    # The crawl's wall clock (time.monotonic()): SENTRI_CRAWL_MAX_SECONDS from its start, sooner when its
    # run's budgetMinutes ends first.
    deadline: float = float("inf")


def build_plan(app: Flask, crawl_id: int) -> CrawlPlan:
    """Read the crawl, its project and run, decrypt the environment's secrets (memory only)."""
    crawl_row = db.session.get(Crawl, crawl_id)
    project = db.session.get(Project, crawl_row.project_id)
    run = db.session.get(Run, crawl_row.run_id) if crawl_row.run_id else None
    options = (run.options if run else crawl_row.options) or {}
    try:
        _environment, values, secret_values = environments.for_options(project, options)
    except SecretUnreadable as exc:
        raise CrawlUnusable(str(exc)) from None
    plan = CrawlPlan(
        crawl_id=crawl_id,
        base_url=crawl_row.base_url,
        settings=CrawlSettings.from_json(crawl_row.options),
        browser=run.browser if run else "chromium",
        device=run.device if run else "desktop",
        secret_values=secret_values,
        trusted=origins.TrustedOrigins([crawl_row.base_url], project.allowed_origins),
        blocked_networks=settings(app).blocked_networks,
        timeout_ms=int(settings(app).step_timeout_ms),
    )
    seconds = float(settings(app).crawl_max_seconds)
    if run is not None and run.deadline is not None:
        seconds = min(seconds, max(0.0, (run.deadline - utcnow()).total_seconds()))
    plan.deadline = time.monotonic() + seconds
    setup = db.session.scalars(
        select(TestCase)
        .where(TestCase.project_id == project.id, TestCase.review_status == "approved")
        .order_by(TestCase.id)
    ).all()
    setup = next((test for test in setup if SETUP_TAG in (test.tags or [])), None)
    if setup is not None:
        try:
            plan.setup = (setup.public_id, environments.substitute(setup.steps, values))
        except environments.UndefinedVariable as exc:
            plan.setup_error = f"the setup test {setup.public_id} could not run: {exc}"
    return plan


async def _context(browser: Browser, plan: CrawlPlan, hosts: HostCache, storage: dict | None, **extra):
    return await guarded_context(browser, plan, hosts, {**(plan.device_descriptor or {}), **extra}, storage)


async def _setup_storage(
    browser: Browser, plan: CrawlPlan, hosts: HostCache
) -> tuple[dict | None, str | None]:
    """Run the setup test; return its context's cookies and storage (memory only), or why it failed."""
    if plan.setup is None:
        return None, plan.setup_error
    test_id, steps = plan.setup
    context, guard = await _context(browser, plan, hosts, None)
    try:
        page = await context.new_page()
        await run_steps(page, steps, plan.base_url, timeout_ms=plan.timeout_ms, guard=guard)
        return await context.storage_state(), None
    except StepFailed as exc:
        return None, f"the setup test {test_id} failed, the crawl went on without its login: {exc}"
    finally:
        try:
            await asyncio.wait_for(asyncio.shield(context.close()), timeout=10)
        except Exception:
            pass


async def execute_crawl(
    browser: Browser,
    plan: CrawlPlan,
    hosts: HostCache,
    progress: Callable[[dict], None],
    should_stop: Callable[[], bool],
) -> dict[str, Any]:
    """Crawl the plan's site; return the outcome's JSON form (secrets masked)."""
    storage, setup_note = await _setup_storage(browser, plan, hosts)

    async def new_context(**extra):
        context, _guard = await _context(browser, plan, hosts, storage, **extra)
        return context

    settings = plan.settings
    options = CrawlOptions(
        base_url=plan.base_url,
        max_pages=settings.max_pages,
        max_depth=settings.max_depth,
        extra_pages=settings.crawl_pages,
        respect_robots=settings.respect_robots,
        fill_forms=settings.fill_forms,
        concurrency=settings.concurrency,
        timeout_ms=plan.timeout_ms,
        deadline=plan.deadline,
        blocked_networks=plan.blocked_networks,
    )

    # The crawler keeps options.deadline itself: what it skips then is time_limit, not a stop asked for.
    outcome = (await crawl(new_context, options, progress=progress, should_stop=should_stop)).as_json()
    notes = [setup_note] if setup_note else []
    if time.monotonic() >= plan.deadline and not should_stop():
        notes.append(
            "the crawl reached its time limit (SENTRI_CRAWL_MAX_SECONDS, or the run's budgetMinutes) and "
            "kept the pages it had visited"
        )
    outcome["notes"] = [*notes, *(outcome.get("notes") or [])]
    return masked(outcome, plan.secret_values)


def masked(value: Any, secret_values: list[str]) -> Any:
    """The outcome with the run's secret values replaced by •••• in every text (keys included)."""
    if not secret_values:
        return value
    if isinstance(value, str):
        return vault.mask(value, secret_values)
    if isinstance(value, dict):
        return {masked(key, secret_values): masked(item, secret_values) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item, secret_values) for item in value]
    return value


class Throttled:
    """Call `write` with the latest counts at most once per interval (the crawl's live progress)."""

    def __init__(self, write: Callable[[dict], None], every: float = PROGRESS_EVERY_SECONDS) -> None:
        self.write, self.every, self.last = write, every, 0.0

    def __call__(self, counts: dict) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            try:
                self.write(dict(counts))
            except Exception:  # a database hiccup costs a progress update, never the crawl
                log.warning("could not write a crawl's progress", exc_info=True)
