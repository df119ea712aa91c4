"""Idle processes on PostgreSQL sleep until a NOTIFY says there may be work (issue 32), and a worker that
finishes a test leaves the run's next one to another process with room (issue 33, finding 6).

In-process, without browsers: an engine whose workers are not started, its listener started by hand, and a
second app on the same database standing for another process. The end-to-end side (two real servers
sharing a run) is in test_multiprocess.py."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from sentri import projects, testcases
from sentri.database import write
from sentri.extensions import db
from sentri.models import Node, Result, utcnow
from sentri.queue import lifecycle, spread
from sentri.runs.options import RunOptions
from sentri.runtime import runtime
from sentri.worker import engine as engine_module
from sentri.worker.listener import APPLICATION_NAME
from tests.conftest import PG_URL, _pg_admin_connect, both_databases

needs_postgresql = pytest.mark.skipif(not PG_URL, reason="needs SENTRI_TEST_DATABASE_URL (PostgreSQL)")
on_postgresql = pytest.mark.parametrize("database", ["postgresql"], indirect=True)
OK = [{"goto": "/ok"}]


def _project(app, base_url: str, tests: int = 2) -> str:
    with app.app_context():
        project = projects.create("Shop", base_url)
        for index in range(tests):
            testcases.review(testcases.create(project, {"name": f"test {index + 1}", "steps": OK}), "approve")
        return project.public_id


def _start_run(app, project_id: str, parallel: int = 1) -> int:
    with app.app_context():
        return lifecycle.start(
            projects.get(project_id), RunOptions(parallel_workers=parallel), source="cli", triggered_by="test"
        ).id


def _listening(app):
    """The engine of `app` listening (its workers not started), the hour-long polls of the test in force."""
    engine = runtime(app).engine
    engine.listener.start()
    assert engine.listener.listening.wait(10)
    return engine


def _idle_wait(engine) -> threading.Thread:
    """An idle worker's wait, begun after a look that found nothing: no look is due for an hour."""
    assert engine.claim() is None
    waiter = threading.Thread(target=engine.wait_idle, args=(engine.work_signal(),), daemon=True)
    waiter.start()
    waiter.join(timeout=0.3)
    assert waiter.is_alive()  # nothing to look for, and nothing due
    return waiter


def _listener_pids(app) -> set[int]:
    name = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    with _pg_admin_connect() as conn:
        return {
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
                (name, APPLICATION_NAME),
            )
        }


@pytest.fixture
def hour_long_polls(monkeypatch):
    """Whatever wakes an idle worker in the test, it is not its own poll."""
    monkeypatch.setattr(engine_module, "IDLE_POLL_SECONDS", 3600.0)
    monkeypatch.setattr(engine_module, "LISTENING_POLL_SECONDS", 3600.0)


@needs_postgresql
@on_postgresql
def test_an_idle_process_wakes_for_another_processs_new_run_by_its_notice(app_factory, site, hour_long_polls):
    idle, other = app_factory(), app_factory()
    engine = _listening(idle)
    project_id = _project(other, site)
    waiter = _idle_wait(engine)
    _start_run(other, project_id)  # the other process's start wakes its own workers, never these
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    claim = engine.claim()
    assert claim is not None and claim.owner == engine.node_id  # the look finds the run


@needs_postgresql
@on_postgresql
def test_a_listener_whose_connection_died_listens_again(app_factory, site, hour_long_polls):
    idle, other = app_factory(), app_factory()
    engine = _listening(idle)
    project_id = _project(other, site)
    (killed,) = _listener_pids(idle)
    with _pg_admin_connect() as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (killed,))  # as a database restart or failover does
    deadline = time.monotonic() + 20
    while not (_listener_pids(idle) - {killed} and engine.listener.listening.is_set()):
        assert time.monotonic() < deadline, "the listener did not come back"
        time.sleep(0.05)
    waiter = _idle_wait(engine)
    _start_run(other, project_id)
    waiter.join(timeout=10)
    assert not waiter.is_alive()


@both_databases
def test_a_finishing_worker_leaves_the_next_test_only_past_its_share_and_to_a_live_process_with_room(
    app, site
):
    """parallelWorkers 4 over two live processes: a share of 2 each."""
    project_id = _project(app, site, tests=8)
    run_id = _start_run(app, project_id, parallel=4)
    with app.app_context():
        now = utcnow()
        with write():
            db.session.add_all(
                [
                    Node(id="me", host="h", pid=1, seen_at=now, slots=4),
                    Node(id="other", host="h", pid=2, seen_at=now, slots=2),
                ]
            )
        rows = list(
            db.session.scalars(select(Result.id).where(Result.run_id == run_id).order_by(Result.position))
        )

        def rows_are(ids, **values):
            with write():
                db.session.execute(update(Result).where(Result.id.in_(ids)).values(**values))

        def leaves() -> bool:
            return spread.leave_next("me", run_id, 10)

        rows_are(rows[:3], status="running", owner="me")
        assert leaves()  # three of the run's four places here, and the other process has two free slots
        rows_are(rows[3:5], status="running", owner="other")
        assert not leaves()  # its slots are full
        rows_are(rows[4:5], status="queued", owner=None)
        assert leaves()
        with write():
            db.session.execute(
                update(Node).where(Node.id == "other").values(seen_at=now - timedelta(minutes=1))
            )
        assert not leaves()  # gone (or stuck): nobody is there to take it
        with write():
            db.session.execute(update(Node).where(Node.id == "other").values(seen_at=utcnow()))
        rows_are(rows[1:3], status="passed")
        assert not leaves()  # one place here, less than its share: it keeps the run's next test
        rows_are(rows[1:3], status="running", owner="me")
        rows_are(rows[4:], status="skipped")
        assert not leaves()  # nothing queued to leave
