"""End to end, across real process boundaries: Sentri runs as `python app.py`, set up with its CLI,
driven only over HTTP (requests, and the seed's own bash + curl + jq CI script), running real
Chromium against a fixture website, with callbacks landing on a local sink.

Everything binds 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import re
import subprocess
import textwrap
import threading
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest

from tests.conftest import both_databases
from tests.support import (
    CallbackSink,
    FixtureSite,
    SentriProcess,
    failing_test,
    http_session,
    page_test,
    wait_test,
    write_tests,
)
from tests.support.shared import seed

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SEED = "002_10c1e8aa5d59c1a2.txt"  # the product document with the GitHub Actions and GitLab CI examples

RUN_TIMEOUT = 60.0  # the longest any run here may take, in seconds
STATUS_FIELDS = {
    "id",
    "runId",
    "projectId",
    "status",
    "verdict",
    "passed",
    "failed",
    "skipped",
    "flaky",
    "total",
    "startedAt",
    "finishedAt",
    "duration",
    "error",
    "gateResult",
    "webVitalsResult",
    "url",
}
# One callback path per test: run ids repeat across the servers these tests start.
HOOK = {name: f"/hook/{name}" for name in ("passing", "failing", "restart", "abort")}
CALLBACK_FIELDS = {
    "runId",
    "status",
    "passed",
    "failed",
    "total",
    "error",
    "gateResult",
    "webVitalsResult",
    "verdict",
    "url",
}


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site():
    with FixtureSite() as server:
        yield server


@pytest.fixture(scope="module")
def sink():
    with CallbackSink() as server:
        yield server


@pytest.fixture(scope="module")
def sentri(tmp_path_factory):
    with SentriProcess(tmp_path_factory.mktemp("e2e") / "instance", max_browsers=2) as server:
        yield server


@pytest.fixture
def http():
    session = http_session()
    yield session
    session.close()


# -- helpers --------------------------------------------------------------------------------------


def new_project(
    sentri: SentriProcess, site: FixtureSite, name: str, tests: list[dict], *, cli: bool = False
) -> tuple[str, str]:
    """Create a project on the fixture site with approved `tests` and a trigger token: over the API, or with
    the CLI as an admin would (`flask projects create`, `tests import --approve`, `tokens create`)."""
    if not cli:
        return sentri.new_project(name, site.url, tests, token_label=f"{name}-ci")
    project_id = sentri.cli("projects", "create", name, "--base-url", site.url)
    assert re.fullmatch(r"PRJ-\d+", project_id), project_id
    path = write_tests(sentri.instance_path.parent / f"{name}.yaml", tests)
    assert sentri.cli("tests", "import", "--project", project_id, str(path), "--approve") == str(len(tests))
    token = sentri.cli("tokens", "create", "--project", project_id, "--name", f"{name}-ci")
    assert token.startswith("sentri_"), token
    return project_id, token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def trigger(http, sentri: SentriProcess, project_id: str, token: str, body: dict | None = None) -> dict:
    response = http.post(
        f"{sentri.url}/api/v1/projects/{project_id}/trigger",
        headers=bearer(token),
        json=body if body is not None else {},
        timeout=15,
    )
    assert response.status_code == 202, (response.status_code, response.text)
    started = response.json()
    assert re.fullmatch(r"RUN-\d+", started["runId"]), started
    assert (
        started["statusUrl"] == f"{sentri.url}/api/v1/projects/{project_id}/trigger/runs/{started['runId']}"
    )
    return started


def status_of(http, status_url: str, token: str) -> dict:
    response = http.get(status_url, headers=bearer(token), timeout=15)
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()


def wait_terminal(http, status_url: str, token: str, timeout: float = RUN_TIMEOUT) -> dict:
    """Poll the status URL like the seed does (until status != running), at most `timeout` s."""
    deadline = time.monotonic() + timeout
    body = status_of(http, status_url, token)
    while body["status"] == "running":
        if time.monotonic() > deadline:
            raise AssertionError(f"run still running after {timeout}s: {body}")
        time.sleep(0.2)
        body = status_of(http, status_url, token)
    return body


def full_run(http, sentri: SentriProcess, run_id: str) -> dict:
    response = http.get(f"{sentri.url}/api/v1/runs/{run_id}", headers=sentri.user_headers(), timeout=15)
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()


def by_name(run: dict) -> dict[str, dict]:
    return {result["testName"]: result for result in run["results"]}


def assert_status_shape(body: dict, project_id: str, run_id: str) -> None:
    assert set(body) >= STATUS_FIELDS, f"missing {STATUS_FIELDS - set(body)} in {body}"
    assert body["id"] == body["runId"] == run_id
    assert body["projectId"] == project_id
    assert isinstance(body["url"], str) and body["url"].startswith("http"), body["url"]


def assert_terminal_times(body: dict) -> None:
    assert body["startedAt"] and body["finishedAt"], body
    assert isinstance(body["duration"], (int, float)) and body["duration"] >= 0, body


# -- a passing run --------------------------------------------------------------------------------


def test_a_passing_run_reports_counts_results_and_calls_back(sentri, site, sink, http):
    tests = [page_test(f"pass{i}", site.url) for i in (1, 2, 3)]
    project_id, token = new_project(sentri, site, "passing", tests, cli=True)
    since = time.monotonic()

    started = trigger(http, sentri, project_id, token, {"callbackUrl": sink.hook_url(HOOK["passing"])})
    run_id = started["runId"]

    first = status_of(http, started["statusUrl"], token)
    assert_status_shape(first, project_id, run_id)
    assert first["status"] == "running" and first["verdict"] == "pending", first
    assert first.get("phase") in ("queued", "running"), first
    assert first["finishedAt"] is None

    final = wait_terminal(http, started["statusUrl"], token)
    assert_status_shape(final, project_id, run_id)
    assert final["status"] == "completed", final
    assert final["verdict"] == "passed"
    assert (final["passed"], final["failed"], final["skipped"], final["flaky"], final["total"]) == (
        3,
        0,
        0,
        0,
        3,
    )
    assert final["error"] is None and final["gateResult"] is None and final["webVitalsResult"] is None
    assert_terminal_times(final)

    run = full_run(http, sentri, run_id)
    for key in ("status", "verdict", "passed", "failed", "skipped", "total", "projectId"):
        assert run[key] == final[key], (key, run[key], final[key])
    results = by_name(run)
    assert set(results) == {t["name"] for t in tests}
    for result in results.values():
        assert re.fullmatch(r"TST-\d+", result["testId"]), result
        assert result["status"] == "passed", result
        assert result["error"] is None and result["failingStep"] is None and result["skipReason"] is None, (
            result
        )
        assert isinstance(result["durationMs"], int) and result["durationMs"] >= 0, result
        assert [a["status"] for a in result["attempts"]] == ["passed"], result
        assert result["flaky"] is False
        assert result["baseUrl"].rstrip("/") == site.url
    # The browser really went to the fixture site, once per test.
    paths = [r.path for r in site.requests_since(since, "/page/pass")]
    assert sorted(paths) == ["/page/pass1", "/page/pass2", "/page/pass3"], paths

    callback = sink.wait_for_run(run_id, path=HOOK["passing"], timeout=30)
    assert callback.headers.get("Content-Type", "").startswith("application/json"), callback.headers
    assert set(callback.body) >= CALLBACK_FIELDS, callback.body
    assert callback.body["status"] == "completed" and callback.body["verdict"] == "passed"
    assert (callback.body["passed"], callback.body["failed"], callback.body["total"]) == (3, 0, 3)
    assert callback.body["error"] is None
    assert callback.body["gateResult"] is None and callback.body["webVitalsResult"] is None
    assert callback.body["url"] == final["url"]
    time.sleep(0.5)
    assert len(sink.for_run(run_id, HOOK["passing"])) == 1, "one terminal state, one callback"


# -- a failing run ----------------------------------------------------------------------------------


def test_a_failing_test_is_reported_with_its_step_error_and_screenshot(sentri, site, sink, http):
    tests = [page_test("okay1", site.url), failing_test(site.url)]
    project_id, token = new_project(sentri, site, "failing", tests)

    started = trigger(http, sentri, project_id, token, {"callbackUrl": sink.hook_url(HOOK["failing"])})
    final = wait_terminal(http, started["statusUrl"], token)
    assert final["status"] == "completed", final  # the run itself did not break: seed semantics
    assert final["verdict"] == "failed"
    assert (final["passed"], final["failed"], final["skipped"], final["total"]) == (1, 1, 0, 2)
    assert final["error"] is None

    run = full_run(http, sentri, started["runId"])
    results = by_name(run)
    passed, failed = results["Page okay1 says done"], results["Fail page says done"]
    assert passed["status"] == "passed"
    assert failed["status"] == "failed", failed
    assert failed["failingStep"] == 3, failed
    assert isinstance(failed["error"], str) and failed["error"].strip(), failed
    assert [a["status"] for a in failed["attempts"]] == ["failed"], failed
    assert failed["attempts"][0]["error"], failed

    assert failed.get("screenshotUrl"), f"no screenshot for the failed result: {failed}"
    shot = http.get(
        urljoin(sentri.url + "/", failed["screenshotUrl"]), headers=sentri.user_headers(), timeout=15
    )
    assert shot.status_code == 200, (shot.status_code, shot.text[:300])
    assert shot.headers["Content-Type"].startswith("image/png"), shot.headers
    assert shot.content.startswith(b"\x89PNG\r\n\x1a\n")

    callback = sink.wait_for_run(started["runId"], path=HOOK["failing"], timeout=30)
    assert callback.body["status"] == "completed" and callback.body["verdict"] == "failed"
    assert (callback.body["passed"], callback.body["failed"], callback.body["total"]) == (1, 1, 2)


# -- the seed's GitHub Actions workflow, run by bash against the live server -------------------------------


def github_run_blocks(text: str) -> list[str]:
    """Return the `run: |` blocks of the seed's workflow, dedented, exactly as written."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = re.match(r"^(\s*)run: \|\s*$", lines[i])
        i += 1
        if not match:
            continue
        indent, body = len(match.group(1)), []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        blocks.append(textwrap.dedent("\n".join(body)).strip("\n") + "\n")
    return blocks


