"""GET /metrics (Prometheus) and GET /health: off unless configured, the token, runs by status and verdict
as serialize.verdict() says, the queue, the process-local instruments at their call sites (claims, callbacks,
GitHub), browser slots and a degraded health from worker/remote.py, and multiprocess mode summing processes
while counting the database once. Scrapes are parsed with prometheus_client's own parser."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from sentri import config, create_app, metrics, projects, testcases
from sentri.config import ConfigError
from sentri.database import write
from sentri.extensions import db
from sentri.github import state as gh_state
from sentri.models import Run
from sentri.queue import claims, lifecycle, records
from sentri.reports.serialize import verdict
from sentri.runs.options import RunOptions
from sentri.runtime import callbacks, runtime
from sentri.worker import remote
from tests.conftest import both_databases
from tests.support.fake_github import FakeGitHub
from tests.support.runs import recorded_run
from tests.test_openapi import Described

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "metrics-token-for-tests-0123456789"
REPO, PR, SHA = "octo/shop", 7, "0123456789abcdef0123456789abcdef01234567"
GOOD, WEAK = "ghp_good" + "G" * 32, "ghs_weak" + "W" * 32
OK = [{"goto": "/ok"}]


def _scrape(client, headers=None) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape: (sample name, sorted labels) -> value."""
    response = client.get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    families = text_string_to_metric_families(response.get_data(as_text=True))
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in families for s in family.samples}


def _value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _approved_project(name: str, count: int):
    project = projects.create(name, "http://127.0.0.1:9")
    for index in range(count):
        testcases.review(testcases.create(project, {"name": f"{name} {index + 1}", "steps": OK}), "approve")
    return project


# -- switched on, and guarded --------------------------------------------------------------------------------


def test_metrics_are_a_json_404_unless_switched_on(client):
    response = client.get("/metrics")
    assert response.status_code == 404
    assert "SENTRI_METRICS" in response.get_json()["error"]


def test_the_settings_are_read_from_the_environment_as_their_types():
    parsed = config.from_environment({"SENTRI_METRICS": "true", "SENTRI_METRICS_TOKEN": TOKEN})
    assert parsed == {"SENTRI_METRICS": True, "SENTRI_METRICS_TOKEN": TOKEN}
    assert config.DEFAULTS["SENTRI_METRICS"] is False and config.DEFAULTS["SENTRI_METRICS_TOKEN"] is None


def test_a_configured_token_is_required_and_never_logged(app_factory, caplog):
    caplog.set_level(logging.DEBUG)
    client = app_factory(SENTRI_METRICS=True, SENTRI_METRICS_TOKEN=TOKEN).test_client()
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer é"},
    ):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert set(response.get_json()) == {"error"}
    samples = _scrape(client, {"Authorization": f"Bearer {TOKEN}"})
    assert _value(samples, "sentri_database_up") == 1
    assert TOKEN not in caplog.text


def test_without_a_token_the_scrape_is_open(app_factory):
    samples = _scrape(app_factory(SENTRI_METRICS=True).test_client())
    assert _value(samples, "sentri_tests_queued") == 0


# -- from the database ------------------------------------------------------------------------------------------


