"""Idle processes on PostgreSQL sleep until a NOTIFY says there may be work (issue 32).

In-process, without browsers: an engine whose workers are not started, its listener started by hand, and a
second app on the same database standing for another process."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy.engine import make_url

from sentri import projects, testcases
from sentri.runs import lifecycle
from sentri.runs.options import RunOptions
from sentri.worker import engine as engine_module
from sentri.worker.listener import APPLICATION_NAME
from tests.conftest import PG_URL, _pg_admin_connect

on_postgresql = [pytest.mark.skipif(not PG_URL, reason="needs SENTRI_TEST_DATABASE_URL (PostgreSQL)"),
                 pytest.mark.parametrize("database", ["postgresql"], indirect=True)]
OK = [{"goto": "/ok"}]


def _project(app, base_url: str, tests: int = 2) -> str:
    with app.app_context():
        project = projects.create("Shop", base_url)
        for index in range(tests):
            testcases.review(testcases.create(project, {"name": f"test {index + 1}", "steps": OK}), "approve")
        return project.public_id


def _start_run(app, project_id: str, parallel: int = 1) -> int:
    with app.app_context():
        return lifecycle.start(projects.get(project_id), RunOptions(parallel_workers=parallel), source="cli",
                               triggered_by="test").id


def _listening(app):
    """The engine of `app` listening (its workers not started), the hour-long polls of the test in force."""
    engine = app.extensions["sentri_engine"]
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
        return {row[0] for row in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND "
                                               "application_name = %s", (name, APPLICATION_NAME))}


@pytest.fixture
def hour_long_polls(monkeypatch):
    """Whatever wakes an idle worker in the test, it is not its own poll."""
    monkeypatch.setattr(engine_module, "IDLE_POLL_SECONDS", 3600.0)
    monkeypatch.setattr(engine_module, "LISTENING_POLL_SECONDS", 3600.0)


@on_postgresql[0]
@on_postgresql[1]
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


@on_postgresql[0]
@on_postgresql[1]
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