def substitute(script: str, replacements: dict[str, str]) -> str:
    for placeholder, value in replacements.items():
        assert placeholder in script, f"{placeholder!r} is no longer in the seed's script"
        script = script.replace(placeholder, value)
    assert "${{" not in script, script
    return script


def run_bash(script: str, workdir: Path, name: str, github_output: Path) -> subprocess.CompletedProcess:
    """Run a step the way GitHub Actions runs `run:` on Linux: bash --noprofile --norc -eo pipefail."""
    path = workdir / f"{name}.sh"
    path.write_text(script)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "GITHUB_OUTPUT": str(github_output),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=150,
    )


# The seed's gate and budget checks use jq's `//`, which treats `false` like `null`: as written they
# print "null" for `"passed": false` and never fail the build (echo '{"gateResult":{"passed":false}}' |
# jq -r '.gateResult.passed // "null"' prints null). JQ_FIX is the smallest correction; the test
# below shows both the seed's behaviour and the corrected script's.
JQ_FIX = {
    """jq -r '.gateResult.passed // "null"'""": """jq -r '.gateResult.passed | if . == null then "null" else tostring end'""",
    """jq -r '.webVitalsResult.passed // "null"'""": """jq -r '.webVitalsResult.passed | if . == null then "null" else tostring end'""",
}