@both_databases
def test_runs_are_counted_by_status_and_by_the_verdict_the_api_gives(app_factory):
    app = app_factory(SENTRI_METRICS=True)
    with app.app_context():
        plain = projects.create("Plain", "http://127.0.0.1:9")
        recorded_run(plain, [{"status": "passed"}, {"status": "skipped"}])  # passed
        recorded_run(plain, [{"status": "passed"}, {"status": "failed"}])  # failed: a failed test
        recorded_run(plain, [{"status": "passed"}], status="aborted")
        recorded_run(plain, [{"status": "passed"}], status="failed")
        lenient = projects.create("Lenient", "http://127.0.0.1:9")
        with write():
            lenient.quality_gates = {"maxFailures": 1}
        recorded_run(lenient, [{"status": "failed"}, {"status": "passed"}])  # passed: the gate allows one
        strict = projects.create("Strict", "http://127.0.0.1:9")
        with write():
            strict.quality_gates = {"maxFlakyPct": 0}
        recorded_run(strict, [{"status": "passed", "flaky": True}])  # failed: the gate, with no failed test
        budgeted = projects.create("Budgeted", "http://127.0.0.1:9")
        with write():
            budgeted.vitals_budgets = {"lcp": 1000}
        page = {"url": "http://127.0.0.1:9/", "lcp": 400, "cls": 0, "inp": None, "ttfb": 5}
        recorded_run(budgeted, [{"status": "passed", "vitals": [page]}])  # passed
        recorded_run(
            budgeted, [{"status": "passed", "vitals": [{**page, "lcp": 4000}]}]
        )  # failed: the budget
        # Budgets configured and met: the spec's verdict does not look at the failed count then.
        recorded_run(budgeted, [{"status": "failed", "vitals": [page]}])
        queued = _approved_project("Queued", 3)
        lifecycle.start(queued, RunOptions(), source="cli", triggered_by="test")
        expected = Counter((run.status, verdict(run)) for run in db.session.scalars(select(Run)))
    assert expected == {
        ("completed", "passed"): 4,
        ("completed", "failed"): 3,
        ("aborted", "failed"): 1,
        ("failed", "failed"): 1,
        ("queued", "pending"): 1,
    }
    samples = _scrape(app.test_client())
    for status, verdict_ in [
        ("queued", "pending"),
        ("running", "pending"),
        ("completed", "passed"),
        ("completed", "failed"),
        ("failed", "failed"),
        ("aborted", "failed"),
    ]:
        assert _value(samples, "sentri_runs", status=status, verdict=verdict_) == expected[(status, verdict_)]
    assert _value(samples, "sentri_tests_queued") == 3
    assert _value(samples, "sentri_tests_running") == 0
    assert _value(samples, "sentri_runs_active") == 1


@both_databases
def test_claims_and_recorded_outcomes_move_the_queue_and_the_histograms(app_factory):
    app = app_factory(SENTRI_METRICS=True)
    client = app.test_client()
    before = _scrape(client)
    with app.app_context():
        run_id = lifecycle.start(
            _approved_project("Shop", 2), RunOptions(), source="cli", triggered_by="test"
        ).public_id
        first = claims.claim("host:1:test", 30)
    during = _scrape(client)
    assert (_value(during, "sentri_tests_queued"), _value(during, "sentri_tests_running")) == (1, 1)
    assert _value(during, "sentri_runs", status="running", verdict="pending") == 1
    with app.app_context():
        assert records.record(first, {"status": "passed", "attempts": [], "duration_ms": 1500})
        second = claims.claim("host:1:test", 30)
        assert records.record(second, {"status": "failed", "error": "no", "attempts": [], "duration_ms": 250})
        assert claims.claim("host:1:test", 30) is None
        assert lifecycle.get(run_id).status == "completed"
    after = _scrape(client)
    for status, seconds in (("passed", 1.5), ("failed", 0.25)):
        count = "sentri_test_duration_seconds_count"
        assert _value(after, count, status=status) - _value(before, count, status=status) == 1
        total = "sentri_test_duration_seconds_sum"
        assert _value(after, total, status=status) - _value(before, total, status=status) == pytest.approx(
            seconds
        )
    claimed = "sentri_claim_duration_seconds_count"
    assert _value(after, claimed) - _value(before, claimed) == 3
    assert (_value(after, "sentri_tests_queued"), _value(after, "sentri_tests_running")) == (0, 0)
    assert _value(after, "sentri_runs", status="completed", verdict="failed") == 1


