"""A run's end in two commits: the last test's write only takes the end, and the slower end work (gates,
budgets, the regression gate, flaky scores, quarantine) runs after that commit, holding no write lock while
it reads; readers see the run active until its verdict commits whole."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from sentri import projects, testcases
from sentri.database import write
from sentri.errors import Conflict
from sentri.extensions import db
from sentri.models import Run
from sentri.policies import history, quarantine
from sentri.queue import claims, ending, lifecycle, records, recovery
from sentri.reports.serialize import verdict
from sentri.runs.options import RunOptions
from sentri.runtime import runtime
from tests.conftest import both_databases


def _one_test_run(gates=None):
    project = projects.create("Shop", "https://shop.example.com")
    testcases.review(testcases.create(project, {"name": "home", "steps": [{"goto": "/"}]}), "approve")
    with write():
        project.quality_gates = gates
        project.vitals_budgets = {"lcp": 2500}
        project.quarantine_policy = {"autoFlakyScore": 0.5}
    run = lifecycle.start(project, RunOptions(), source="token", triggered_by="TOK-1")
    return run.id, claims.claim("here:1:test", 30)


class Onlooker:
    """Another connection to the same database: what it sees committed, and whether it could write now."""

    def __init__(self, run_id: int) -> None:
        url = db.engine.url
        self.sqlite = url.get_backend_name() == "sqlite"
        self.engine = create_engine(
            url,
            poolclass=NullPool,
            connect_args={"timeout": 0, "isolation_level": None} if self.sqlite else {},
        )
        self.run_id, self.seen = run_id, []

    def look(self, when: str) -> None:
        with self.engine.connect() as conn:
            run = conn.execute(
                text("SELECT status, notify_state, gate_result FROM runs WHERE id = :id"), {"id": self.run_id}
            ).one()
            result = conn.execute(
                text("SELECT status FROM results WHERE run_id = :id"), {"id": self.run_id}
            ).scalar()
            could_write = None
            if self.sqlite:  # SQLite has one write lock: is it free while the end work runs?
                try:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    conn.exec_driver_sql("ROLLBACK")
                    could_write = True
                except OperationalError:
                    could_write = False
            conn.rollback()
        self.seen.append((when, run.status, run.notify_state, run.gate_result, result, could_write))

    def close(self) -> None:
        self.engine.dispose()


def _watch(monkeypatch, onlooker: Onlooker) -> None:
    """Look from the other connection as the gates are read and as the flaky scores are written."""
    for module, name, when in (
        (ending, "web_vitals_result", "gates"),
        (history, "update_flaky_scores", "flaky scores"),
        (quarantine, "after_run", "quarantine"),
    ):
        real = getattr(module, name)

        def watched(*args, _real=real, _when=when):
            onlooker.look(_when)
            return _real(*args)

        monkeypatch.setattr(module, name, watched)


@both_databases
def test_the_last_tests_write_only_takes_the_end_and_the_verdict_commits_after_the_end_work(app, monkeypatch):
    with app.app_context():
        run_id, claim = _one_test_run(gates={"minPassRate": 100})
        onlooker = Onlooker(run_id)
        _watch(monkeypatch, onlooker)
        try:
            assert records.record(
                claim,
                {"status": "passed", "attempts": [{"attempt": 1, "status": "passed"}], "duration_ms": 12},
            )
            onlooker.look("after")
        finally:
            onlooker.close()
        run = db.session.get(Run, run_id)
        assert (run.status, run.notify_state in ("pending", "sent"), verdict(run)) == (
            "completed",
            True,
            "passed",
        )

    by_when = {when: rest for when, *rest in onlooker.seen}
    sqlite = onlooker.sqlite or None  # None: PostgreSQL, whose writers do not queue on one lock
    # While the gates are read: the last test's result and the taken end are committed, the run still
    # active to readers (its verdict pending), and the write lock free for other workers' claims.
    assert by_when["gates"] == ["running", "ending", None, "passed", sqlite]
    # Flaky scores and quarantine are written in the verdict's own transaction, after that commit.
    assert by_when["flaky scores"][:4] == ["running", "ending", None, "passed"]
    assert by_when["quarantine"][:4] == ["running", "ending", None, "passed"]
    after = by_when["after"]
    gates = json.loads(after[2]) if isinstance(after[2], str) else after[2]  # SQLite's JSON is text
    assert after[0] == "completed" and gates == {"passed": True, "violations": []}


@both_databases
def test_an_end_taken_by_a_process_that_died_is_finished_by_recovery(app, monkeypatch):
    with app.app_context():
        run_id, claim = _one_test_run(gates={"minPassRate": 100})
        monkeypatch.setattr(ending, "after_write", lambda then: None)  # the process dies after the commit
        assert records.record(claim, {"status": "failed", "attempts": [], "duration_ms": 5, "error": "boom"})
        run = db.session.get(Run, run_id)
        assert (run.status, run.notify_state, verdict(run)) == ("running", "ending", "pending")
        with pytest.raises(Conflict):  # an abort now is too late: the run has ended
            lifecycle.abort(run)
        monkeypatch.setattr(recovery, "STALE_SECONDS", -1.0)  # the end is stale at once
        assert run_id in recovery.recover(runtime(app).hooks)
        db.session.expire_all()
        run = db.session.get(Run, run_id)
        assert (run.status, verdict(run)) == ("completed", "failed")