def run_seed_workflow(
    sentri: SentriProcess, project_id: str, token: str, workdir: Path, *, fix_jq: bool = False
):
    """Run both `run:` blocks of the seed's workflow; return (block 1, block 2, outputs of block 1)."""
    trigger_block, wait_block = github_run_blocks(seed(SEED).read_text())
    github_output = workdir / "github_output"
    github_output.write_text("")
    first = run_bash(
        substitute(
            trigger_block,
            {
                "${{ secrets.SENTRI_TOKEN }}": token,
                "https://your-sentri-instance.com": sentri.url,
                # The seed's example project id, a placeholder like the instance URL.
                "/projects/PRJ-1/": f"/projects/{project_id}/",
            },
        ),
        workdir,
        "trigger",
        github_output,
    )
    outputs = dict(line.split("=", 1) for line in github_output.read_text().splitlines() if "=" in line)
    if first.returncode != 0:
        return first, None, outputs
    second = run_bash(
        substitute(
            wait_block,
            {
                "${{ steps.trigger.outputs.status_url }}": outputs.get("status_url", ""),
                "${{ secrets.SENTRI_TOKEN }}": token,
                # The only behavioural edit: poll every second instead of every ten, to keep the test short.
                "sleep 10": "sleep 1",
                **(JQ_FIX if fix_jq else {}),
            },
        ),
        workdir,
        "wait",
        github_output,
    )
    return first, second, outputs