def test_a_database_that_does_not_answer_is_a_zero_not_a_failed_scrape(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SENTRI_INSTANCE_PATH": str(tmp_path),
            "SENTRI_DEMO": False,
            "SENTRI_SECRET_KEY": "test-secret-key-not-for-production",
            "SENTRI_METRICS": True,
            "SENTRI_DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'sentri.db'}",
        }
    )
    client = app.test_client()
    samples = _scrape(client)
    assert _value(samples, "sentri_database_up") == 0
    assert ("sentri_tests_queued", ()) not in samples
    response = client.get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error" and body["database"]["ok"] is False and body["error"]


# -- process-local counters at their call sites ------------------------------------------------------------------


def test_callbacks_are_counted_by_outcome(app_factory, sink, site):
    app = app_factory(SENTRI_METRICS=True, SENTRI_CALLBACK_ALLOWLIST="127.0.0.1")
    runtime(app).hooks.shutdown(0)  # the test sends each callback itself, once
    client = app.test_client()
    before = _scrape(client)
    targets = {
        "delivered": sink.url,
        "rejected": f"{site}/hook",  # the fixture site answers a POST 501
        "failed": "http://127.0.0.1:9/hook",
        "refused": "http://10.11.12.13/hook",
    }
    with app.app_context():
        project = projects.create("Shop", "http://127.0.0.1:9")
        ids = {}
        for outcome, url in targets.items():
            run = recorded_run(project, [{"status": "passed"}])
            with write():
                db.session.get(Run, run.id).callback_url = url
            ids[outcome] = run.id
    for outcome, run_id in ids.items():
        assert callbacks.send_callback(app, run_id) is (outcome == "delivered")
    assert not callbacks.CallbackSender(app, max_pending=0).submit(ids["delivered"])
    after = _scrape(client)
    for outcome in ("delivered", "rejected", "failed", "refused", "dropped"):
        delta = _value(after, "sentri_callbacks_total", outcome=outcome) - _value(
            before, "sentri_callbacks_total", outcome=outcome
        )
        assert delta == 1, outcome


FRESH = """
import sys
from sentri import metrics
sys.stdout.write(metrics.exposition(None)[0].decode())
"""


