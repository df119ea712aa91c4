"""Tests on Playwright browser servers (SENTRI_BROWSER_SERVERS): real `playwright run-server` processes on
loopback, real Chromium behind them, real runs. Spread over two, one killed mid-run, all down, a server
of another Playwright version, and the browser guard still holding on Sentri's side of the connection."""

from __future__ import annotations

import asyncio
import base64
import time
import zipfile
from pathlib import Path

import pytest

from sentri import projects, testcases, tokens
from sentri.config import ConfigError
from sentri.worker import probe, remote
from sentri.worker.browsers import find_chromium
from tests.conftest import _make_user
from tests.support import HoldSite, StaticSite
from tests.support.browser_servers import BrowserServer

OK = [{"goto": "/ok"}, {"expect_text": {"css": "h1"}, "text": "OK"}]
SLOW = [{"goto": "/slow"}, {"expect_text": {"css": "h1"}, "text": "OK"}]


# -- the setting -------------------------------------------------------------------------------------


def test_the_setting_lists_endpoints_with_capacities():
    parsed = remote.parse_servers(" ws://a:3000#4, wss://b.example:443/pw ,ws://c:1 ")
    assert [(e.url, e.capacity) for e in parsed] == [
        ("ws://a:3000", 4),
        ("wss://b.example:443/pw", 1),
        ("ws://c:1", 1),
    ]
    assert remote.parse_servers("") == [] and remote.parse_servers(None) == []


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("http://a:3000", "not a ws:// or wss:// URL"),
        ("ws://a:3000#0", "capacity"),
        ("ws://a:3000#x", "capacity"),
        ("ws://a:1,ws://a:1", "listed twice"),
        ("ws://:3000", "not a ws://"),
    ],
)
def test_a_bad_setting_stops_the_server_at_start_with_what_is_wrong(app_factory, value, says):
    with pytest.raises(ConfigError) as refused:
        app_factory(SENTRI_BROWSER_SERVERS=value)
    assert "SENTRI_BROWSER_SERVERS" in str(refused.value) and says in str(refused.value)


def test_the_pool_offers_answering_endpoints_first_and_a_down_one_once_a_check_finds_it_up():
    pool = remote.ServerPool(remote.parse_servers("ws://a:1#2,ws://b:1#3"), secret="s")
    a, b = (e.key for e in pool.endpoints)
    assert pool.candidates() == [(a, 2, 1), (b, 3, 1)]  # neither checked yet
    pool.answered(pool.endpoints[0])
    why = pool.refused(
        pool.endpoints[1], "BrowserType.connect: WebSocket error: connect ECONNREFUSED 127.0.0.1:1"
    )
    assert why == "b:1: WebSocket error: connect ECONNREFUSED 127.0.0.1:1"
    assert pool.candidates() == [(a, 2, 0)]
    assert pool.candidates({"ws://a:1"}) == [(b, 3, 2)]  # every endpoint left is down: tried all the same
    assert not pool.all_down(set()) and pool.all_down({"ws://a:1"})
    row = pool.status({b: 1})[1]
    assert row.pop("checkedAt").endswith("Z")
    assert row == {"endpoint": "b:1", "state": "down", "capacity": 3, "busy": 1, "error": why}
    assert pool.status(None)[0]["busy"] is None  # the database did not say
    pool.answered(pool.endpoints[1])  # the next check finds it answering
    assert pool.candidates() == [(a, 2, 0), (b, 3, 0)]


def test_a_version_mismatch_is_said_with_both_versions():
    text = (
        "BrowserType.connect: WebSocket error: ws://x/ 428 Precondition Required\n║ Playwright version mismatch: ║\n"
        "║   - server version: v1.64  ║\n║   - client version: v1.65 ║"
    )
    said = remote.refusal(remote.Endpoint("ws://x/", 1), text)
    assert (
        "x:80 runs Playwright 1.64" in said and f"this Sentri Playwright {remote.PLAYWRIGHT_VERSION}" in said
    )


