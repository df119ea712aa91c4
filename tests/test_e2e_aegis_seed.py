"""The AegisRunner seed's curl commands (GitHub Actions and GitLab CI, `"crawl": true`, `"wait": true`, a
preview `baseUrl`) run verbatim against a live server, with only the ${{ ... }} / $VARS substituted: the
run crawls the preview site first and checks every page it found; exit 0 on a healthy site, non-zero
when a page breaks, and the fake GitHub gets the sticky comment listing the broken pages."""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support import SentriProcess
from tests.support.crawl_site import CrawlSite
from tests.support.fake_github import FakeGitHub
from tests.support.shared import seed

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SEED = "000_13cee58d47450219.txt"  # the product document with the aegis CI commands


def _commands() -> tuple[str, str]:
    """Return the seed's GitHub Actions and GitLab CI curl commands, as written."""
    text = seed(SEED).read_text()
    found = re.findall(
        r"^( *)(curl -fsSL -X POST https://aegisrunner\.com/api/v1/ci/trigger.*?\n *(?:}'|}\"))$",
        text,
        re.MULTILINE | re.DOTALL,
    )
    assert len(found) == 2, found
    return tuple("\n".join(line.removeprefix(indent) for line in body.splitlines()) for indent, body in found)


def _run(script: str, env: dict[str, str], tmp_path: Path, name: str) -> subprocess.CompletedProcess:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"{name}.sh"
    path.write_text(script + "\n")
    base = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    return subprocess.run(
        ["bash", "-eo", "pipefail", str(path)],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_aegis_seed_commands_run_verbatim_and_exit_with_the_crawled_site(tmp_path):
    github, gitlab = _commands()
    assert '"crawl": true' in github and '\\"crawl\\": true' in gitlab  # as the seed wrote them
    with (
        FakeGitHub() as github_api,
        CrawlSite(healthy=True) as healthy,
        CrawlSite() as broken,
        SentriProcess(
            tmp_path / "instance", max_browsers=2, env={"SENTRI_GITHUB_API_URL": github_api.url}
        ) as sentri,
    ):
        github_api.add_token("ghs_not_a_real_token")
        github_api.add_repo("octo/app", pulls=[7])

        def project(name, preview):
            # A project whose only checks are its pages (no tests yet: crawl: true needs none). The pipelines
            # send the preview deploy as baseUrl: its origin must be allowed (a real project would allow
            # https://pr-*.preview.example.com).
            api, headers = f"{sentri.url}/api/v1/projects", sentri.user_headers()
            created = sentri.http.post(
                api, json={"name": name, "baseUrl": "http://127.0.0.1:9"}, headers=headers, timeout=15
            )
            assert created.status_code == 201, created.text
            project_url = f"{api}/{created.json()['id']}"
            allowed = sentri.http.patch(
                project_url, json={"allowedOrigins": [preview.url]}, headers=headers, timeout=15
            )
            assert allowed.status_code == 200, allowed.text
            token = sentri.http.post(f"{project_url}/trigger-tokens", json={}, headers=headers, timeout=15)
            assert token.status_code == 201, token.text
            return token.json()["token"]

        def github_script(token: str, preview: str) -> str:
            values = {
                "https://aegisrunner.com": sentri.url,
                "${{ secrets.AEGIS_CI_TOKEN }}": token,
                # The preview deploy of the PR: here, a fixture site.
                "https://pr-${{ github.event.pull_request.number }}.preview.example.com": preview,
                "${{ github.repository }}": "octo/app",
                "${{ github.event.pull_request.number }}": "7",
                "${{ github.event.pull_request.head.sha }}": "a" * 40,
                "${{ secrets.GITHUB_TOKEN }}": "ghs_not_a_real_token",
            }
            command = github
            for placeholder, value in values.items():
                assert placeholder in command, placeholder
                command = command.replace(placeholder, value)
            return command

        gitlab_script = gitlab.replace("https://aegisrunner.com", sentri.url)
        jobs = []  # (what, script, environment, expected exit); curl -f exits 22 on the 422 of a failed run
        for name, site, expected in (("fixed", healthy, 0), ("broken", broken, 22)):
            jobs.append(
                (f"github-{name}", github_script(project(f"{name} (GitHub)", site), site.url), {}, expected)
            )
            jobs.append(
                (
                    f"gitlab-{name}",
                    gitlab_script,
                    {"AEGIS_CI_TOKEN": project(f"{name} (GitLab)", site), "CI_ENVIRONMENT_URL": site.url},
                    expected,
                )
            )
        # Two pipelines at a time, as CI would run them (each its own project: one active run per project).
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = dict(
                zip(
                    [job[0] for job in jobs],
                    pool.map(lambda job: _run(job[1], job[2], tmp_path / job[0], job[0]), jobs),
                    strict=True,
                )
            )
        for what, _script, _env, expected in jobs:
            assert done[what].returncode == expected, (what, done[what].stdout, done[what].stderr)
            if expected == 0:
                assert '"verdict":"passed"' in done[what].stdout.replace(" ", "")

        # The seed's GitHub fields reached (a fake) GitHub: one sticky comment per project on PR 7, each broken
        # one listing the pages that broke; each project's commit status went pending, then success or failure.
        def posted() -> bool:
            return (
                len(github_api.statuses("octo/app", "a" * 40)) == 4
                and len(github_api.comments("octo/app", 7)) == 2
            )

        github_api.wait_for(posted, timeout=60)
        states = sorted(s["state"] for s in github_api.statuses("octo/app", "a" * 40))
        assert states == ["failure", "pending", "pending", "success"]
        comment = next(
            c["body"] for c in github_api.comments("octo/app", 7) if "failed" in c["body"].split("\n")[1]
        )
        assert "Pages that broke" in comment
        for path in ("/missing", "/broken-js", "/broken-image"):
            assert f"{broken.url}{path} |" in comment