def test_the_seed_github_actions_workflow_runs_unchanged(sentri, site, http, tmp_path):
    blocks = github_run_blocks(seed(SEED).read_text())
    assert len(blocks) == 2, blocks
    assert blocks[0].startswith("response=$(curl -sf -X POST") and blocks[1].startswith("status_url=")

    # A passing project: both steps exit 0.
    project_id, token = new_project(
        sentri, site, "seed-pass", [page_test(f"seed{i}", site.url) for i in (1, 2)]
    )
    (tmp_path / "pass").mkdir()
    first, second, outputs = run_seed_workflow(sentri, project_id, token, tmp_path / "pass")
    assert first.returncode == 0, (first.stdout, first.stderr)
    assert re.fullmatch(r"RUN-\d+", outputs.get("run_id", "")), outputs
    assert outputs["status_url"].endswith(f"/api/v1/projects/{project_id}/trigger/runs/{outputs['run_id']}")
    assert second.returncode == 0, (second.stdout, second.stderr)
    assert "Run status: completed" in second.stdout
    assert "Run completed; quality gates and Web Vitals budgets passed." in second.stdout

    # A failing project. A completed run with a failed test is still `completed` (seed semantics), so
    # the seed's script blocks the deploy through a quality gate, which is how the seed says to do it.
    project_id, token = new_project(sentri, site, "seed-fail", [failing_test(site.url)])
    gates = http.patch(
        f"{sentri.url}/api/v1/projects/{project_id}/quality-gates",
        json={"maxFailures": 0},
        headers=sentri.user_headers(),
        timeout=15,
    )
    assert gates.status_code == 200, (gates.status_code, gates.text)
    (tmp_path / "fail-as-written").mkdir()
    first, second, outputs = run_seed_workflow(sentri, project_id, token, tmp_path / "fail-as-written")
    # As written, the seed's script cannot see `"passed": false` (see JQ_FIX) and lets the deploy through.
    assert (first.returncode, second.returncode) == (0, 0), (second.stdout, second.stderr)
    assert "Run completed; quality gates and Web Vitals budgets passed." in second.stdout
    (tmp_path / "fail").mkdir()
    first, second, outputs = run_seed_workflow(sentri, project_id, token, tmp_path / "fail", fix_jq=True)
    assert first.returncode == 0, (first.stdout, first.stderr)
    assert second is not None and second.returncode == 1, (second.stdout, second.stderr)
    assert "Run status: completed" in second.stdout
    assert "::error::Quality gate failed:" in second.stdout
    assert re.search(r"^  - maxFailures: actual 1(\.0+)? vs threshold 0$", second.stdout, re.MULTILINE), (
        second.stdout
    )
    final = status_of(http, outputs["status_url"], token)
    assert final["verdict"] == "failed"
    assert final["gateResult"] == {
        "passed": False,
        "violations": [{"rule": "maxFailures", "threshold": 0, "actual": 1}],
    }

    # Every test passes and every gate holds, but a Web Vitals budget fails: the deploy is blocked too.
    project_id, token = new_project(sentri, site, "seed-vitals", [page_test("seedv", site.url)])
    for path, body in (("quality-gates", {"maxFailures": 0}), ("web-vitals-budgets", {"lcp": 1})):
        response = http.patch(
            f"{sentri.url}/api/v1/projects/{project_id}/{path}",
            json=body,
            headers=sentri.user_headers(),
            timeout=15,
        )
        assert response.status_code == 200, (response.status_code, response.text)
    (tmp_path / "vitals").mkdir()
    first, second, outputs = run_seed_workflow(sentri, project_id, token, tmp_path / "vitals", fix_jq=True)
    assert second is not None and second.returncode == 1, (second.stdout, second.stderr)
    assert "::error::Web Vitals budget failed:" in second.stdout
    assert re.search(r"^  - LCP on .+: actual [0-9.]+ vs threshold 1$", second.stdout, re.MULTILINE), (
        second.stdout
    )
    final = status_of(http, outputs["status_url"], token)
    assert final["gateResult"]["passed"] is True and final["webVitalsResult"]["passed"] is False


