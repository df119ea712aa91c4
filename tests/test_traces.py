"""When a Playwright trace is recorded (SENTRI_TRACES): by default a passing test records none and a
failed one is run once more, traced, so that it still leaves a trace `playwright show-trace` opens; with
"always" every attempt is traced, as before. Real Chromium, in-process server."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest

from sentri.config import ConfigError, from_environment
from sentri.queue import lifecycle
from sentri.runtime import runtime
from tests.test_trigger import _project, _trigger, _wait

pytestmark = pytest.mark.browser

OK = [{"action": "goto", "url": "/ok"}, {"action": "expect_text", "target": {"css": "h1"}, "text": "OK"}]
BROKEN = [{"action": "goto", "url": "/fail"}, {"action": "expect_title", "title": "OK", "timeout": 500}]
RERUN_PASSED = "(The trace is of a run made to record it, which passed.)"


def _flaky(key: str) -> list[dict]:
    """Fails on the first visit of /flaky/<key>, passes on every later one."""
    return [
        {"action": "goto", "url": f"/flaky/{key}"},
        {"action": "expect_title", "title": "Flaky OK", "timeout": 500},
    ]


def _results(app, client, project_id, token, body=None):
    final = _wait(client, _trigger(client, project_id, token, body).get_json()["statusUrl"], token)
    with app.app_context():
        run = lifecycle.get(final["runId"])
        return (
            final,
            {r.test_name: r for r in run.results},
            Path(app.instance_path) / "artifacts" / run.public_id,
        )


def _is_trace(app, relative: str) -> bool:
    names = zipfile.ZipFile(io.BytesIO((Path(app.instance_path) / relative).read_bytes())).namelist()
    return "trace.trace" in names and "trace.network" in names


def test_a_failure_is_run_again_for_its_trace_and_a_pass_records_nothing(app, client, site):
    project_id, token = _project(app, site, [OK, BROKEN, _flaky("once")])
    final, results, folder = _results(app, client, project_id, token)
    assert (final["passed"], final["failed"]) == (1, 2)
    ok, broken, flaky = results["test 1"], results["test 2"], results["test 3"]
    assert ok.trace is None and ok.screenshot is None
    # The failure keeps its own screenshot and the re-run's trace; the re-run is not an attempt.
    assert broken.screenshot and broken.trace and _is_trace(app, broken.trace)
    assert len(broken.attempts) == 1 and RERUN_PASSED not in broken.error
    # A failure that did not repeat stays a failure (retries 0 means no retry), and says so.
    assert flaky.status == "failed" and len(flaky.attempts) == 1 and flaky.error.endswith(RERUN_PASSED)
    assert flaky.trace and _is_trace(app, flaky.trace)
    kept = [Path(r.screenshot).name for r in (broken, flaky)] + [Path(r.trace).name for r in (broken, flaky)]
    assert sorted(p.name for p in folder.iterdir()) == sorted(kept)  # nothing else left behind


def test_a_retry_is_traced_itself_and_needs_no_extra_run(app, client, site):
    project_id, token = _project(app, site, [BROKEN, _flaky("retried")])
    _final, results, _ = _results(app, client, project_id, token, {"dialsConfig": {"retries": 1}})
    broken, flaky = results["test 1"], results["test 2"]
    assert [a["status"] for a in broken.attempts] == ["failed", "failed"]
    assert broken.trace.endswith("attempt2.zip") and _is_trace(app, broken.trace)
    assert flaky.status == "passed" and flaky.flaky and flaky.trace is None and flaky.screenshot is None


def test_always_traces_every_attempt_without_a_rerun(app_factory, site):
    app = app_factory(SENTRI_TRACES="always")
    client = app.test_client()
    project_id, token = _project(app, site, [_flaky("always")])
    final, results, _ = _results(app, client, project_id, token)
    result = results["test 1"]
    assert final["failed"] == 1 and result.trace.endswith("attempt1.zip") and _is_trace(app, result.trace)
    assert RERUN_PASSED not in result.error  # no second run: the first attempt's own trace


def test_an_unknown_trace_mode_is_refused_at_start():
    with pytest.raises(
        ConfigError, match="SENTRI_TRACES='sometimes' is not valid: must be one of rerun, always"
    ):
        from_environment({"SENTRI_TRACES": "sometimes"})
    assert from_environment({"SENTRI_TRACES": " Always "}) == {"SENTRI_TRACES": "always"}


def test_an_idle_worker_has_closed_its_last_tests_context(app, client, site):
    """Contexts are closed in the background, overlapping the next test; a worker with nothing left to do
    settles them first, so no page of a finished run stays open while it idles (flat memory). What may stay
    is the worker's spare: a fresh context with one blank page, opened for the next test."""
    project_id, token = _project(app, site, [OK, BROKEN])
    final, _, _ = _results(app, client, project_id, token)
    assert final["status"] == "completed"
    workers = runtime(app).engine._workers
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = [
            c
            for w in workers
            if w.browsers.local is not None
            for c in w.browsers.local.contexts
            if c is not w.spare.context
        ]
        open_contexts = len(left)
        if open_contexts == 0:
            break
        time.sleep(0.1)
    assert open_contexts == 0
    assert any(w.browsers.local is not None for w in workers)  # the browsers stay warm; only contexts went
    spares = [w.spare.context for w in workers if w.spare.context is not None]
    assert [page.url for context in spares for page in context.pages] == ["about:blank"] * len(spares)
