"""Runs live in the database: every planned test is a row from the 202 on, a run ends exactly once in the
transaction that records its last row, late results are dropped, and nothing is stranded.

In-process with real Chromium; the multi-process tests (several real servers on one PostgreSQL) are in
test_multiprocess.py."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from sentri import projects, runs, testcases, tokens
from sentri.database import write
from sentri.extensions import db
from sentri.models import Result, Run, utcnow
from sentri.queue import claims, lifecycle, records
from sentri.runtime import runtime
from tests.conftest import both_databases
from tests.support.settings import override

pytestmark = pytest.mark.browser

OK = [{"goto": "/ok"}, {"expect_text": {"css": "h1"}, "text": "OK"}]
SLOW = [{"goto": "/ok"}, {"wait": 30000}]


def _project(app, base_url, tests, name="Shop"):
    with app.app_context():
        project = projects.create(name, base_url)
        ids = []
        for index, steps in enumerate(tests):
            test = testcases.create(project, {"name": f"test {index + 1}", "steps": steps})
            testcases.review(test, "approve")
            ids.append(test.public_id)
        _, plaintext = tokens.create(project)
        return project.public_id, plaintext, ids


def _h(token):
    return {"Authorization": f"Bearer {token}"}


def _wait(client, url, token, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url, headers=_h(token)).get_json()
        if body["status"] != "running":
            return body
        time.sleep(0.05)
    raise AssertionError(f"still running after {timeout} s: {body}")


def _wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _rows(app, run_id: str) -> list[Result]:
    with app.app_context():
        run = lifecycle.get(run_id)
        rows = list(
            db.session.scalars(select(Result).where(Result.run_id == run.id).order_by(Result.position))
        )
        db.session.expunge_all()
        return rows


def _consistent(body: dict) -> None:
    assert body["passed"] + body["failed"] + body["skipped"] == body["total"], body


# -- every planned test is a row; nothing-to-run runs end at once ------------------------------------------


@both_databases
def test_a_run_with_every_test_over_budget_completes_at_once_and_never_blocks(app, client, site, sink):
    """`budgetMinutes: 0.01` on a project without a smoke test once deadlocked the whole engine."""
    override(app, SENTRI_CALLBACK_ALLOWLIST="127.0.0.1")
    project_id, token, _ = _project(app, site, [OK, OK, OK])
    other_id, other_token, _ = _project(app, site, [OK], name="Other")
    response = client.post(
        f"/api/v1/projects/{project_id}/trigger",
        headers=_h(token),
        json={"budgetMinutes": 0.01, "callbackUrl": sink.url, "wait": True},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["verdict"], body["skipped"], body["total"]) == ("completed", "passed", 3, 3)
    assert {r.skip_reason for r in _rows(app, body["runId"])} == {"over_budget"}
    # The engine is free: the next triggers, on this project and another, run.
    again = client.post(f"/api/v1/projects/{project_id}/trigger", headers=_h(token), json={"wait": True})
    assert again.status_code == 200 and again.get_json()["passed"] == 3
    other = client.post(f"/api/v1/projects/{other_id}/trigger", headers=_h(other_token), json={"wait": True})
    assert other.status_code == 200
    callbacks = [json.loads(c["body"]) for c in sink.wait(1)]
    assert [c["runId"] for c in callbacks] == [body["runId"]]  # once
    assert runtime(app).hooks.waiters.__len__() == 0  # no waiter left behind


def test_a_run_whose_tests_are_all_deselected_completes_with_them_skipped(app, client, site):
    project_id, token, ids = _project(app, site, [OK, OK])
    response = client.post(
        f"/api/v1/projects/{project_id}/trigger",
        headers=_h(token),
        json={"selectionStrategy": "flaky", "wait": True},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["total"], body["skipped"], body["passed"]) == ("completed", 2, 2, 0)
    rows = _rows(app, body["runId"])
    assert [(r.status, r.skip_reason) for r in rows] == [("skipped", "deselected")] * 2
    # Selecting one of two: one row runs, the other is written skipped from the start.
    response = client.post(
        f"/api/v1/projects/{project_id}/trigger", headers=_h(token), json={"caseIds": [ids[1]], "wait": True}
    )
    body = response.get_json()
    assert (body["passed"], body["skipped"], body["total"]) == (1, 1, 2)
    assert [(r.test_name, r.status, r.skip_reason) for r in _rows(app, body["runId"])] == [
        ("test 2", "passed", None),
        ("test 1", "skipped", "deselected"),
    ]


def test_every_planned_test_is_a_row_from_the_202_on(app_factory, site):
    app = app_factory(SENTRI_MAX_BROWSERS=1)
    client = app.test_client()
    project_id, token, _ = _project(app, site, [SLOW, OK, OK])
    run = client.post(f"/api/v1/projects/{project_id}/trigger", headers=_h(token)).get_json()
    rows = _rows(app, run["runId"])
    assert [r.position for r in rows] == [1, 2, 3]
    assert all(r.status in ("queued", "running") for r in rows)
    client.post(f"/api/v1/runs/{run['runId']}/abort", headers=_admin(app))
    _wait(client, run["statusUrl"], token)


def test_a_test_deleted_between_planning_and_start_is_skipped_and_counted(app_factory, site):
    app = app_factory(SENTRI_MAX_BROWSERS=1)
    client = app.test_client()
    slow = [{"goto": "/ok"}, {"wait": 1500}]
    project_id, token, ids = _project(app, site, [slow, OK, OK])
    run = client.post(f"/api/v1/projects/{project_id}/trigger", headers=_h(token)).get_json()
    with app.app_context():
        testcases.delete_test(testcases.get(projects.get(project_id), ids[2]))
    final = _wait(client, run["statusUrl"], token)
    _consistent(final)
    assert (final["passed"], final["skipped"], final["total"]) == (2, 1, 3)
    assert [r.skip_reason for r in _rows(app, run["runId"])] == [None, None, "deleted"]


# -- abort -------------------------------------------------------------------------------------------------


def test_abort_skips_queued_tests_at_once_and_the_workers_stop_theirs(app_factory, site, sink):
    """Two workers busy (one of them on a test that would hang for 30 s), a third test queued behind
    them: the abort answers with the queued one skipped, the workers see it within seconds."""
    app = app_factory(SENTRI_MAX_BROWSERS=2, SENTRI_CALLBACK_ALLOWLIST="127.0.0.1")
    client = app.test_client()
    project_id, token, _ = _project(app, site, [SLOW, SLOW, OK])
    run = client.post(
        f"/api/v1/projects/{project_id}/trigger",
        headers=_h(token),
        json={"dialsConfig": {"parallelWorkers": 2}, "callbackUrl": sink.url},
    ).get_json()
    _wait_for(lambda: [r.status for r in _rows(app, run["runId"])] == ["running", "running", "queued"])
    aborted = client.post(f"/api/v1/runs/{run['runId']}/abort", headers=_admin(app)).get_json()
    assert aborted["status"] == "running"  # its two tests are still being stopped
    assert [r["skipReason"] for r in aborted["results"]][2] == "aborted"
    final = _wait(client, run["statusUrl"], token, timeout=20)
    assert (final["status"], final["skipped"], final["total"]) == ("aborted", 3, 3)
    rows = _rows(app, run["runId"])
    with app.app_context():
        ended = lifecycle.get(run["runId"]).finished_at
    assert all(r.finished_at <= ended for r in rows)  # nothing was written after the end
    assert [json.loads(c["body"])["status"] for c in sink.wait(1)] == ["aborted"]


def test_a_late_result_is_dropped_and_never_counted(app, client, site, caplog):
    """An aborted run whose hung test's worker stopped renewing its lease ends without it; when that
    worker comes back with a result, the result must not land in the ended run."""
    project_id, _token, _ = _project(app, site, [OK, OK])
    with app.app_context():
        project = projects.get(project_id)
        run = lifecycle.start(project, runs.RunOptions(), source="cli", triggered_by="test")
        hung = claims.claim("hung-host:1:beef", 0)  # a lease that has already run out
        assert hung.run_id == run.id
        lifecycle.abort(run)
        assert lifecycle.get(run.public_id).status == "running"  # its hung test still holds it
        assert records.recover() == [run.id]
        ended = lifecycle.get(run.public_id)
        assert (ended.status, ended.skipped) == ("aborted", 2) and ended.notify_state in ("pending", "sent")
    caplog.set_level(logging.WARNING, logger="sentri.queue")
    with app.app_context():
        assert not records.record(hung, {"status": "passed", "attempts": [], "duration_ms": 5})
        counted = lifecycle.get(run.public_id)
        assert (counted.status, counted.passed, counted.skipped) == ("aborted", 0, 2)
    assert any("dropped" in record.getMessage() for record in caplog.records)


# -- nothing stranded ----------------------------------------------------------------------------------------


def test_a_failure_inside_the_start_leaves_no_run_and_after_it_the_run_stands(app, client, site, monkeypatch):
    project_id, token, _ = _project(app, site, [OK])
    real_add = db.session.add

    def failing_add(instance, *args, **kwargs):
        if isinstance(instance, Result):
            raise OSError("No space left on device")
        return real_add(instance, *args, **kwargs)

    monkeypatch.setattr(db.session, "add", failing_add)
    assert client.post(f"/api/v1/projects/{project_id}/trigger", headers=_h(token)).status_code == 500
    monkeypatch.undo()
    with app.app_context():
        assert db.session.scalar(select(func.count(Run.id))) == 0  # rolled back: the project is not locked
    reporter = runtime(app).github

    def broken_hand_over(*_args, **_kwargs):
        raise RuntimeError("the GitHub reporter's pool is gone")

    monkeypatch.setattr(reporter, "run_started", broken_hand_over)
    response = client.post(
        f"/api/v1/projects/{project_id}/trigger",
        headers=_h(token),
        json={"githubRepo": "octo/shop", "githubCommitSha": "a" * 40, "githubToken": "ghs_x", "wait": True},
    )
    assert response.status_code == 200 and response.get_json()["passed"] == 1


def test_rows_whose_lease_ran_out_are_recovered_once_then_failed(app_factory, site, sink):
    """A process died holding tests: any live process re-queues each once (the lost attempt recorded) and
    runs it; a test lost a second time fails. Both runs end and call back once each."""
    app = app_factory(SENTRI_CALLBACK_ALLOWLIST="127.0.0.1", SENTRI_LEASE_SECONDS=2)
    client = app.test_client()
    first_id, first_token, _ = _project(app, site, [OK])
    second_id, second_token, _ = _project(app, site, [OK], name="Second")
    with app.app_context():
        lost_once = [
            {
                "status": "lost",
                "error": "Lost: the worker running it stopped.",
                "failingStep": None,
                "durationMs": None,
            }
        ]
        for project_id, claims, attempts in ((first_id, 1, []), (second_id, 2, lost_once)):
            options = runs.RunOptions()
            options.callback_url = sink.url
            run = lifecycle.start(projects.get(project_id), options, source="cli", triggered_by="test")
            with write():  # what a process that died mid-test leaves behind
                db.session.execute(
                    update(Result)
                    .where(Result.run_id == run.id)
                    .values(
                        status="running",
                        owner="dead-host:4242:cafe",
                        claims=claims,
                        attempts=attempts,
                        lease_until=utcnow() - timedelta(seconds=1),
                    )
                )
                db.session.execute(update(Run).where(Run.id == run.id).values(status="running"))
    assert client.post(f"/api/v1/projects/{first_id}/trigger", headers=_h(first_token)).status_code == 409
    runtime(app).engine.wake()  # this process starts: its heartbeat recovers what the dead one left
    first = _wait(client, f"/api/v1/projects/{first_id}/trigger/runs/RUN-1", first_token, timeout=30)
    second = _wait(client, f"/api/v1/projects/{second_id}/trigger/runs/RUN-2", second_token, timeout=30)
    assert (first["status"], first["passed"]) == ("completed", 1)
    recovered = _rows(app, "RUN-1")[0]
    assert [a["status"] for a in recovered.attempts] == ["lost", "passed"] and recovered.claims == 2
    assert (second["status"], second["failed"]) == ("completed", 1)
    assert "the worker running it stopped (twice)" in _rows(app, "RUN-2")[0].error
    bodies = sorted(json.loads(c["body"])["runId"] for c in sink.wait(2))
    time.sleep(0.5)
    assert bodies == ["RUN-1", "RUN-2"] and len(sink.received) == 2
    assert client.post(f"/api/v1/projects/{first_id}/trigger", headers=_h(first_token)).status_code == 202


def test_parallel_workers_bound_a_run_however_many_workers_are_idle(app_factory, site):
    app = app_factory(SENTRI_MAX_BROWSERS=3)
    client = app.test_client()
    slow = [{"goto": "/ok"}, {"wait": 800}]
    project_id, token, _ = _project(app, site, [slow] * 5)
    run = client.post(
        f"/api/v1/projects/{project_id}/trigger",
        headers=_h(token),
        json={"dialsConfig": {"parallelWorkers": 2}},
    ).get_json()
    most = 0
    stop = threading.Event()

    def sample():
        nonlocal most
        with app.app_context():
            while not stop.is_set():
                running = db.session.scalar(select(func.count(Result.id)).where(Result.status == "running"))
                db.session.commit()
                most = max(most, running)
                time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        final = _wait(client, run["statusUrl"], token)
    finally:
        stop.set()
        sampler.join()
    assert final["passed"] == 5 and most == 2


def _admin(app) -> dict:
    from sentri import users
    from sentri.auth import issue_jwt

    with app.test_request_context():
        user = users.get_by_email("lifecycle@example.com") if _exists() else None
        user = user or users.create_user("lifecycle@example.com", "correct horse battery", role="admin")
        return {"Authorization": f"Bearer {issue_jwt(user)[0]}"}


def _exists() -> bool:
    from sentri.models import User

    return db.session.scalar(select(User.id).where(User.email == "lifecycle@example.com")) is not None


def test_a_stop_meant_for_a_finished_test_never_hits_the_next_one(app):
    """The heartbeat reads which rows to stop, then cancels them; meanwhile a worker may have recorded
    that row and claimed the next. Found by bench/trigger_fanout.py: the next test was cancelled as
    'lost', left running, and recovered only when its lease ran out."""
    import asyncio

    from sentri.worker.browser_worker import BrowserWorker

    worker = BrowserWorker(runtime(app).engine, 0)
    try:
        next_test = worker.loop.create_future()
        with worker._lock:
            worker.current = claims.Claim(2, 1, 2, 7, "next", "me", 1)
            worker._task = next_test
        worker.cancel("lost", 1)  # meant for row 1, which this worker has finished
        worker.loop.run_until_complete(asyncio.sleep(0))
        assert not next_test.cancelled() and worker._cancel_reason is None
        worker.cancel("stop", 2)
        worker.loop.run_until_complete(asyncio.sleep(0))
        assert next_test.cancelled() and worker._cancel_reason == "stop"
    finally:
        worker.loop.close()


def test_idle_workers_of_a_process_take_turns_looking_for_unannounced_work(app, site, monkeypatch):
    """Work another process queued is found by polling; the process polls once per interval, not once per
    idle worker, and a busy worker's claim that leaves nothing behind counts as a look. A wake() still
    ends every idle wait at once. (The engine is not started: no browser is launched here.)"""
    from sentri.runs.options import RunOptions
    from sentri.worker import engine as engine_module

    monkeypatch.setattr(engine_module, "IDLE_POLL_SECONDS", 3600.0)  # no turn comes by the clock here
    engine = runtime(app).engine
    engine._started = True  # as if started, without workers: this test claims by hand (wake() starts none)
    looks = []
    has_work = claims.has_work
    monkeypatch.setattr(claims, "has_work", lambda: looks.append(1) or has_work())

    def idle_wait():
        waiter = threading.Thread(target=engine.wait_idle, args=(engine.work_signal(),), daemon=True)
        waiter.start()
        waiter.join(timeout=0.3)  # one whose turn it is returns; the rest wait (for wake() here)
        return waiter

    first = idle_wait()
    assert not first.is_alive()  # the process has never looked: this worker's turn
    second = idle_wait()
    assert second.is_alive()  # the first one took the turn: no second poll of the database
    assert engine.claim() is None and len(looks) == 1  # the first one looks: nothing
    assert engine.next_look_in() > 0
    engine.wake()  # a run started in this process: every idle worker looks at once
    second.join(timeout=10)
    assert not second.is_alive()

    project_id, _, _ = _project(app, site, [OK, OK])
    engine._looked_at = float("-inf")  # as if nobody had looked yet
    with app.app_context():
        lifecycle.start(
            projects.get(project_id), RunOptions(parallel_workers=1), source="cli", triggered_by="test"
        )
    claim = engine.claim(look_first=False)  # a busy worker takes the next test: the run has no room for more
    assert claim is not None and not claim.more
    assert engine.next_look_in() > 0  # ...which is a look: idle workers wait their turn
    assert idle_wait().is_alive()
    engine.wake()
