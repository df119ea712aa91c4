"""A browser server's URL may carry credentials (`ws://user:password@host/path?token=...`):
Sentri connects with all of it and shows `host:port` only, on /health, in /metrics labels, in run and test
errors, the JUnit report, the PR comment and the server's log. First the display form and the scrubbing of
Playwright's errors (no browser), then a real Sentri process with real browser servers: one up, one
refusing (it quotes the URL in its error), one down."""

from __future__ import annotations

import json

import pytest

from sentri.config import ConfigError
from sentri.worker import remote
from sentri.worker.browsers import find_chromium
from tests.support import FixtureSite, SentriProcess, free_port, page_test
from tests.support.browser_servers import BrowserServer
from tests.support.fake_github import FakeGitHub

SECRETS = ("s3cret", "t0ken", "p4th", "user:")
REPO, PR, SHA = "octo/shop", 42, "0123456789abcdef0123456789abcdef01234567"
GITHUB_TOKEN = "ghp_good" + "G" * 32


def _url(port: int, path: str = "") -> str:
    return f"ws://user:s3cret@127.0.0.1:{port}/{path}?token=t0ken"


def _assert_no_secret(text: str, where: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"{where} shows {leaked}: {text[:2000]}"


# -- the display form and the scrubbing --------------------------------------------------------------


def test_an_endpoint_is_shown_as_host_and_port_only():
    assert remote.shown("ws://user:s3cret@browsers:3000/p4th?token=t0ken#frag") == "browsers:3000"
    assert remote.shown("wss://user:s3cret@Browsers.Example/") == "browsers.example:443"
    assert remote.shown("ws://[::1]:3000/?token=t0ken") == "[::1]:3000"
    assert remote.shown("ws://browsers") == "browsers:80"
    pool = remote.ServerPool(
        remote.parse_servers(
            "ws://a:s3cret@gw:443/chromium?token=t0ken#2,ws://gw:443/firefox?token=t0ken,ws://b:3000"
        )
    )
    # One gateway told apart by path: numbered, never the path.
    assert [row["endpoint"] for row in pool.status()] == ["gw:443", "gw:443 (2)", "b:3000"]
    assert (
        next(e.url for e in pool.endpoints) == "ws://a:s3cret@gw:443/chromium?token=t0ken"
    )  # what connect() gets


def test_playwrights_errors_quoting_the_url_are_scrubbed():
    endpoint = remote.parse_servers(_url(1, "p4th-s3cret") + "#2")[0]
    # What Playwright 1.5x says when a server refuses the upgrade, and when nothing listens (both observed).
    refused = (
        "BrowserType.connect: WebSocket error: ws://user:s3cret@127.0.0.1:1/p4th-s3cret 400 Bad Request\n"
        "Call log:\n  - <ws connecting> ws://user:s3cret@127.0.0.1:1/p4th-s3cret\n"
    )
    assert remote.refusal(endpoint, refused) == "127.0.0.1:1: WebSocket error: 127.0.0.1:1 400 Bad Request"
    down = (
        "BrowserType.connect: WebSocket error: connect ECONNREFUSED 127.0.0.1:1\nCall log:\n"
        "  - <ws connecting> ws://user:s3cret@127.0.0.1:1/p4th-s3cret?token=t0ken\n"
    )
    scrubbed = endpoint.scrub(down)
    _assert_no_secret(scrubbed, "the scrubbed call log")
    assert "<ws connecting> 127.0.0.1:1" in scrubbed
    # The secrets alone, outside a URL, are masked.
    assert (
        endpoint.scrub("token t0ken, password s3cret, path p4th-s3cret")
        == "token ***, password ***, path ***"
    )
    mismatch = (
        "BrowserType.connect: WebSocket error: ws://user:s3cret@127.0.0.1:1/p4th-s3cret 428 "
        "Precondition Required\n  - server version: v1.64\n  - client version: v1.65"
    )
    assert remote.refusal(endpoint, mismatch).startswith("127.0.0.1:1 runs Playwright 1.64")
    pool = remote.ServerPool([endpoint])
    pool.refused(endpoint, refused)
    unavailable = str(pool.unavailable())
    assert "127.0.0.1:1" in unavailable
    _assert_no_secret(unavailable + json.dumps(pool.status()), "the pool")


@pytest.mark.parametrize(
    "value",
    [
        "http://user:s3cret@a:3000?token=t0ken",
        "ws://user:s3cret@a:3000#0",
        "ws://user:s3cret@a:1?token=t0ken,ws://user:s3cret@a:1?token=t0ken",
    ],
)
def test_a_bad_setting_is_refused_without_quoting_its_secrets(app_factory, value):
    with pytest.raises(ConfigError) as refused:
        app_factory(SENTRI_BROWSER_SERVERS=value)
    assert "SENTRI_BROWSER_SERVERS: entry " in str(refused.value) and "(a:" in str(refused.value)
    _assert_no_secret(str(refused.value), "the configuration error")


# -- a real Sentri process, real browser servers -----------------------------------------------------


@pytest.mark.browser
@pytest.mark.e2e
def test_credentialed_endpoints_are_shown_as_host_and_port_everywhere(tmp_path):
    with FakeGitHub() as github, BrowserServer() as up, BrowserServer() as refusing:
        github.add_token(GITHUB_TOKEN)
        github.add_repo(REPO, pulls=[PR])
        down = free_port()
        # Listed first, the refusing and the down endpoint are tried (and fail) before the one that is up.
        servers = ",".join([_url(refusing.port, "p4th-s3cret"), _url(down), _url(up.port)])
        env = {
            "SENTRI_BROWSER_SERVERS": servers,
            "SENTRI_METRICS": "true",
            "SENTRI_GITHUB_API_URL": github.url,
        }
        if find_chromium().executable:  # else the server's own Playwright Chromium
            env["SENTRI_BROWSER_SERVER_CHROMIUM"] = find_chromium().executable
        site = FixtureSite().start()
        try:
            with SentriProcess(tmp_path / "instance", env=env) as sentri:
                project_id, token = sentri.new_project("Creds", site.url, [page_test("one", site.url)])
                trigger = {
                    "githubRepo": REPO,
                    "githubPrNumber": PR,
                    "githubCommitSha": SHA,
                    "githubToken": GITHUB_TOKEN,
                }
                names = {f"127.0.0.1:{port}" for port in (refusing.port, down, up.port)}

                def shown() -> list[str]:
                    """Everything a member, a scraper and a trigger-token holder read now."""
                    health = sentri.http.get(
                        f"{sentri.url}/health", headers=sentri.user_headers(), timeout=10
                    )
                    scrape = sentri.http.get(f"{sentri.url}/metrics", timeout=10).text
                    rows = health.json()["browserServers"]
                    assert {row["endpoint"] for row in rows} == names, rows
                    assert all(f'endpoint="{name}"' in scrape for name in names), scrape
                    return [health.text, scrape]

                passed = sentri.run_to_end(project_id, token, trigger)
                assert passed["status"] == "completed" and passed["passed"] == 1, passed
                detail = sentri.api("GET", f"/runs/{passed['runId']}")
                assert {a["browserServer"] for r in detail["results"] for a in r["attempts"]} == {
                    f"127.0.0.1:{up.port}"
                }
                seen = [json.dumps(passed), json.dumps(detail), *shown()]
                states = {
                    row["endpoint"]: (row["state"], row["error"])
                    for row in json.loads(seen[2])["browserServers"]
                }
                assert states[f"127.0.0.1:{up.port}"] == ("up", None)
                assert "400 Bad Request" in states[f"127.0.0.1:{refusing.port}"][1]
                assert "ECONNREFUSED" in states[f"127.0.0.1:{down}"][1]

                up.stop(kill=True)
                failed = sentri.run_to_end(project_id, token, trigger)
                assert failed["status"] == "failed", failed
                assert "No Playwright browser server took the test" in failed["error"]
                assert all(name in failed["error"] for name in names), failed["error"]
                junit = sentri.http.get(
                    f"{sentri.url}/api/v1/runs/{failed['runId']}/junit.xml",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=10,
                )
                assert junit.status_code == 200 and "No Playwright browser server" in junit.text
                github.wait_for(lambda: "did not complete" in json.dumps(github.comments(REPO, PR)))
                comments = json.dumps(github.comments(REPO, PR))
                assert f"127.0.0.1:{up.port}" in comments
                seen += [json.dumps(failed), junit.text, comments, *shown()]
            logs = [path.read_text(errors="replace") for path in sentri.log_dir.rglob("*.log")]
            assert any("browser server skipped" in log for log in logs)
        finally:
            site.stop()
    for index, text in enumerate(seen + logs):
        _assert_no_secret(text, f"shown text {index}")