def test_a_check_opens_the_websocket_as_playwrights_client_does():
    request = probe._request("wss://us%40er:pa55@gw.example:8443/pw?token=t0ken").decode()
    lines = request.split("\r\n")
    assert lines[0] == "GET /pw?token=t0ken HTTP/1.1" and "Host: gw.example:8443" in lines
    assert f"User-Agent: Playwright/{remote.PLAYWRIGHT_VERSION} (Sentri health check)" in lines
    assert f"Authorization: Basic {base64.b64encode(b'us@er:pa55').decode()}" in lines
    assert request.endswith("\r\n\r\n") and "Upgrade: websocket" in lines
    assert probe._request("ws://b:3000").startswith(b"GET / HTTP/1.1\r\nHost: b:3000\r\n")


# -- real servers ------------------------------------------------------------------------------------


def _chromium() -> str | None:
    return find_chromium().executable  # None: Playwright's own, which the server finds itself


def _name(server: BrowserServer) -> str:
    """How Sentri shows a browser server: host:port."""
    return f"127.0.0.1:{server.port}"


def _app(app_factory, *servers, **extra):
    spec = ",".join(f"{server.url.rstrip('/')}#{capacity}" for server, capacity in servers)
    return app_factory(SENTRI_BROWSER_SERVERS=spec, SENTRI_BROWSER_SERVER_CHROMIUM=_chromium(), **extra)


def _project(app, site, tests):
    with app.app_context():
        project = projects.create("Remote", site)
        for index, steps in enumerate(tests):
            testcases.review(testcases.create(project, {"name": f"t{index}", "steps": steps}), "approve")
        _, token = tokens.create(project)
        return project.public_id, token


def _trigger(app, project_id, token, body=None):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post(f"/api/v1/projects/{project_id}/trigger", json=body or {}, headers=headers)
    assert response.status_code == 202, response.get_json()
    return client, headers, response.get_json()


def _wait(app, project_id, token, body=None, *, during=None):
    client, headers, started = _trigger(app, project_id, token, body)
    deadline = time.monotonic() + 120
    while (status := client.get(started["statusUrl"], headers=headers).get_json())["status"] == "running":
        if during is not None:
            during(status)
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    _, admin = _make_user(app, f"admin{time.monotonic_ns()}@example.com", "admin")
    return client.get(f"/api/v1/runs/{started['runId']}", headers=admin).get_json()


@pytest.mark.browser
def test_a_run_is_spread_over_two_browser_servers(app_factory, site):
    with BrowserServer() as one, BrowserServer() as two:
        app = _app(app_factory, (one, 2), (two, 2))
        project_id, token = _project(app, site, [SLOW] * 8)
        run = _wait(app, project_id, token, {"dialsConfig": {"parallelWorkers": 4}})
        assert (run["status"], run["passed"]) == ("completed", 8), run
        used = {attempt["browserServer"] for result in run["results"] for attempt in result["attempts"]}
        assert used == {_name(one), _name(two)}
        assert all(
            result["vitals"] for result in run["results"]
        )  # Web Vitals measured through the server too


@pytest.mark.browser
def test_a_failure_on_a_browser_server_leaves_its_screenshot_and_trace_here(app_factory, site):
    broken = [{"goto": "/fail"}, {"expect_text": {"css": "h1"}, "text": "OK", "timeout": 500}]
    with BrowserServer() as server:
        app = _app(app_factory, (server, 1))
        project_id, token = _project(app, site, [broken])
        run = _wait(app, project_id, token)
    (result,) = run["results"]
    assert result["status"] == "failed" and result["screenshotUrl"] and result["traceUrl"]
    folder = Path(app.instance_path) / "artifacts"
    shots, traces = list(folder.rglob("*.png")), list(folder.rglob("*.zip"))
    assert shots and shots[0].stat().st_size > 0 and traces and zipfile.is_zipfile(traces[0])


