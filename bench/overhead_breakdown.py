"""Where a Sentri run's extra time per test goes, each part measured (used by run_overhead.py).

* From a served run's own rows (the server's SQLite): per test, the time its steps took, the executor's
  time around them (context, guard, vitals, close), and the gap from one test's end to the next one's start
  on the same worker (recording the result, claiming the next, building the job, waking the thread).
* In this process, with the same Chromium and Sentri's own code (Guard, vitals_probe, run_steps),
  interleaved test by test with the plain script's flow: context set-up beyond a plain context, the vitals
  injection and reads, and a trace's start and stop (paid only by traced attempts: retries and the re-run
  of a failure, SENTRI_TRACES=rerun).
* The database work per test (look for work, claim, build the job, record), on a scratch SQLite app.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask_migrate import upgrade
from playwright.async_api import async_playwright, expect

from sentri import create_app, origins, projects, testcases
from sentri.models import utcnow
from sentri.queue import claims, records
from sentri.runs.launch import launch
from sentri.runs.options import parse_options
from sentri.runtime import runtime
from sentri.worker import browsers, vitals_probe
from sentri.worker.guard import Guard, HostCache
from sentri.worker.jobs import JobBuilder
from sentri.worker.steps import run_steps
from tests.support.testfiles import page_test


@dataclass
class RunRows:
    """Medians (ms) over one served run's tests."""

    steps: float
    around_steps: float
    gap: float | None  # None when the run had one test per worker


def run_rows(database: Path, run_public_id: str) -> RunRows:
    """Read a finished run's rows from the server's SQLite file (read-only)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        run_id = int(run_public_id.removeprefix("RUN-"))
        rows = connection.execute(
            "SELECT started_at, finished_at, duration_ms, owner FROM results WHERE run_id = ? ORDER BY started_at",
            (run_id,),
        ).fetchall()
    parse = datetime.fromisoformat
    steps = [duration for _, _, duration, _ in rows]
    around = [
        (parse(end) - parse(start)).total_seconds() * 1000 - duration for start, end, duration, _ in rows
    ]
    # Consecutive tests: with parallelWorkers 1 one worker ran them all, one after the other.
    gaps = [(parse(rows[i + 1][0]) - parse(rows[i][1])).total_seconds() * 1000 for i in range(len(rows) - 1)]
    return RunRows(
        statistics.median(steps), statistics.median(around), statistics.median(gaps) if gaps else None
    )


def run_finished_at(database: Path, run_public_id: str) -> float | None:
    """When the run ended, as time.time() would have said (its finished_at: stored in UTC, to the microsecond)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        row = connection.execute(
            "SELECT finished_at FROM runs WHERE id = ?", (int(run_public_id.removeprefix("RUN-")),)
        ).fetchone()
    if not row or not row[0]:
        return None
    return datetime.fromisoformat(row[0]).replace(tzinfo=UTC).timestamp()


@dataclass
class Components:
    """Mean ms per test of each part, next to the plain flow's."""

    plain_setup: float
    sentri_setup: float
    vitals: float
    trace: float
    tests: int


async def _components(site_url: str, n_tests: int) -> Components:
    choice = browsers.find_chromium()
    plain_setup, sentri_setup, vitals, trace = [], [], [], []
    hosts = HostCache()
    networks = origins.parse_networks(origins.DEFAULT_BLOCKED_NETWORKS)  # what a served Sentri blocks
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**browsers.launch_options(choice))
        try:
            for n in range(1, n_tests + 1):
                started = time.perf_counter()
                context = await browser.new_context()
                page = await context.new_page()
                plain_setup.append(time.perf_counter() - started)
                await page.goto(f"{site_url}/page/{n}")
                await page.get_by_role("button", name=f"Go {n}", exact=True).click()
                await expect(page.locator("#out")).to_contain_text(f"Done {n}")
                await context.close()

                started = time.perf_counter()  # what executor._attempt does before the first step
                context = await browser.new_context(service_workers="block")
                guard = Guard(networks=networks, hosts=hosts, trusted=origins.TrustedOrigins([site_url], []))
                await guard.install(context, site_url)
                recorder = await vitals_probe.arm(context)
                page = await context.new_page()
                sentri_setup.append(time.perf_counter() - started)
                started = time.perf_counter()
                await context.tracing.start(screenshots=True, snapshots=True)
                traced_at = time.perf_counter() - started
                await run_steps(page, page_test(n, site_url)["steps"], site_url, guard=guard)
                at = time.perf_counter()  # the pages left pushed theirs; the last one is read
                await recorder.snapshot(page)
                vitals.append(time.perf_counter() - at)
                at = time.perf_counter()
                await context.tracing.stop()
                trace.append(traced_at + time.perf_counter() - at)
                await context.close()
        finally:
            await browser.close()
    mean_ms = lambda values: statistics.mean(values) * 1000  # noqa: E731
    return Components(mean_ms(plain_setup), mean_ms(sentri_setup), mean_ms(vitals), mean_ms(trace), n_tests)


def components(site_url: str, n_tests: int = 20) -> Components:
    return asyncio.run(_components(site_url, n_tests))


def database_ms_per_test(n_tests: int = 100, database_url: str | None = None) -> float:
    """Median ms of look + claim + build + record per test on a scratch instance (no browser): its SQLite,
    or the (empty, scratch) database at `database_url`."""
    with tempfile.TemporaryDirectory(prefix="sentri-bench-db-") as tmp:
        app = create_app(
            {
                "TESTING": True,
                "SENTRI_INSTANCE_PATH": tmp,
                "SENTRI_SECRET_KEY": "b" * 40,
                "SENTRI_DEMO": False,
                "RATELIMIT_ENABLED": False,
                "SENTRI_MAX_BROWSERS": 1,
                **({"SENTRI_DATABASE_URL": database_url} if database_url else {}),
            }
        )
        engine = runtime(app).engine
        engine.stopping = True  # its workers never start: this loop claims the rows itself
        with app.app_context():
            upgrade()
            project = projects.create("Bench", "http://127.0.0.1:9")
            for i in range(n_tests):
                test = testcases.create(
                    project, {"name": f"t{i}", "steps": [{"action": "goto", "url": f"/p/{i}"}]}
                )
                testcases.review(test, "approve")
            launch(project, parse_options({}), source="api", triggered_by="bench")
        builder = JobBuilder(app)
        outcome = {
            "status": "passed",
            "error": None,
            "failing_step": None,
            "duration_ms": 100,
            "flaky": False,
            "attempts": [{"status": "passed", "error": None, "failingStep": None, "durationMs": 100}],
            "base_url": "http://127.0.0.1:9",
            "screenshot": None,
            "trace": None,
            "vitals": [{"url": "http://127.0.0.1:9/p", "lcp": 120.0, "cls": 0.0, "inp": 16.0, "ttfb": 3.0}],
        }
        times = []
        for _ in range(n_tests):
            started = time.perf_counter()
            with app.app_context():
                claims.has_work()
                claim = claims.claim("bench-node", 15)
            with app.app_context():
                builder.build(claim)
            with app.app_context():
                records.record(claim, {**outcome, "started_at": utcnow(), "finished_at": utcnow()})
            times.append(time.perf_counter() - started)
        runtime(app).hooks.shutdown(5)
        engine.shutdown(0)
        return statistics.median(times) * 1000
