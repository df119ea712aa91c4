"""Several Sentri processes on one PostgreSQL: each is a real `python app.py` on its own port and instance
folder, sharing the database (the queue) and a Redis (the rate limits). They accept triggers for each
other's projects, execute tests of the same run, recover a killed peer's tests, and leave a stopping
peer's neighbours alone.

Needs SENTRI_TEST_DATABASE_URL (PostgreSQL) and SENTRI_TEST_REDIS_URL, which .ci/run provides."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support import (
    CallbackSink,
    FixtureSite,
    SentriProcess,
    http_session,
    page_test,
    wait_test,
)

PG_URL = os.environ.get("SENTRI_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("SENTRI_TEST_REDIS_URL")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (PG_URL and REDIS_URL),
        reason="needs SENTRI_TEST_DATABASE_URL (PostgreSQL) and SENTRI_TEST_REDIS_URL",
    ),
]
LEASE = 3  # seconds: how long a killed process's tests wait before a live one recovers them


@pytest.fixture
def shared_database():
    import psycopg

    parts = urlsplit(PG_URL)
    admin = urlunsplit(parts._replace(scheme="postgresql"))
    name = f"sentri_mp_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url(worker_id):
    """SENTRI_TEST_REDIS_URL's server, on a database of this test process's own (xdist's gw0 -> 1, ...), so
    that emptying it never touches another process's test."""
    import redis

    number = 0 if worker_id == "master" else 1 + int(worker_id.removeprefix("gw")) % 15
    url = urlunsplit(urlsplit(REDIS_URL)._replace(path=f"/{number}"))
    client = redis.Redis.from_url(url)
    client.flushdb()  # the limits of earlier tests must not count here
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def site():
    with FixtureSite() as server:
        yield server


@pytest.fixture
def sink():
    with CallbackSink() as server:
        yield server


@pytest.fixture
def pair(tmp_path, shared_database, redis_url):
    """Two servers, A then B (started one after the other: each migrates at start)."""
    env = {
        "SENTRI_DATABASE_URL": shared_database,
        "SENTRI_RATELIMIT_STORAGE_URI": redis_url,
        "SENTRI_LEASE_SECONDS": str(LEASE),
        "SENTRI_SHUTDOWN_GRACE_SECONDS": "1",
    }
    a = SentriProcess(tmp_path / "a" / "instance", max_browsers=2, env=env).start()
    b = SentriProcess(tmp_path / "b" / "instance", max_browsers=2, env=env)
    b.admin_email, b.admin_password = a.admin_email, a.admin_password  # one database, one admin
    b.start()
    try:
        yield a, b
    finally:
        for server in (a, b):
            server.kill()
            server.http.close()


def _project(server: SentriProcess, site: FixtureSite, name: str, tests: list[dict]) -> tuple[str, str]:
    """A project with approved tests and a trigger token, over the API (faster than a CLI process each)."""
    http, headers = server.http, server.user_headers()
    project_id = http.post(
        f"{server.url}/api/v1/projects", json={"name": name, "baseUrl": site.url}, headers=headers, timeout=15
    ).json()["id"]
    base = f"{server.url}/api/v1/projects/{project_id}"
    for test in tests:
        created = http.post(f"{base}/tests", json=test, headers=headers, timeout=15)
        assert created.status_code == 201, created.text
        assert http.post(f"{base}/tests/{created.json()['id']}/approve", headers=headers, timeout=15).ok
    return project_id, http.post(f"{base}/trigger-tokens", json={}, headers=headers, timeout=15).json()[
        "token"
    ]


def _h(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _trigger(http, server, project_id, token, body=None):
    return http.post(
        f"{server.url}/api/v1/projects/{project_id}/trigger", headers=_h(token), json=body or {}, timeout=30
    )


def _final(http, server, project_id, token, run_id, timeout=120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = http.get(
            f"{server.url}/api/v1/projects/{project_id}/trigger/runs/{run_id}", headers=_h(token), timeout=15
        ).json()
        if body["status"] != "running":
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def _results(http, server, run_id) -> list[dict]:
    return http.get(f"{server.url}/api/v1/runs/{run_id}", headers=server.user_headers(), timeout=15).json()[
        "results"
    ]


def test_a_run_is_executed_by_both_processes(pair, site):
    a, b = pair
    http = http_session()
    project_id, token = _project(a, site, "shared", [page_test(f"p{n}", site.url) for n in range(40)])
    started = _trigger(http, a, project_id, token, {"dialsConfig": {"parallelWorkers": 4}})
    assert started.status_code == 202, started.text
    run_id = started.json()["runId"]
    final = _final(http, b, project_id, token, run_id)  # polled on the other process
    assert (final["status"], final["passed"], final["total"]) == ("completed", 40, 40), final
    executed_by = {r["executedBy"] for r in _results(http, b, run_id)}
    assert len(executed_by) == 2, executed_by  # both processes recorded some of its results


def test_a_run_that_fits_in_the_process_that_started_it_spreads_to_the_idle_one(pair, site):
    """parallelWorkers 2, two slots in each process: A, which starts the run, could run all of it, and did
    (its worker finishing a test claimed the next one long before B looked). A now leaves B its share: B,
    notified when A records a test, takes the next one (issue 33, finding 6)."""
    a, b = pair
    http = http_session()
    project_id, token = _project(a, site, "spread", [wait_test(f"s{n}", site.url, 1_000) for n in range(10)])
    run_id = _trigger(http, a, project_id, token, {"dialsConfig": {"parallelWorkers": 2}}).json()["runId"]
    final = _final(http, a, project_id, token, run_id)
    assert (final["status"], final["passed"]) == ("completed", 10), final
    ran = Counter(r["executedBy"].split(":")[1] for r in _results(http, a, run_id))
    assert ran[str(b.proc.pid)] >= 3, ran  # its share would be about half


def test_a_trigger_race_over_both_processes_starts_one_run(pair, site):
    a, b = pair
    # The run lasts until every trigger has been answered: a run that ended in between would rightly let a
    # late trigger start the next one (seen on a slow machine).
    slow = page_test("race", site.url)
    slow["steps"].append({"action": "wait", "ms": 15_000})
    project_id, token = _project(a, site, "race", [slow])
    barrier = threading.Barrier(20)
    codes: list[int] = []
    lock = threading.Lock()

    def fire(server):
        http = http_session()
        try:
            barrier.wait(timeout=30)
            response = _trigger(http, server, project_id, token)
            with lock:
                codes.append(response.status_code)
        finally:
            http.close()

    threads = [threading.Thread(target=fire, args=((a, b)[n % 2],)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(codes) == [202] + [409] * 19, codes


def test_trigger_rate_limits_are_shared_through_redis(tmp_path, shared_database, redis_url, site):
    env = {
        "SENTRI_DATABASE_URL": shared_database,
        "SENTRI_RATELIMIT_STORAGE_URI": redis_url,
        "SENTRI_TRIGGER_RATE_LIMIT": "3 per hour",
    }
    a = SentriProcess(tmp_path / "a" / "instance", max_browsers=1, env=env).start()
    b = SentriProcess(tmp_path / "b" / "instance", max_browsers=1, env=env).start()
    http = http_session()
    try:
        projects = [_project(a, site, f"limit{n}", [page_test(f"l{n}", site.url)]) for n in range(4)]
        codes = [
            _trigger(http, server, pid, tok).status_code
            for server, (pid, tok) in zip((a, b, a, b), projects, strict=True)
        ]
        assert codes == [202, 202, 202, 429], codes
    finally:
        a.kill()
        b.kill()


def test_a_killed_process_leaves_its_tests_to_the_other(pair, site, sink):
    a, b = pair
    http = http_session()
    tests = [wait_test(f"k{n}", site.url, 2_000) for n in range(8)]
    project_id, token = _project(a, site, "killed", tests)
    started = _trigger(
        http,
        a,
        project_id,
        token,
        {"dialsConfig": {"parallelWorkers": 4}, "callbackUrl": sink.hook_url("killed")},
    )
    run_id = started.json()["runId"]
    # Wait until A holds some of the run's tests, then crash it.
    deadline = time.monotonic() + 60
    while not any(
        r["status"] == "running" and r["executedBy"] and r["executedBy"].split(":")[1] == str(a.proc.pid)
        for r in _results(http, b, run_id)
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    a.kill()
    final = _final(http, b, project_id, token, run_id)
    assert final["status"] == "completed" and final["passed"] + final["failed"] == 8, final
    results = _results(http, b, run_id)
    assert not [r for r in results if r["status"] in ("queued", "running")]
    assert any(a_["status"] == "lost" for r in results for a_ in r["attempts"])  # A's test was recovered
    sink.wait_for_run(run_id, path="/killed", timeout=30)
    time.sleep(LEASE)
    assert len(sink.for_run(run_id, path="/killed")) == 1  # called back once


def test_starting_and_stopping_one_process_leaves_the_others_runs_alone(tmp_path, pair, site):
    a, b = pair
    http = http_session()
    a.stop()  # only B is serving
    project_id, token = _project(
        b, site, "untouched", [wait_test(f"u{n}", site.url, 1_500) for n in range(4)]
    )
    run_id = _trigger(http, b, project_id, token).json()["runId"]
    a.start()  # a process starting mid-run (its start-up recovery) ...
    a.stop()  # ... and stopping again (its shutdown) must not touch B's run
    final = _final(http, b, project_id, token, run_id)
    # A may have run some of its tests meanwhile (the queue is shared), and handed back what it had
    # when it stopped: the run is still B's to finish, and it finishes whole.
    assert (final["status"], final["passed"], final["error"]) == ("completed", 4, None), final
