"""Does a trigger, or a run's end, cost more when its tests have a long history?

    python bench/history_cost.py [--short 10] [--long 1000] [--tests 20] [--repeats 15] [--postgresql]

For each history length, a fresh database (SQLite in a temporary instance folder, or with --postgresql a
throwaway database next to SENTRI_TEST_DATABASE_URL's) gets a project of `--tests` approved tests, gates,
Web Vitals budgets and the regression gate, an auto-quarantine policy, and that many earlier completed runs
of every test, written straight into the database (results with attempts and vitals, as real ones have;
one test in ten flaky now and then, one in five failing now and then). Then, `--repeats` times, in
this process and without a browser:

- trigger: lifecycle.start, what POST /trigger does once the request is parsed (selection, the planner's
  history, the rows), committed;
- run end: the run's rows recorded as passed, then the transaction that ends it (ending.end: gates,
  budgets, the regression gate, flaky scores, quarantine), committed.

The two histories take turns, so that both see the same machine. Prints the median of each for the short
and the long history and long / short: flat is close to 1.00. The short history is the baseline, measured
in the same run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, text, update

from sentri import create_app, projects, testcases
from sentri.database import write
from sentri.extensions import db
from sentri.models import Project, Result, Run, utcnow
from sentri.queue import ending, lifecycle
from sentri.runs.options import RunOptions
from sentri.runtime import runtime
from tests.conftest import TEST_CONFIG

BASE = "https://shop.example.com"


def _vitals(rng: random.Random, test: int) -> list[dict]:
    return [
        {
            "url": f"{BASE}/page/{test}",
            "lcp": rng.gauss(900, 80),
            "cls": 0.01,
            "ttfb": rng.gauss(120, 15),
            "fcp": rng.gauss(700, 60),
            "inp": None,
        }
    ]


def _attempts(rng: random.Random, status: str) -> list[dict]:
    attempt = {
        "attempt": 1,
        "status": status,
        "durationMs": rng.randint(400, 1600),
        "error": None if status == "passed" else "expect_text: 'OK' not found in h1 within 3000 ms",
    }
    return [attempt]


def _history(project_id: int, test_ids: list[int], runs: int, rng: random.Random) -> None:
    """`runs` completed runs of every test, straight into the database, oldest first."""
    start = utcnow() - timedelta(days=30)
    for first in range(0, runs, 100):
        batch = range(first, min(runs, first + 100))
        with write():
            rows = [
                {
                    "project_id": project_id,
                    "status": "completed",
                    "trigger_source": "token",
                    "triggered_by": "TOK-1",
                    "options": {},
                    "plan": [],
                    "total": len(test_ids),
                    "passed": len(test_ids),
                    "parallel": 2,
                    "branch": "main",
                    "created_at": start + timedelta(minutes=10 * n),
                    "started_at": start + timedelta(minutes=10 * n),
                    "finished_at": start + timedelta(minutes=10 * n + 2),
                    "gate_result": {"passed": True},
                }
                for n in batch
            ]
            run_ids = db.session.scalars(insert(Run).returning(Run.id), rows).all()
            results = []
            for run_id, n in zip(run_ids, batch, strict=True):
                for position, test_id in enumerate(test_ids, start=1):
                    failing = position % 5 == 0 and rng.random() < 0.2
                    flaky = position % 10 == 1 and rng.random() < 0.3
                    status = "failed" if failing else "passed"
                    when = start + timedelta(minutes=10 * n, seconds=position)
                    results.append(
                        {
                            "run_id": run_id,
                            "test_id": test_id,
                            "test_name": f"Test {position}",
                            "position": position,
                            "status": status,
                            "duration_ms": rng.randint(400, 1600),
                            "flaky": flaky and not failing,
                            "attempts": _attempts(rng, status),
                            "vitals": _vitals(rng, position),
                            "base_url": BASE,
                            "healed": [{"step": 2, "from": {"css": "#old"}, "to": {"role": "button"}}]
                            if rng.random() < 0.02
                            else None,
                            "error": None if status == "passed" else "expect_text failed",
                            "started_at": when,
                            "finished_at": when + timedelta(seconds=1),
                        }
                    )
            db.session.execute(insert(Result), results)


def _project(tests: int):
    project = projects.create("History", BASE)
    ids = []
    for n in range(1, tests + 1):
        steps = [
            {"goto": f"/page/{n}"},
            {"click": {"role": "button", "name": "Buy"}},
            {"expect_text": {"css": "h1"}, "text": "OK"},
        ]
        test = testcases.create(project, {"name": f"Test {n}", "steps": steps, "tags": ["shop"]})
        testcases.review(test, "approve")
        ids.append(test.id)
    with write():
        project.quality_gates = {"minPassRate": 90, "maxFailures": 2}
        project.vitals_budgets = {"lcp": 2500, "cls": 0.1}
        project.vitals_regression = {"lcp": {"maxIncreasePct": 10, "minIncreaseMs": 100}}
        project.quarantine_policy = {"autoFlakyScore": 0.9}
    return project, ids


def _clocks() -> tuple[float, float]:
    return time.perf_counter(), time.thread_time()


def _since(started: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - started[0], time.thread_time() - started[1]


def _one_run(project) -> tuple[tuple[float, float], tuple[float, float]]:
    """Trigger a run and end it; return the (wall, CPU) seconds of each."""
    started = _clocks()
    run = lifecycle.start(project, RunOptions(), source="token", triggered_by="TOK-1")
    triggered = _since(started)
    run_id, now = run.id, utcnow()
    rng = random.Random(run_id)
    with write():
        queued = db.session.execute(select(Result.id, Result.position).where(Result.run_id == run_id)).all()
        for result_id, position in queued:
            db.session.execute(
                update(Result)
                .where(Result.id == result_id)
                .values(
                    status="passed",
                    duration_ms=900,
                    attempts=_attempts(rng, "passed"),
                    vitals=_vitals(rng, position),
                    started_at=now,
                    finished_at=now,
                )
            )
        db.session.execute(
            update(Run).where(Run.id == run_id).values(status="running", started_at=now, passed=len(queued))
        )
    db.session.expire_all()
    started = _clocks()
    with write():
        ending.end(run_id)
    return triggered, _since(started)


def _postgresql_database() -> tuple[str, callable]:
    import psycopg

    parts = urlsplit(os.environ["SENTRI_TEST_DATABASE_URL"])
    admin = urlunsplit(parts._replace(scheme="postgresql"))
    name = f"sentri_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


class History:
    """A fresh database with a project and `runs` earlier runs of its tests, in an app of its own."""

    def __init__(self, runs: int, args) -> None:
        from flask_migrate import upgrade

        self.drop = None
        config = {**TEST_CONFIG, "SENTRI_INSTANCE_PATH": tempfile.mkdtemp(prefix="sentri-history-")}
        if args.postgresql:
            config["SENTRI_DATABASE_URL"], self.drop = _postgresql_database()
        self.app = create_app(config)
        with self.app.app_context():
            upgrade()
            project, test_ids = _project(args.tests)
            self.project_id = project.id
            _history(project.id, test_ids, runs, random.Random(runs))
            if args.postgresql:
                # What autovacuum does within a minute of a bulk load: without statistics, PostgreSQL plans
                # the history reads for empty tables.
                with write():
                    db.session.execute(text("ANALYZE"))
            for _ in range(2):  # warm-up: statement caches, the regression gate's first import of scipy
                _one_run(project)
        self.timings: list[tuple[tuple[float, float], tuple[float, float]]] = []

    def run(self) -> None:
        with self.app.app_context():
            self.timings.append(_one_run(db.session.get(Project, self.project_id)))
            db.session.remove()

    def median(self, step: int, clock: int) -> float:
        return statistics.median(timing[step][clock] for timing in self.timings)

    def close(self) -> None:
        with self.app.app_context():
            db.engine.dispose()
        runtime(self.app).stop(0)
        if self.drop is not None:
            self.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=10)
    parser.add_argument("--long", type=int, default=1000)
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--postgresql", action="store_true", help="a throwaway database on SENTRI_TEST_DATABASE_URL"
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the migrations' INFO lines, the hooks' shutdown warning
    histories = [History(args.short, args), History(args.long, args)]
    try:
        for _ in range(args.repeats):  # one after the other, so that both see the same machine
            for history in histories:
                history.run()
    finally:
        for history in histories:
            history.close()
    database = "PostgreSQL" if args.postgresql else "SQLite"
    short, long = histories
    print(
        f"{args.tests} tests, {database}, median of {args.repeats}; CPU: this process's "
        + ("(the PostgreSQL server's not counted)" if args.postgresql else "(SQLite's work included)")
    )
    print(f"{'':16} {f'{args.short} runs':>12} {f'{args.long} runs':>12} {'ratio':>7}")
    for step, name in enumerate(("trigger", "run end")):
        for clock, kind in enumerate(("wall", "CPU")):
            before, after = short.median(step, clock), long.median(step, clock)
            print(
                f"{name + ' ' + kind:16} {before * 1000:>9.1f} ms {after * 1000:>9.1f} ms {after / before:>7.2f}"
            )


if __name__ == "__main__":
    main()