@pytest.mark.browser
def test_a_server_killed_mid_run_leaves_its_tests_to_the_other_and_the_run_ends(app_factory, site):
    with BrowserServer() as one, BrowserServer() as two:
        app = _app(app_factory, (one, 1), (two, 1))
        project_id, token = _project(app, site, [SLOW] * 10)
        killed = []

        def kill_one_once_running(status):
            if not killed and status["passed"] + status["failed"] >= 2:
                one.stop(kill=True)
                killed.append(True)

        run = _wait(
            app, project_id, token, {"dialsConfig": {"parallelWorkers": 2}}, during=kill_one_once_running
        )
        assert killed and run["status"] == "completed" and run["passed"] + run["failed"] == 10, run
        # After the kill, the tests went to the server that still answers.
        last = run["results"][-1]["attempts"][-1]
        assert last["status"] == "passed" and last["browserServer"] == _name(two)
        health = {row["endpoint"]: row for row in _status(app)}
        assert health[_name(one)]["state"] == "down" and health[_name(two)]["state"] == "up"


@pytest.mark.browser
def test_a_server_killed_under_a_test_is_a_lost_attempt_and_the_test_passes_on_the_other(app_factory):
    """Infrastructure is not the test's doing: with retries 0, the test whose browser server was killed under
    it shows a lost attempt (naming the server) and then a pass on the other server; the run passes."""
    held = [{"goto": "/hold"}, {"expect_text": {"css": "h1"}, "text": "Held"}]
    with HoldSite() as site, BrowserServer() as one, BrowserServer() as two:
        app = _app(app_factory, (one, 1), (two, 1))
        project_id, token = _project(app, site.url, [held, held])

        def kill_one_under_a_test(_status):
            if site.wait_for_holders(2, timeout=0) and not site._released.is_set():
                one.stop(kill=True)  # both tests are on their servers, held: one of them is on this one
                site.release()

        run = _wait(
            app,
            project_id,
            token,
            {"dialsConfig": {"parallelWorkers": 2, "retries": 0}},
            during=kill_one_under_a_test,
        )
        assert site._released.is_set()
        assert (run["status"], run["verdict"], run["passed"]) == ("completed", "passed", 2), run
        lost = [r["attempts"] for r in run["results"] if r["attempts"][0]["status"] == "lost"]
        assert len(lost) == 1, run["results"]
        [(first, second)] = lost
        assert first["browserServer"] == _name(one) and "the browser was lost under it" in first["error"]
        assert (second["status"], second["browserServer"]) == ("passed", _name(two))


def _status(app):
    with app.test_request_context():
        return remote.status()


@pytest.mark.browser
def test_a_restarted_server_is_used_again_without_restarting_sentri(app_factory, site):
    server = BrowserServer().start()
    try:
        app = _app(app_factory, (server, 1))
        project_id, token = _project(app, site, [OK])
        assert _wait(app, project_id, token)["status"] == "completed"
        server.stop(kill=True)
        down = _wait(app, project_id, token)
        assert down["status"] == "failed" and "No Playwright browser server took the test" in down["error"]
        server.start()  # the same port, a new process: its old connections are gone
        again = _wait(app, project_id, token)
        assert again["status"] == "completed" and again["passed"] == 1, again
        assert {row["endpoint"]: row["state"] for row in _status(app)} == {_name(server): "up"}
    finally:
        server.stop()


@pytest.mark.browser
def test_with_every_server_down_the_run_fails_at_once_naming_them_and_holds_no_lock(app_factory, site):
    gone = BrowserServer()  # never started: its port refuses
    app = _app(app_factory, (gone, 2))
    project_id, token = _project(app, site, [OK] * 3)
    run = _wait(app, project_id, token)
    assert run["status"] == "failed", run
    assert run["error"].startswith("The browser could not start: No Playwright browser server took the test")
    assert _name(gone) in run["error"] and "ECONNREFUSED" in run["error"]
    # Nothing is stuck: the project takes the next trigger.
    _trigger(app, project_id, token)


