"""Two Sentri replicas on one PostgreSQL sharing two real browser servers (`#2` each), as deploy/compose.yaml
runs them: a server's capacity holds over both replicas, counted by the server itself (the contexts it has
open at once, from its own log).

Needs SENTRI_TEST_DATABASE_URL (PostgreSQL)."""

from __future__ import annotations

import os
import time

import pytest

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
    env = {"SENTRI_DATABASE_URL": shared_database, "SENTRI_METRICS": "true",
           "SENTRI_BROWSER_SERVERS": ",".join(f"{server.url.rstrip('/')}#2" for server in servers),
           "SENTRI_LEASE_SECONDS": "5", "SENTRI_SHUTDOWN_GRACE_SECONDS": "1"}
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
        started = replica.http.post(f"{replica.url}/api/v1/projects/{project_id}/trigger", json={
            "dialsConfig": {"parallelWorkers": 8, "retries": 0}}, headers={"Authorization": f"Bearer {token}"},
            timeout=30)
        assert started.status_code == 202, started.text
        runs.append((replica, token, started.json()["statusUrl"]))
    for replica, token, status_url in runs:  # both runs at once: 16 tests for the 4 slots of two servers
        final = _final(replica, token, status_url)
        assert (final["status"], final["passed"]) == ("completed", 8), final
    # Counted by each server: the most contexts (one per running test) it ever had open at once.
    assert [open_contexts(server.log) for server in servers] == [2, 2]