# -- a crash mid-run ------------------------------------------------------------------------------------


@both_databases
def test_a_run_interrupted_by_a_crash_resumes_after_restart(site, sink, http, tmp_path, database):
    """SIGKILL mid-test: the run is the database's, not the process's. The restarted server finds the
    test's lease run out, re-queues it once (the lost attempt recorded) and finishes the run."""
    env = {"SENTRI_LEASE_SECONDS": "3"}
    if database:
        env["SENTRI_DATABASE_URL"] = database
    with SentriProcess(tmp_path / "instance", max_browsers=1, env=env) as sentri:
        try:
            project_id, token = new_project(sentri, site, "restart", [wait_test("restart", site.url, 3_000)])
            since = time.monotonic()
            hook = (
                f"{HOOK['restart']}-{'postgresql' if database else 'sqlite'}"  # run ids repeat across servers
            )
            started = trigger(http, sentri, project_id, token, {"callbackUrl": sink.hook_url(hook)})
            site.wait_for_request("/page/restart", since=since, timeout=30)  # the browser is in the test
            running = status_of(http, started["statusUrl"], token)
            assert running["status"] == "running" and running.get("phase") == "running", running

            sentri.kill()  # SIGKILL: no chance to clean up
            sentri.start()  # same instance folder, same port

            locked = http.post(
                f"{sentri.url}/api/v1/projects/{project_id}/trigger",
                headers=bearer(token),
                json={},
                timeout=15,
            )
            assert locked.status_code == 409  # the run is still the project's active run...
            final = wait_terminal(http, started["statusUrl"], token)  # ...and it is finished, not failed
            assert (final["status"], final["verdict"], final["passed"]) == ("completed", "passed", 1), final
            (result,) = full_run(http, sentri, started["runId"])["results"]
            assert [a["status"] for a in result["attempts"]] == ["lost", "passed"], result["attempts"]
            assert "the worker running it stopped" in result["attempts"][0]["error"]

            callback = sink.wait_for_run(started["runId"], path=hook, timeout=30)
            assert callback.body["status"] == "completed", callback.body
            time.sleep(1)
            assert len(sink.for_run(started["runId"], path=hook)) == 1  # once
            assert trigger(http, sentri, project_id, token)["runId"] != started["runId"]
        finally:
            sentri.kill()


# -- abort ---------------------------------------------------------------------------------------------


def test_abort_stops_the_running_test_and_skips_the_queued_ones(sentri, site, sink, http):
    tests = [
        wait_test("abort", site.url, 20_000, tags=["smoke"]),  # smoke: runs first
        page_test("queued1", site.url),
        page_test("queued2", site.url),
    ]
    project_id, token = new_project(sentri, site, "abort", tests)
    since = time.monotonic()
    started = trigger(
        http,
        sentri,
        project_id,
        token,
        {
            "dialsConfig": {"parallelWorkers": 1},
            "callbackUrl": sink.hook_url(HOOK["abort"]),
        },
    )
    site.wait_for_request("/page/abort", since=since, timeout=30)

    aborted_at = time.monotonic()
    response = http.post(
        f"{sentri.url}/api/v1/runs/{started['runId']}/abort", headers=sentri.user_headers(), timeout=15
    )
    assert response.status_code == 200, (response.status_code, response.text)

    final = wait_terminal(http, started["statusUrl"], token, timeout=30)
    took = time.monotonic() - aborted_at
    assert final["status"] == "aborted", final
    assert final["verdict"] == "failed"
    assert took < 10, (
        f"the running test (a 20 s wait) should stop at once; the run ended {took:.1f}s after abort"
    )
    # The queued two are skipped; what the interrupted one becomes (failed or skipped) the spec leaves open.
    assert final["total"] == 3 and final["passed"] == 0 and final["skipped"] >= 2, final

    results = by_name(full_run(http, sentri, started["runId"]))
    for name in ("Page queued1 says done", "Page queued2 says done"):
        assert results[name]["status"] == "skipped", results[name]
        assert results[name]["skipReason"] == "aborted", results[name]
    assert results["Page abort after waiting 20000 ms"]["status"] != "passed"
    assert not site.requests_since(since, "/page/queued"), "queued tests must not have run"

    callback = sink.wait_for_run(started["runId"], path=HOOK["abort"], timeout=30)
    assert callback.body["status"] == "aborted", callback.body


