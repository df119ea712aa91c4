"""A stop never fails a run: SIGTERM or SIGINT, once or twice, to Sentri's PID or to its whole process group
(Ctrl+C, systemd, a supervisor: Playwright's driver and Chromium get the signal too), while tests run on a real
Playwright browser server. Each stop hands its running tests back; the restarted server runs them; every test
passes in the end, the browser server is never blamed, and GitHub never hears "error".

Real processes throughout: `python app.py`, `playwright run-server`, a fake GitHub on loopback."""

from __future__ import annotations

import re
import signal
import time

import pytest

from tests.support import FixtureSite, SentriProcess, http_session, wait_test
from tests.support.browser_servers import BrowserServer
from tests.support.fake_github import FakeGitHub

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

REPO, PR, SHA = "octo/stops", 7, "89abcdef0123456789abcdef0123456789abcdef"
TOKEN = "ghp_stops" + "S" * 31
# (signal, to the whole group, how many times): each way a stop reaches a server
STOPS = [
    (signal.SIGTERM, False, 1),
    (signal.SIGTERM, True, 1),
    (signal.SIGINT, True, 2),
    (signal.SIGTERM, True, 1),
]


def _chromium() -> str | None:
    from sentri.worker.browsers import find_chromium

    return find_chromium().executable


def test_stops_by_every_signal_path_hand_tests_back_and_never_fail_the_run(tmp_path):
    with FixtureSite() as site, BrowserServer() as server, FakeGitHub() as github:
        github.add_token(TOKEN)
        github.add_repo(REPO, pulls=[PR])
        env = {
            "SENTRI_BROWSER_SERVERS": f"{server.url.rstrip('/')}#2",
            "SENTRI_SHUTDOWN_GRACE_SECONDS": "1",
            "SENTRI_BROWSER_SERVER_CHROMIUM": _chromium() or "",
            "SENTRI_GITHUB_API_URL": github.url,
        }
        with SentriProcess(tmp_path / "instance", env=env) as sentri:
            tests = [wait_test(f"stop{n}", site.url, 2_500) for n in range(6)]
            project_id, token = sentri.new_project("Stops", site.url, tests)
            http = http_session()
            bearer = {"Authorization": f"Bearer {token}"}
            started = http.post(
                f"{sentri.url}/api/v1/projects/{project_id}/trigger",
                headers=bearer,
                timeout=30,
                json={
                    "dialsConfig": {"parallelWorkers": 2, "retries": 0},
                    "githubRepo": REPO,
                    "githubPrNumber": PR,
                    "githubCommitSha": SHA,
                    "githubToken": TOKEN,
                },
            )
            assert started.status_code == 202, started.text
            status_url = started.json()["statusUrl"]
            for number, (signum, group, times) in enumerate(STOPS):
                since = time.monotonic()
                site.wait_for_request(
                    "/page/stop", since=since if number else 0.0, timeout=60
                )  # a test is on
                code = sentri.signal(signum, group=group, times=times)
                assert code == 0, (signum, group, times, sentri.stderr_path.read_text()[-3000:])
                log = sentri.stderr_path.read_text()
                assert "Traceback" not in log, log[-4000:]
                assert "browser server skipped" not in log, log[-4000:]
                sentri.start()
                status = http.get(status_url, headers=bearer, timeout=30).json()
                assert status["status"] == "running", status  # not failed: handed back
            deadline = time.monotonic() + 240
            while (status := http.get(status_url, headers=bearer, timeout=30).json())["status"] == "running":
                assert time.monotonic() < deadline, status
                time.sleep(0.2)
            assert (status["status"], status["verdict"], status["passed"]) == ("completed", "passed", 6), (
                status
            )
            run = sentri.api("GET", f"/runs/{started.json()['runId']}")
            attempts = [a["status"] for result in run["results"] for a in result["attempts"]]
            assert "handed back" in attempts and "lost" not in attempts and "failed" not in attempts, attempts
            assert not re.search(r"Traceback|RuntimeError|Task was destroyed", sentri.stderr_path.read_text())
            # The operator's log: a line for the run's start and one for its end, whichever process had each.
            logs = "".join(path.read_text() for path in sorted(sentri.log_dir.glob("server-*.stderr.log")))
            assert re.search(
                r"INFO sentri\.queue\.lifecycle: RUN-1 started on PRJ-1 by TOK-1 \(token\): 6 test\(s\) planned",
                logs,
            )
            assert re.search(
                r"INFO sentri\.runtime\.hooks: RUN-1 ended completed, verdict passed: 6 passed, 0 failed",
                logs,
            )
            assert logs.count("INFO sentri.server: stopping (") == len(STOPS)
        states = [s["state"] for s in github.statuses(REPO, SHA)]
        assert "error" not in states and "failure" not in states, states
