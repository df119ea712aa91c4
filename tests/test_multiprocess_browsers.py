"""Two Sentri replicas on one PostgreSQL sharing two real browser servers (`#2` each), as deploy/compose.yaml
runs them: a server's capacity holds over both replicas, counted by the server itself (the contexts it has
open at once, from its own log), and each replica's /health and /metrics see a killed server go down and a
restarted one come back while that replica is idle.

Needs SENTRI_TEST_DATABASE_URL (PostgreSQL)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sentri.worker.browsers import find_chromium
from tests.support import FixtureSite, SentriProcess, wait_test
from tests.support.browser_servers import BrowserServer, open_contexts
from tests.test_multiprocess import shared_database  # noqa: F401 (a fixture: one PostgreSQL database for both)

PG_URL = os.environ.get("SENTRI_TEST_DATABASE_URL")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(not PG_URL, reason="needs SENTRI_TEST_DATABASE_URL (PostgreSQL)"),
]
PROBE_SECONDS = 1  # SENTRI_BROWSER_PROBE_SECONDS: short, so that the polls below end soon
PATIENCE = 30.0  # how long a poll waits for what it expects before the test fails


@pytest.fixture
def site():
    with FixtureSite() as server:
        yield server


@pytest.fixture
def servers(tmp_path):
    one = BrowserServer(log=tmp_path / "one.log").start()
    two = BrowserServer(log=tmp_path / "two.log").start()
    try:
        yield one, two
    finally:
        one.stop()
        two.stop()


@pytest.fixture
def replicas(tmp_path, shared_database, servers):  # noqa: F811 (the fixture imported above)
    """Two replicas, A then B (each migrates at start), both with both servers at `#2`."""
    env = {
        "SENTRI_DATABASE_URL": shared_database,
        "SENTRI_METRICS": "true",
        "SENTRI_BROWSER_SERVERS": ",".join(f"{server.url.rstrip('/')}#2" for server in servers),
        "SENTRI_BROWSER_PROBE_SECONDS": str(PROBE_SECONDS),
        "SENTRI_LEASE_SECONDS": "5",
        "SENTRI_SHUTDOWN_GRACE_SECONDS": "1",
    }
    chromium = find_chromium().executable  # None: the servers launch Playwright's own
    if chromium:
        env["SENTRI_BROWSER_SERVER_CHROMIUM"] = chromium
    a = SentriProcess(tmp_path / "a" / "instance", env=env).start()
    b = SentriProcess(tmp_path / "b" / "instance", env=env)
    b.admin_email, b.admin_password = a.admin_email, a.admin_password  # one database, one admin
    try:
        b.start()
        yield a, b
    finally:
        for server in (a, b):
            server.kill()
            server.http.close()


def _name(server: BrowserServer) -> str:
    return f"127.0.0.1:{server.port}"


def _until(what: str, check: Callable[[], bool]) -> None:
    """Poll `check` until it holds (the test fails, saying `what`, if it never does)."""
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.2)


def _states(replica: SentriProcess) -> dict[str, dict]:
    body = replica.http.get(f"{replica.url}/health", headers=replica.user_headers(), timeout=10).json()
    return {row["endpoint"]: row for row in body["browserServers"]}


def _up_samples(replica: SentriProcess) -> dict[str, float]:
    text = replica.http.get(f"{replica.url}/metrics", timeout=10).text
    return {
        sample.labels["endpoint"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "sentri_browser_server_up"
    }


def _final(replica: SentriProcess, token: str, status_url: str) -> dict:
    """The status of a run once it ended."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 120
    while (status := replica.http.get(status_url, headers=headers, timeout=30).json())["status"] == "running":
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    return status


def test_two_replicas_never_put_more_tests_on_a_server_than_its_capacity(replicas, servers, site):
    a, b = replicas
    runs = []
    for replica, name in ((a, "first"), (b, "second")):
        tests = [wait_test(f"{name}{n}", site.url, 1_000) for n in range(8)]
        project_id, token = replica.new_project(name, site.url, tests)
        started = replica.http.post(
            f"{replica.url}/api/v1/projects/{project_id}/trigger",
            json={"dialsConfig": {"parallelWorkers": 8, "retries": 0}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert started.status_code == 202, started.text
        runs.append((replica, token, started.json()["statusUrl"]))
    for replica, token, status_url in runs:  # both runs at once: 16 tests for the 4 slots of two servers
        final = _final(replica, token, status_url)
        assert (final["status"], final["passed"]) == ("completed", 8), final
    # Counted by each server: the most contexts (one per running test) it ever had open at once.
    assert [open_contexts(server.log) for server in servers] == [2, 2]


def test_an_idle_replica_sees_a_killed_server_down_and_a_restarted_one_up(replicas, servers):
    a, b = replicas
    one, two = servers

    def everywhere(expected: dict[str, str]) -> Callable[[], bool]:
        return lambda: all(
            {name: _states(replica)[name]["state"] for name in expected} == expected for replica in (a, b)
        )

    _until("both replicas see both servers up", everywhere({_name(one): "up", _name(two): "up"}))
    checked = _states(a)[_name(two)]["checkedAt"]
    _until(
        "a replica checks again without being asked to",
        lambda: _states(a)[_name(two)]["checkedAt"] != checked,
    )
    one.stop(kill=True)
    _until("both replicas see the killed server down", everywhere({_name(one): "down", _name(two): "up"}))
    assert "ECONNREFUSED" in _states(b)[_name(one)]["error"]
    one.start()  # the same port, a new process
    _until("both replicas see the restarted server up", everywhere({_name(one): "up", _name(two): "up"}))
    one.stop(kill=True)
    two.stop(kill=True)
    # What the finding saw: summed over the replicas, the up gauge said 2 with both servers dead.
    _until(
        "no replica says a dead server is up",
        lambda: sum(value for replica in (a, b) for value in _up_samples(replica).values()) == 0,
    )
    two.start()
    _until(
        "each replica says the restarted server is up",
        lambda: [_up_samples(replica) for replica in (a, b)] == [{_name(one): 0, _name(two): 1}] * 2,
    )