@pytest.mark.browser
def test_a_server_of_another_playwright_version_is_refused_with_both_versions(app_factory, site):
    with BrowserServer(previous=True) as old:
        app = _app(app_factory, (old, 1))
        project_id, token = _project(app, site, [OK])
        run = _wait(app, project_id, token)
    assert run["status"] == "failed"
    assert f"runs Playwright 1.64, this Sentri Playwright {remote.PLAYWRIGHT_VERSION}" in run["error"], run[
        "error"
    ]


@pytest.mark.browser
def test_a_check_tells_a_server_that_takes_the_connection_from_one_that_refuses_it():
    with BrowserServer() as server, BrowserServer(previous=True) as old:
        assert asyncio.run(probe.handshake(server.url)) is None
        endpoint = remote.Endpoint(old.url, 1)
        said = remote.refusal(endpoint, asyncio.run(probe.handshake(old.url)))
        assert said.startswith(f"{_name(old)} runs Playwright 1.64, this Sentri Playwright"), said
        secret = f"ws://user:s3cret@127.0.0.1:{server.port}/p4th?token=t0ken"  # a path this server refuses
        said = remote.refusal(remote.Endpoint(secret, 1), asyncio.run(probe.handshake(secret)))
        assert said == f"{_name(server)}: WebSocket error: {_name(server)} 400 Bad Request", said
    gone = BrowserServer()  # never started: its port refuses
    assert asyncio.run(probe.handshake(gone.url)) == f"WebSocket error: connect ECONNREFUSED {_name(gone)}"


@pytest.mark.browser
def test_an_idle_process_sees_a_server_go_down_and_come_back(app_factory, site):
    """Once its run is over no test needs the server: the checks alone tell, on their own clock."""
    server = BrowserServer().start()
    try:
        app = _app(app_factory, (server, 1), SENTRI_BROWSER_PROBE_SECONDS=1)
        project_id, token = _project(app, site, [OK])
        assert _wait(app, project_id, token)["status"] == "completed"

        def state_becomes(expected: str) -> None:
            deadline = time.monotonic() + 30
            while (row := _status(app)[0])["state"] != expected:
                assert time.monotonic() < deadline, row
                time.sleep(0.1)

        state_becomes("up")
        server.stop(kill=True)  # what the finding saw: an idle process said "up" for a dead server
        state_becomes("down")
        assert "ECONNREFUSED" in _status(app)[0]["error"] and _status(app)[0]["checkedAt"]
        server.start()
        state_becomes("up")
    finally:
        server.stop()


@pytest.mark.browser
def test_the_browser_guard_holds_on_sentris_side_of_the_connection(app_factory):
    metadata = StaticSite({"/latest/meta-data/": "<h1>instance-secret</h1>"}, host="127.0.0.2").start()
    page = f"""<!doctype html><title>Shop</title><h1>Shop</h1>
<script>fetch("{metadata.url}/latest/meta-data/").then(r => r.text()).then(t => document.title = t)</script>"""
    site = StaticSite({"/": page, "/plain": "<!doctype html><title>Plain</title><h1>Plain</h1>"}).start()
    try:
        with BrowserServer() as server:
            app = _app(
                app_factory, (server, 1), SENTRI_BROWSER_BLOCKED_NETWORKS="169.254.0.0/16,127.0.0.2/32"
            )
            project_id, token = _project(
                app,
                site.url,
                [
                    [{"goto": "/"}, {"expect_visible": {"css": "h1"}}],
                    [{"goto": "/plain"}, {"goto": f"{metadata.url}/latest/meta-data/"}],
                ],
            )
            run = _wait(app, project_id, token)
        page_test, direct = run["results"]
        assert (
            page_test["status"] == "failed"
            and "Sentri refused to load http://127.0.0.2:" in page_test["error"]
        )
        assert direct["status"] == "failed" and "blocked network 127.0.0.2/32" in direct["error"]
        assert metadata.hits == []  # the remote browser never reached the blocked address
        assert page_test["attempts"][0]["browserServer"] == _name(server)
    finally:
        metadata.stop()
        site.stop()
