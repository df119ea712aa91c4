"""Held `wait: true` requests do not starve a live server (waitress, real HTTP, real Chromium)."""

from __future__ import annotations

import threading
import time

import pytest

from tests.support import FixtureSite, SentriProcess, http_session

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
WAITERS = 8


def test_eight_held_waiters_leave_the_server_answering_and_a_ninth_gets_503(tmp_path):
    with FixtureSite() as site, SentriProcess(tmp_path / "instance", max_browsers=1) as sentri:
        http = http_session()
        user = sentri.user_headers()
        slow = {"name": "slow", "steps": [{"goto": f"{site.url}/page/w"}, {"wait": 25000}]}
        tokens = []
        for index in range(WAITERS + 1):
            project = http.post(
                f"{sentri.url}/api/v1/projects",
                json={"name": f"W{index}", "baseUrl": site.url},
                headers=user,
                timeout=15,
            ).json()
            test = http.post(
                f"{sentri.url}/api/v1/projects/{project['id']}/tests", json=slow, headers=user, timeout=15
            ).json()
            http.post(
                f"{sentri.url}/api/v1/projects/{project['id']}/tests/{test['id']}/approve",
                headers=user,
                timeout=15,
            )
            token = http.post(
                f"{sentri.url}/api/v1/projects/{project['id']}/trigger-tokens",
                json={},
                headers=user,
                timeout=15,
            ).json()["token"]
            tokens.append(token)

        answers: list[int] = []

        def wait_for_run(token: str) -> None:
            session = http_session()
            response = session.post(
                f"{sentri.url}/api/v1/ci/trigger",
                json={"wait": True},
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
            )
            answers.append(response.status_code)

        held = [threading.Thread(target=wait_for_run, args=(token,)) for token in tokens[:WAITERS]]
        for thread in held:
            thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            runs = http.get(
                f"{sentri.url}/api/v1/projects/PRJ-{WAITERS}/runs", headers=user, timeout=15
            ).json()
            if runs:
                break
            time.sleep(0.2)
        time.sleep(1)  # every waiter is inside its wait
        assert answers == []

        # While they are held, the server answers status polls, the API and pages.
        first_run = http.get(f"{sentri.url}/api/v1/projects/PRJ-1/runs", headers=user, timeout=5).json()[0]
        status = http.get(
            f"{sentri.url}/api/v1/ci/runs/{first_run['id']}",
            headers={"Authorization": f"Bearer {tokens[0]}"},
            timeout=5,
        )
        assert status.status_code == 200 and status.json()["status"] in ("queued", "running")
        assert http.get(f"{sentri.url}/api/v1/projects", headers=user, timeout=5).status_code == 200
        assert http.get(f"{sentri.url}/login", timeout=5).status_code == 200
        assert http.get(f"{sentri.url}/healthz", timeout=5).status_code == 200

        ninth = http.post(
            f"{sentri.url}/api/v1/ci/trigger",
            json={"wait": True},
            headers={"Authorization": f"Bearer {tokens[WAITERS]}"},
            timeout=15,
        )
        assert ninth.status_code == 503 and ninth.json()["runId"] and "waiting" in ninth.json()["error"]

        for index in range(1, WAITERS + 2):
            for run in http.get(
                f"{sentri.url}/api/v1/projects/PRJ-{index}/runs", headers=user, timeout=15
            ).json():
                http.post(f"{sentri.url}/api/v1/runs/{run['id']}/abort", headers=user, timeout=15)
        for thread in held:
            thread.join(timeout=60)
        assert sorted(answers) == [422] * WAITERS  # aborted runs end with verdict failed