@pytest.mark.parametrize("multiprocess", [False, True])
def test_labelled_counters_are_zero_before_anything_is_counted(tmp_path, multiprocess):
    """An alert on a rate of failed callbacks sees 0, not "no data", in a process that has sent none yet."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(metrics.MULTIPROC_ENV, None)
    if multiprocess:
        env[metrics.MULTIPROC_ENV] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", FRESH], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(done.stdout)
        for s in family.samples
    }
    for outcome in ("delivered", "rejected", "failed", "refused", "dropped"):
        assert samples[("sentri_callbacks_total", (("outcome", outcome),))] == 0, outcome
    for kind in ("comment", "status"):
        for outcome in ("posted", "failed"):
            assert samples[("sentri_github_posts_total", (("kind", kind), ("outcome", outcome)))] == 0
    for status in ("passed", "failed"):
        assert samples[("sentri_test_duration_seconds_count", (("status", status),))] == 0


@pytest.fixture
def fake_github():
    with FakeGitHub() as server:
        server.add_token(GOOD)
        server.add_token(WEAK, can_comment=False, can_status=False)
        server.add_repo(REPO, pulls=[PR])
        yield server


def _report(app, project_id: str, token: str) -> dict:
    """A finished run reported to GitHub with this token (pending status, then comment and final status)."""
    with app.app_context():
        run = recorded_run(projects.get(project_id), [{"status": "failed", "error": "Expected OK"}])
        with write():
            db.session.get(Run, run.id).integrations = {
                "github": gh_state.initial_state(REPO, PR, SHA, token)
            }
        reporter = runtime(app).github
        reporter.run_started(run.id, token)
        reporter.run_finished(run.id)
        deadline = time.monotonic() + 30
        while True:
            db.session.expire_all()
            github = db.session.get(Run, run.id).integrations["github"]
            db.session.commit()
            if github["state"] != "pending":
                return github
            assert time.monotonic() < deadline, github
            time.sleep(0.05)


def test_github_posts_are_counted_by_kind_and_outcome(app_factory, fake_github):
    app = app_factory(
        SENTRI_METRICS=True, SENTRI_GITHUB_API_URL=fake_github.url, SENTRI_GITHUB_RETRY_SECONDS=5
    )
    runtime(app).hooks.shutdown(0)
    client = app.test_client()
    with app.app_context():
        project = projects.create("Shop", "http://127.0.0.1:9").public_id

    def delta(after, before, kind, outcome):
        name = "sentri_github_posts_total"
        return _value(after, name, kind=kind, outcome=outcome) - _value(
            before, name, kind=kind, outcome=outcome
        )

    before = _scrape(client)
    assert _report(app, project, GOOD)["state"] == "posted"
    after = _scrape(client)
    assert delta(after, before, "status", "posted") == 2  # pending, then failure
    assert delta(after, before, "comment", "posted") == 1
    assert delta(after, before, "status", "failed") == delta(after, before, "comment", "failed") == 0
    assert _report(app, project, WEAK)["state"] == "failed"
    last = _scrape(client)
    assert delta(last, after, "status", "failed") == 1  # the refused pending status is not asked again
    assert delta(last, after, "comment", "failed") == 1
    assert delta(last, after, "status", "posted") == delta(last, after, "comment", "posted") == 0


# -- /health and the browser servers ---------------------------------------------------------------------------


def test_health_shows_the_database_and_the_queue(app, client):
    with app.app_context():
        lifecycle.start(_approved_project("Shop", 3), RunOptions(), source="cli", triggered_by="test")
        claims.claim("host:1:test", 30)
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "database": {"ok": True},
        "queue": {"queuedTests": 2, "runningTests": 1, "activeRuns": 1},
        # Local browsers: one row for this process's (SENTRI_MAX_BROWSERS is 1 here).
        "browserServers": [
            {"endpoint": "local", "state": "up", "capacity": 1, "busy": 0, "error": None, "checkedAt": None}
        ],
    }
    assert client.get("/healthz").get_json() == {"status": "ok"}  # the liveness probe is unchanged


def _servers(*rows):
    return lambda: [
        dict(zip(("endpoint", "state", "capacity", "busy", "error"), row, strict=True)) for row in rows
    ]


def test_health_is_degraded_when_no_browser_server_answers(client, monkeypatch, admin_headers):
    down = ("b1:3000", "down", 4, 0, "connection refused")
    monkeypatch.setattr(remote, "status", _servers(down, ("b2:3000", "down", 2, 0, "timed out")))
    body = Described(client)("GET", "/health", 200).get_json()  # as sentri/openapi.yaml says
    assert body["status"] == "degraded" and body["database"] == {"ok": True}
    # A stranger sees the state, never the addresses or errors of servers that take anyone's commands.
    assert [(row["endpoint"], row["state"], row["error"]) for row in body["browserServers"]] == [
        ("server 1", "down", None),
        ("server 2", "down", None),
    ]
    assert "b1:3000" not in client.get("/health", headers={"Authorization": "Bearer wrong"}).get_data(
        as_text=True
    )
    signed_in = client.get("/health", headers=admin_headers).get_json()
    assert [(row["endpoint"], row["error"]) for row in signed_in["browserServers"]] == [
        ("b1:3000", "connection refused"),
        ("b2:3000", "timed out"),
    ]
    monkeypatch.setattr(remote, "status", _servers(down, ("b2:3000", "up", 2, 1, None)))
    assert client.get("/health").get_json()["status"] == "ok"  # one answers: runs can go on


def test_a_browser_status_that_fails_degrades_health_but_not_the_scrape(app_factory, monkeypatch):
    def broken():
        raise RuntimeError("the browser servers' module broke")

    monkeypatch.setattr(remote, "status", broken)
    client = app_factory(SENTRI_METRICS=True).test_client()
    body = client.get("/health").get_json()
    assert body["status"] == "degraded" and body["browserServers"] == [] and body["browserServersError"]
    samples = _scrape(client)
    assert _value(samples, "sentri_database_up") == 1
    assert not [key for key in samples if key[0] == "sentri_browser_slots"]


def test_browser_slots_are_read_from_the_browser_servers_at_scrape_time(app_factory, monkeypatch):
    client = app_factory(SENTRI_METRICS=True).test_client()
    monkeypatch.setattr(
        remote,
        "status",
        _servers(
            ("local", "up", 4, 1, None),
            ("b1:3000", "up", 3, 3, None),
            ("b2:3000", "down", 2, 0, "connection refused"),
        ),
    )
    samples = _scrape(client)
    slots = {
        (labels[0][1], labels[1][1]): value
        for (name, labels), value in samples.items()
        if name == "sentri_browser_slots"
    }
    assert slots == {
        ("local", "busy"): 1,
        ("local", "free"): 3,
        ("b1:3000", "busy"): 3,
        ("b1:3000", "free"): 0,
        ("b2:3000", "busy"): 0,
        ("b2:3000", "free"): 0,
    }
    assert _value(samples, "sentri_browser_server_up", endpoint="b2:3000") == 0
    assert _value(samples, "sentri_browser_server_up", endpoint="local") == 1
    monkeypatch.setattr(remote, "status", _servers())
    assert not [key for key in _scrape(client) if key[0] == "sentri_browser_slots"]  # gone with its server


# -- several processes ---------------------------------------------------------------------------------------

CHILD = """
from sentri import metrics
metrics.observe_test("passed", 2.0)
metrics.count_callback("delivered")
"""

SCRAPER = """
import json, sys
from flask_migrate import upgrade
from sentri import create_app, metrics, projects
from tests.support.runs import recorded_run
from tests.test_openapi import Described