# -- simultaneous triggers ----------------------------------------------------------------------------


def _runs_listed(body) -> list:
    if isinstance(body, list):
        return body
    for value in body.values():
        if isinstance(value, list):
            return value
    raise AssertionError(f"no list of runs in {body}")


@both_databases
def test_simultaneous_triggers_start_exactly_one_run_per_project(site, http, tmp_path, database):
    env = {"SENTRI_DATABASE_URL": database} if database else None
    with SentriProcess(tmp_path / "instance", max_browsers=2, env=env) as sentri:
        _race(sentri, site, http)


def _race(sentri, site, http):
    project_id, token = new_project(sentri, site, "race", [page_test("race1", site.url)])
    other_id, other_token = new_project(sentri, site, "race-other", [page_test("race2", site.url)])

    barrier = threading.Barrier(21)
    answers: list[tuple[str, int, dict | str]] = []
    lock = threading.Lock()

    def fire(which: str, pid: str, tok: str) -> None:
        session = http_session()
        try:
            barrier.wait(timeout=30)
            response = session.post(
                f"{sentri.url}/api/v1/projects/{pid}/trigger", headers=bearer(tok), json={}, timeout=30
            )
            try:
                body = response.json()
            except ValueError:
                body = response.text
            with lock:
                answers.append((which, response.status_code, body))
        finally:
            session.close()

    threads = [threading.Thread(target=fire, args=("same", project_id, token)) for _ in range(20)]
    threads.append(threading.Thread(target=fire, args=("other", other_id, other_token)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    same = [(code, body) for which, code, body in answers if which == "same"]
    other = [(code, body) for which, code, body in answers if which == "other"]
    codes = sorted(code for code, _ in same)
    assert 500 not in codes, same
    assert codes == [202] + [409] * 19, same
    (winner,) = [body for code, body in same if code == 202]
    for code, body in same:
        if code == 409:
            assert body["runId"] == winner["runId"], body
            assert body.get("error"), body
    assert len(other) == 1 and other[0][0] == 202, other
    assert other[0][1]["runId"] != winner["runId"]

    for pid, tok, started in ((project_id, token, winner), (other_id, other_token, other[0][1])):
        final = wait_terminal(http, started["statusUrl"], tok)
        assert final["status"] == "completed" and final["verdict"] == "passed", final
        history = http.get(
            f"{sentri.url}/api/v1/projects/{pid}/runs", headers=sentri.user_headers(), timeout=15
        )
        assert history.status_code == 200, (history.status_code, history.text)
        assert len(_runs_listed(history.json())) == 1, history.json()


# -- the seed's GitLab CI job ----------------------------------------------------------------------------


def gitlab_script(text: str) -> str:
    """Return the `script: - |` block of the seed's .gitlab-ci.yml example, dedented, as written."""
    start = text.index("# .gitlab-ci.yml")
    lines = text[start:].splitlines()
    first = next(i for i, line in enumerate(lines) if re.match(r"^\s*- \|\s*$", line))
    indent = len(lines[first]) - len(lines[first].lstrip())
    body = []
    for line in lines[first + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        body.append(line)
    return textwrap.dedent("\n".join(body)).strip("\n") + "\n"


def test_the_seed_gitlab_ci_job_runs_unchanged(sentri, site, tmp_path):
    script = gitlab_script(seed(SEED).read_text())
    assert script.startswith("response=$(curl -sf -X POST") and "$SENTRI_TOKEN" in script
    # A passing run exits 0; a run that does not complete (here: aborted by a user) exits 1.
    for name, tests, expected in (
        ("gitlab-pass", [page_test("gl1", site.url)], 0),
        ("gitlab-aborted", [wait_test("gl2", site.url, 20_000)], 1),
    ):
        project_id, token = new_project(sentri, site, name, tests)
        body = substitute(
            script,
            {
                "https://your-sentri-instance.com": sentri.url,
                "/projects/PRJ-1/": f"/projects/{project_id}/",
                "sleep 10": "sleep 1",  # the only behavioural edit, to keep the test short
            },
        )
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "SENTRI_TOKEN": token,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        path = tmp_path / f"{name}.sh"
        path.write_text(body)
        if not expected:
            done = subprocess.run(
                ["bash", "-eo", "pipefail", str(path)], env=env, capture_output=True, text=True, timeout=150
            )
            assert done.returncode == 0, (done.stdout, done.stderr)
            assert "Run status: completed" in done.stdout
            continue
        job = subprocess.Popen(
            ["bash", "-eo", "pipefail", str(path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        http = http_session()
        listing, deadline = [], time.monotonic() + 30
        while not listing and time.monotonic() < deadline:
            time.sleep(0.2)
            listing = http.get(
                f"{sentri.url}/api/v1/projects/{project_id}/runs", headers=sentri.user_headers(), timeout=15
            ).json()
        http.post(
            f"{sentri.url}/api/v1/runs/{listing[0]['id']}/abort", headers=sentri.user_headers(), timeout=15
        )
        out, err = job.communicate(timeout=150)
        assert job.returncode == 1, (out, err)
        assert "Run status: aborted" in out


# -- a graceful stop ---------------------------------------------------------------------------------------


def test_sigterm_lets_running_tests_finish_within_the_grace_and_hands_the_rest_back(
    site, sink, http, tmp_path
):
    """A rolling deploy: the stopping server lets its test run for the grace, then gives it back to the
    database; the run is not failed, and the next server (here, the same one restarted) finishes it."""
    env = {"SENTRI_SHUTDOWN_GRACE_SECONDS": "1"}
    with SentriProcess(tmp_path / "instance", max_browsers=1, env=env) as sentri:
        tests = [wait_test("sigterm", site.url, 4_000), page_test("after", site.url)]
        project_id, token = new_project(sentri, site, "sigterm", tests)
        since = time.monotonic()
        started = trigger(http, sentri, project_id, token, {"callbackUrl": sink.hook_url("sigterm")})
        site.wait_for_request("/page/sigterm", since=since, timeout=30)
        code = sentri.stop(timeout=30)
        assert code == 0, sentri.stdout_path.read_text()
        assert not sink.for_run(started["runId"], path="/sigterm")  # not ended, so nothing was called back
        sentri.start()
        final = wait_terminal(http, started["statusUrl"], token)
        assert (final["status"], final["passed"], final["total"]) == ("completed", 2, 2), final
        attempts = by_name(full_run(http, sentri, started["runId"]))["Page sigterm after waiting 4000 ms"][
            "attempts"
        ]
        assert [a["status"] for a in attempts] == ["handed back", "passed"], attempts  # a stop is not a loss
        assert "stopped" in attempts[0]["error"]
        callback = sink.wait_for_run(started["runId"], path="/sigterm", timeout=30)
        assert callback.body["status"] == "completed"
        sentri.kill()


def test_a_second_process_on_one_sqlite_file_says_sqlite_is_for_one_process(tmp_path):
    with SentriProcess(tmp_path / "instance", max_browsers=1) as first:
        second = SentriProcess(tmp_path / "instance", max_browsers=1)  # same folder: same SQLite file
        second.log_dir = tmp_path / "second-logs"
        second.log_dir.mkdir()
        try:
            second.start()
            assert "SQLite is meant for one process" in second.stderr_path.read_text()
            assert "SQLite is meant for one process" not in first.stderr_path.read_text()
        finally:
            second.stop()
