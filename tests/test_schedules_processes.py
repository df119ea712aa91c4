"""Two processes on one PostgreSQL database fire a `* * * * *` schedule at the same instants, minute after
minute: each occurrence starts one run, never two, and nobody records a skip. Each process is a real one
(tests/support/fire_at.py) with its own connections; the instants are given to both at once on stdin.

Needs SENTRI_TEST_DATABASE_URL (PostgreSQL)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import TEST_CONFIG
from tests.test_schedules import _approved_test, _due_at, _end_active_runs, _row, _runs, _schedule, at

PG_URL = os.environ.get("SENTRI_TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not PG_URL, reason="needs SENTRI_TEST_DATABASE_URL (PostgreSQL)"),
    pytest.mark.parametrize("database", ["postgresql"], indirect=True),
]
PATIENCE = 60.0


def _line(process: subprocess.Popen) -> str:
    """The next line the process writes (the test fails if none comes within PATIENCE seconds)."""
    ready, _, _ = select.select([process.stdout], [], [], PATIENCE)
    assert ready, f"process {process.pid} said nothing within {PATIENCE:g} s"
    line = process.stdout.readline()
    assert line, f"process {process.pid} ended: {process.stderr.read()[-2000:]}"
    return line.strip()


@pytest.fixture
def firers(tmp_path, database):
    env = {
        **os.environ,
        "SENTRI_DATABASE_URL": database,
        "SENTRI_SECRET_KEY": TEST_CONFIG["SENTRI_SECRET_KEY"],
        "PYTHONPATH": str(ROOT),
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.fire_at"],
            cwd=ROOT,
            text=True,
            env={**env, "SENTRI_INSTANCE_PATH": str(tmp_path / f"p{n}")},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(2)
    ]
    try:
        for process in processes:
            assert _line(process) == "ready"
        yield processes
    finally:
        for process in processes:
            process.stdin.close()
        deadline = time.monotonic() + 10
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _fire_in_both(processes, now) -> list[list[int]]:
    for process in processes:  # both are told before either is read: they fire at the same time
        process.stdin.write(now.isoformat() + "\n")
        process.stdin.flush()
    return [json.loads(_line(process)) for process in processes]


def test_two_processes_fire_a_minutely_schedule_once_per_minute(app, client, admin_headers, project, firers):
    _approved_test(client, admin_headers, project["id"])
    schedule = _schedule(client, admin_headers, project["id"], cron="* * * * *")
    _due_at(app, schedule["id"], at("2030-01-01T12:00:00"))
    started = []
    for minute in range(4):
        now = at("2030-01-01T12:00:01") + timedelta(minutes=minute)
        fired = _fire_in_both(firers, now)
        assert sum(len(ids) for ids in fired) == 1, (now, fired)
        started += [run_id for ids in fired for run_id in ids]
        later = _fire_in_both(firers, now + timedelta(seconds=30))  # the same minute, looked at again
        assert later == [[], []], (now, later)
        _end_active_runs(app)
    assert [r.id for r in _runs(app, schedule["id"])] == started and len(set(started)) == 4
    row = _row(app, schedule["id"])
    assert row.last_skip is None and row.next_run_at == at("2030-01-01T12:04:00")