app = create_app({"TESTING": True, "SENTRI_INSTANCE_PATH": sys.argv[1], "SENTRI_DEMO": False,
                  "SENTRI_SECRET_KEY": "test-secret-key-not-for-production", "SENTRI_METRICS": True})
with app.app_context():
    upgrade()
    recorded_run(projects.create("Shop", "http://127.0.0.1:9"), [{"status": "passed"}])
metrics.observe_test("passed", 1.0)
sys.stdout.write(json.dumps(app.test_client().get("/metrics").get_data(as_text=True)))
"""


@pytest.mark.e2e
def test_multiprocess_mode_sums_the_processes_and_reads_the_database_once(tmp_path):
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared), "PYTHONPATH": str(ROOT)}
    children = [subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, env=env) for _ in range(2)]
    assert [child.wait(timeout=60) for child in children] == [0, 0]
    done = subprocess.run(
        [sys.executable, "-c", SCRAPER, str(tmp_path / "instance")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    families = list(text_string_to_metric_families(json.loads(done.stdout)))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}
    assert _value(samples, "sentri_test_duration_seconds_count", status="passed") == 3
    assert _value(samples, "sentri_test_duration_seconds_sum", status="passed") == 5.0
    assert _value(samples, "sentri_callbacks_total", outcome="delivered") == 2
    runs = [
        s
        for f in families
        if f.name == "sentri_runs"
        for s in f.samples
        if s.labels == {"status": "completed", "verdict": "passed"}
    ]
    assert [s.value for s in runs] == [1]  # once, from the process answering: never summed over processes
    assert not [f.name for f in families if f.name.startswith("process_")]  # per-process, not summable


def test_a_missing_multiprocess_folder_stops_the_server_at_start(app_factory, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR=.*missing is not a writable directory"):
        app_factory()


def test_a_metric_that_cannot_be_written_never_stops_what_it_counts(app, monkeypatch, caplog):
    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(metrics.instruments().claim_duration, "observe", full_disk)
    with app.app_context():
        lifecycle.start(_approved_project("Full", 1), RunOptions(), source="cli", triggered_by="test")
        assert claims.claim("host:1:test", 30) is not None  # the claim went through all the same
        assert claims.claim("host:1:test", 30) is None
    assert sum("could not be recorded" in r.getMessage() for r in caplog.records) == 1  # said once
