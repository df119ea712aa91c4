"""crawl: true runs and crawls of their own, end to end: real Chromium against the crawler's fixture site
(tests/support/crawl_site.py), the real engine and database.

A crawl: true run crawls first (phase crawling), then runs the approved tests and one page check per
page found; page checks are results like tests (counted, in JUnit, in the PR comment). A crawl of its
own drafts tests for the review queue; approved, they pass against the site they came from, and a second
crawl of the unchanged site drafts nothing new."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from lxml import etree
from sqlalchemy import update

from sentri import projects, testcases, tokens, users
from sentri.crawl.diff import diff
from sentri.crawl.models import Crawl
from sentri.crawl.report import site_map
from sentri.crawl.settings import CrawlSettings
from sentri.database import write
from sentri.extensions import db
from sentri.models import Result, Run, TestCase, utcnow
from sentri.queue import crawl_ends, crawls, lifecycle
from sentri.runs.options import parse_options
from sentri.runtime import runtime
from sentri.worker.crawling import Throttled
from tests.conftest import _make_user, both_databases
from tests.support import SentriProcess
from tests.support.crawl_site import PASSWORD as PASSWORD_SECRET
from tests.support.crawl_site import CrawlSite
from tests.support.fake_github import FakeGitHub
from tests.support.pages import PASSWORD, Browser
from tests.support.sites import StaticSite
from tests.test_github import GOOD, PR, REPO, SHA, _github_body, _run, _sentri_comments
from tests.test_openapi import Described

BROKEN = {
    "/missing": "HTTP 404",
    "/broken-js": "uncaught exception",
    "/broken-image": "same-origin request failed: /img/broken.png (500)",
}


@pytest.fixture
def crawl_site():
    with CrawlSite() as site:
        yield site


@pytest.fixture
def fake():
    with FakeGitHub() as server:
        server.add_token(GOOD)
        server.add_repo(REPO, pulls=[PR])
        yield server


def _project(app, base_url, tests=()):
    with app.app_context():
        project = projects.create("Crawled shop", base_url)
        for name, steps in tests:
            testcases.review(testcases.create(project, {"name": name, "steps": steps}), "approve")
        _, token = tokens.create(project)
        return project.public_id, token


def _browser(app):
    with app.app_context():
        users.create_user("reviewer@example.com", PASSWORD, role="member")
    return Browser(app.test_client(), "reviewer@example.com")


def _wait_crawl(client, headers, url, timeout=120):
    deadline = time.monotonic() + timeout
    while (body := client.get(url, headers=headers).get_json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
    return body


@pytest.mark.browser
def test_a_crawl_run_checks_every_page_and_fails_exactly_the_broken_ones(
    app_factory, crawl_site, fake, junit_xsd
):
    app = app_factory(SENTRI_GITHUB_API_URL=fake.url, SENTRI_GITHUB_RETRY_SECONDS=30)
    project_id, token = _project(app, crawl_site.url)  # no tests at all: its checks are the pages
    status = _run(app, project_id, token, {"crawl": True, "generateTests": True, **_github_body()})
    assert (status["status"], status["verdict"]) == ("completed", "failed")
    assert (status["total"], status["passed"], status["failed"]) == (13, 10, 3)

    client = app.test_client()
    _, headers = _make_user(app, "member@example.com", "member")
    results = client.get(f"/api/v1/runs/{status['runId']}", headers=headers).get_json()["results"]
    assert {r["kind"] for r in results} == {"page"}
    failed = {r["testName"].removeprefix("Page "): r["error"] for r in results if r["status"] == "failed"}
    assert set(failed) == set(BROKEN)
    for path, reason in BROKEN.items():
        assert reason in failed[path], failed[path]
    assert all(r["vitals"] for r in results if r["status"] == "passed")  # budgets cover every page
    assert "/private" not in crawl_site.paths  # robots.txt said no

    document = etree.fromstring(client.get(f"/api/v1/runs/{status['runId']}/junit.xml", headers=headers).data)
    etree.XMLSchema(etree.parse(str(junit_xsd))).assertValid(document)
    cases = document.find("testsuite").findall("testcase")
    assert {c.get("classname") for c in cases} == {"Crawled shop.pages"}
    assert sorted(c.get("name") for c in cases if c.find("failure") is not None) == sorted(
        f"Page {path}" for path in BROKEN
    )

    (comment,) = _sentri_comments(fake, project_id)
    assert "Pages that broke" in comment["body"]
    for path in BROKEN:
        assert f"{crawl_site.url}{path} |" in comment["body"]
    assert [s["state"] for s in fake.statuses(REPO, SHA)] == ["pending", "failure"]

    crawl = client.get(f"/api/v1/projects/{project_id}/crawls", headers=headers).get_json()[0]
    assert (crawl["runId"], crawl["status"], crawl["pagesFound"], crawl["broken"]) == (
        status["runId"],
        "completed",
        13,
        3,
    )
    assert crawl["diff"]["first"] is True
    assert crawl[
        "drafts"
    ]  # generateTests: drafted for the review queue, and not run (every result is a page)
    with app.app_context():
        assert {t.review_status for t in db.session.query(TestCase)} == {"draft"}


@pytest.mark.browser
def test_drafts_from_a_crawl_pass_once_approved_and_a_second_crawl_drafts_nothing_new(app, crawl_site):
    project_id, token = _project(app, crawl_site.url)
    client = app.test_client()
    _, headers = _make_user(app, "admin@example.com", "admin")
    answer = client.post(f"/api/v1/projects/{project_id}/crawls", json={}, headers=headers)
    assert answer.status_code == 202, answer.get_json()
    first = _wait_crawl(client, headers, answer.get_json()["statusUrl"])
    assert first["status"] == "completed" and first["drafts"], first
    listed = client.get(f"/api/v1/projects/{project_id}/tests?status=draft", headers=headers).get_json()
    drafts = listed["items"] if isinstance(listed, dict) else listed
    assert {t["id"] for t in drafts} == set(first["drafts"])
    assert all(t["reviewStatus"] == "draft" and t["sourcePage"].startswith(crawl_site.url) for t in drafts)
    # Nothing generated runs before a person approves it.
    refused = client.post(
        f"/api/v1/projects/{project_id}/trigger", headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 400 and "approve" in refused.get_json()["error"]

    browser = _browser(app)
    review = browser.html(f"/projects/{project_id}/review")
    assert "Drafts from the crawl of" in review and crawl_site.url + "/contact" in review

    for test_id in first["drafts"]:
        assert (
            client.post(f"/api/v1/projects/{project_id}/tests/{test_id}/approve", headers=headers).status_code
            == 200
        )
    status = _run(app, project_id, token, {})
    assert (status["verdict"], status["passed"], status["total"]) == (
        "passed",
        len(first["drafts"]),
        len(first["drafts"]),
    ), status

    # The second crawl from the UI's Crawl button: nothing new to draft, nothing changed on the site.
    again = browser.post(
        f"/projects/{project_id}/crawls", data={"respectRobots": "on", "perspectives": "page"}
    )
    assert again.status_code == 302, again.get_data(as_text=True)
    second_id = again.headers["Location"].rsplit("/", 1)[1]
    second = _wait_crawl(client, headers, f"/api/v1/projects/{project_id}/crawls/{second_id}")
    assert second["status"] == "completed" and second["drafts"] == []
    assert (second["diff"]["added"], second["diff"]["removed"], second["diff"]["changed"]) == ([], [], [])
    page = browser.html(f"/projects/{project_id}/crawls/{second_id}")
    assert "Site map" in page and "/broken-js" in page and "0 added, 0 removed, 0 changed" in page


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"maxPages": 5}, "maxPages"),
        ({"crawl": "yes"}, "crawl"),
        ({"crawl": True, "crawlPages": "/about"}, "crawlPages"),
        ({"crawl": True, "crawlPages": ["javascript:alert(1)"]}, "crawlPages"),
        ({"crawl": True, "maxDepth": "deep"}, "maxDepth"),
        ({"crawl": True, "dialsConfig": {"perspectives": ["magic"]}}, "magic"),
        ({"crawl": True, "baseUrl": "http://elsewhere.example"}, "baseUrl"),
    ],
)
def test_bad_crawl_fields_are_refused_by_name_and_start_nothing(app, body, named):
    project_id, token = _project(app, "http://127.0.0.1:9")
    client = app.test_client()
    answer = client.post(
        f"/api/v1/projects/{project_id}/trigger", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 400 and named in answer.get_json()["error"], answer.get_json()
    with app.app_context():
        assert db.session.query(Run).count() == 0 and db.session.query(Crawl).count() == 0


def test_crawls_of_their_own_are_checked_scoped_one_at_a_time_and_answer_as_described(app):
    project_id, _token = _project(app, "http://127.0.0.1:9")
    api = Described(app.test_client())
    _, headers = _make_user(app, "member@example.com", "member")
    url, one = "/api/v1/projects/{projectId}/crawls", "/api/v1/projects/{projectId}/crawls/{crawlId}"
    p = {"projectId": project_id}
    api("POST", url, 401, json_body={}, **p)  # a stranger
    api("POST", url, 400, headers=headers, json_body={"maxPages": "many"}, **p)
    assert (
        "baseUrl"
        in api("POST", url, 400, headers=headers, json_body={"baseUrl": "http://10.0.0.1"}, **p).get_json()[
            "error"
        ]
    )
    api("POST", url, 400, headers=headers, json_body={"surprise": 1}, **p)
    api("POST", url, 400, headers=headers, json_body={"perspectives": ["magic"]}, **p)
    runtime(app).engine.stopping = True  # no worker takes it: it stays queued
    api("POST", url, 400, headers=headers, json_body={"dialsConfig": {"perspectives": ["magic"]}}, **p)
    first = api(
        "POST",
        url,
        202,
        headers=headers,
        json_body={
            "maxPages": 5,
            "crawlPages": ["/pricing"],
            "dialsConfig": {"testCount": 3, "parallelWorkers": 2},
        },
        **p,
    )
    crawl_id = first.get_json()["id"]
    assert (first.get_json()["options"]["testCount"], first.get_json()["options"]["concurrency"]) == (3, 2)
    second = api("POST", url, 409, headers=headers, json_body={}, **p)
    assert second.get_json()["crawlId"] == crawl_id
    assert api("GET", one, 200, headers=headers, crawlId=crawl_id, **p).get_json()["options"]["maxPages"] == 5
    assert len(api("GET", url, 200, headers=headers, **p).get_json()) == 1
    api("GET", one, 404, headers=headers, crawlId=crawl_id, projectId="PRJ-999")  # another project's id
    stopped = api("POST", one + "/stop", 200, headers=headers, crawlId=crawl_id, **p).get_json()
    assert stopped["status"] == "aborted"
    assert api("POST", url, 202, headers=headers, json_body={}, **p).get_json()["options"]["maxPages"] == 5


@pytest.mark.browser
@both_databases
def test_aborting_a_crawling_run_stops_the_crawl_and_frees_the_project(app, crawl_site):
    project_id, token = _project(app, crawl_site.url)
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    _, headers = _make_user(app, "member@example.com", "member")
    started = client.post(
        f"/api/v1/projects/{project_id}/trigger",
        json={"crawl": True, "maxPages": 500, "maxDepth": 10},
        headers=bearer,
    ).get_json()
    assert client.get(started["statusUrl"], headers=bearer).get_json()["phase"] in ("queued", "crawling")
    assert client.post(f"/api/v1/runs/{started['runId']}/abort", headers=headers).status_code == 200
    deadline = time.monotonic() + 60
    while (status := client.get(started["statusUrl"], headers=bearer).get_json())["status"] == "running":
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    assert status["status"] == "aborted"
    with app.app_context():
        crawl = db.session.query(Crawl).one()
        assert crawl.status == "aborted"
        assert db.session.query(Result).count() == 0  # no page check was queued for a stopped run
    again = client.post(
        f"/api/v1/projects/{project_id}/trigger", json={"crawl": True, "maxPages": 2}, headers=bearer
    )
    assert again.status_code == 202, again.get_json()


@pytest.mark.browser
@pytest.mark.e2e
def test_a_crawl_cut_short_by_a_killed_process_is_crawled_again_after_restart(crawl_site, tmp_path):
    """SIGKILL mid-crawl: the crawl is the database's. The restarted server finds its lease run out, queues
    it once more, crawls, and the run ends with its page checks; the project is not left locked."""
    with SentriProcess(tmp_path / "instance", max_browsers=1, env={"SENTRI_LEASE_SECONDS": "3"}) as sentri:
        try:
            project_id, token = sentri.new_project("Crashy", crawl_site.url)
            bearer = {"Authorization": f"Bearer {token}"}
            started = sentri.http.post(
                f"{sentri.url}/api/v1/projects/{project_id}/trigger",
                headers=bearer,
                json={"crawl": True, "crawlPages": ["/slow"], "maxPages": 4},
                timeout=30,
            ).json()
            deadline = time.monotonic() + 60
            while "/slow" not in crawl_site.paths:  # the crawl is inside its slow page
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert (
                sentri.http.get(started["statusUrl"], headers=bearer, timeout=15).json()["phase"]
                == "crawling"
            )
            sentri.kill()
            sentri.start()
            deadline = time.monotonic() + 120
            while (status := sentri.http.get(started["statusUrl"], headers=bearer, timeout=15).json())[
                "status"
            ] == "running":
                assert time.monotonic() < deadline, status
                time.sleep(0.2)
            assert (status["status"], status["total"], status["failed"]) == ("completed", 4, 0), status
            crawl = sentri.http.get(
                f"{sentri.url}/api/v1/projects/{project_id}/crawls", headers=sentri.user_headers(), timeout=15
            ).json()[0]
            assert (crawl["status"], crawl["pagesFound"]) == ("completed", 4)
            assert crawl_site.paths.count("/slow") >= 2  # crawled again, from the start
        finally:
            sentri.kill()


@pytest.mark.browser
def test_a_setup_test_logs_the_crawl_in_with_the_environments_secret_which_is_stored_nowhere(app, crawl_site):
    project_id, _token = _project(app, crawl_site.url)
    client = app.test_client()
    _, headers = _make_user(app, "admin@example.com", "admin")
    url = f"/api/v1/projects/{project_id}/crawls"
    body = {"crawlPages": ["/account"], "maxPages": 3, "maxDepth": 0, "generateTests": False}
    anonymous = _wait_crawl(
        client, headers, client.post(url, json=body, headers=headers).get_json()["statusUrl"]
    )
    assert "/account" not in {
        p["path"] for p in client.get(f"{url}/{anonymous['id']}", headers=headers).get_json()["pages"]
    }

    environment = client.post(
        f"/api/v1/projects/{project_id}/environments",
        headers=headers,
        json={"name": "staging", "secrets": {"PASSWORD": PASSWORD_SECRET}},
    ).get_json()["id"]
    login = [
        {"goto": "/login"},
        {"fill": {"label": "Password"}, "value": "{{PASSWORD}}"},
        {"click": {"role": "button", "name": "Sign in"}},
        {"expect_url": "/account"},
    ]
    with app.app_context():
        test = testcases.create(
            projects.get(project_id), {"name": "log in", "tags": ["setup"], "steps": login}
        )
        testcases.review(test, "approve")
    crawl = _wait_crawl(
        client,
        headers,
        client.post(url, json={**body, "environmentId": environment}, headers=headers).get_json()[
            "statusUrl"
        ],
    )
    detail = client.get(f"{url}/{crawl['id']}", headers=headers).get_json()
    account = next(p for p in detail["pages"] if p["path"] == "/account")
    assert (account["status"], account["heading"]) == (200, "Your account")  # behind the login, reached
    with app.app_context():
        stored = json.dumps([row.pages for row in db.session.query(Crawl)]) + json.dumps(detail)
    assert PASSWORD_SECRET not in stored


@pytest.mark.browser
def test_a_secret_a_page_shows_where_its_text_is_cut_is_stored_masked_not_half_shown(app):
    """The page cuts a link text to 300 characters and a heading to 500 before Python sees them (and masks the
    environment's secrets): a secret across the cut arrives as its first characters, which are masked too."""
    secret = "s3cr3t-Tok3n-XYZ"
    link, heading = "word " * 58 + secret, "h" * 495 + secret  # cut 10 and 5 characters into the secret
    with StaticSite({"/": f'<title>Echo</title><h1>{heading}</h1><a href="/next">{link}</a>'}) as site:
        project_id, _token = _project(app, site.url)
        client = app.test_client()
        _, headers = _make_user(app, "admin@example.com", "admin")
        environment = client.post(
            f"/api/v1/projects/{project_id}/environments",
            headers=headers,
            json={"name": "staging", "secrets": {"TOKEN": secret}},
        ).get_json()["id"]
        url = f"/api/v1/projects/{project_id}/crawls"
        body = {"maxPages": 1, "maxDepth": 0, "generateTests": False, "environmentId": environment}
        crawl = _wait_crawl(
            client, headers, client.post(url, json=body, headers=headers).get_json()["statusUrl"]
        )
        detail = client.get(f"{url}/{crawl['id']}", headers=headers).get_json()
    home = next(p for p in detail["pages"] if p["path"] == "/")
    assert home["heading"] == "h" * 495 + "••••", home["heading"][-20:]
    assert list(home["linkTexts"].values()) == ["word " * 58 + "••••"]
    with app.app_context():
        stored = json.dumps([row.pages for row in db.session.query(Crawl)]) + json.dumps(detail)
    assert secret[:5] not in stored


@pytest.mark.browser
def test_flask_crawl_waits_prints_the_pages_and_ends_with_the_crawls_id(app, runner, crawl_site):
    project_id, _token = _project(app, crawl_site.url)
    done = runner.invoke(args=["crawl", "--project", project_id, "--max-pages", "4", "--test-count", "2"])
    assert done.exit_code == 0, done.output
    lines = done.stdout.strip().splitlines()  # the command's own lines (logging goes to stderr)
    assert lines[-1].startswith("CRL-") and "4 pages" in lines[0] and "2 draft(s)" in lines[0], done.output
    assert any(line.strip() == "200 /" for line in lines)
    with app.app_context():
        assert db.session.query(TestCase).filter_by(review_status="draft").count() == 2
    refused = runner.invoke(args=["crawl", "--project", project_id, "--perspective", "magic"])
    assert refused.exit_code != 0 and "magic" in refused.output


@pytest.mark.browser
def test_a_crawl_past_its_time_limit_keeps_what_it_had_and_its_run_still_ends(app_factory, crawl_site):
    app = app_factory(SENTRI_CRAWL_MAX_SECONDS=0)  # a site of slow pages, taken to the extreme
    project_id, token = _project(app, crawl_site.url)
    status = _run(app, project_id, token, {"crawl": True})
    assert (status["status"], status["total"]) == ("completed", 0), status
    client = app.test_client()
    _, headers = _make_user(app, "member@example.com", "member")
    crawl_id = client.get(f"/api/v1/projects/{project_id}/crawls", headers=headers).get_json()[0]["id"]
    detail = client.get(f"/api/v1/projects/{project_id}/crawls/{crawl_id}", headers=headers).get_json()
    assert detail["status"] == "completed" and any("time limit" in note for note in detail["notes"])
    assert "time_limit" in {entry["reason"] for entry in detail["skipped"]}  # not "stopped": nobody asked


def test_a_progress_write_that_fails_costs_an_update_never_the_crawl(caplog):
    def full_disk(_counts):
        raise OSError("No space left on device")

    progress = Throttled(full_disk, every=0)
    progress({"found": 1, "visited": 1, "queued": 0})  # no exception reaches the crawler
    assert "could not write a crawl's progress" in caplog.text


def test_the_diff_names_pages_added_changed_and_removed_only_on_evidence_by_path():
    def page(origin, path, status=200, parent=None, links=(), requested=None, signature=None):
        return {
            "url": origin + path,
            "requestedUrl": origin + (requested or path),
            "path": path,
            "status": status,
            "title": path,
            "signature": signature or f"s{path}",
            "parent": origin + parent if parent else None,
            "links": [origin + link for link in links],
            "error": None,
        }

    production, preview = "https://a.example", "https://pr-7.a.example"
    before = [
        page(production, "/", links=["/old", "/cart", "/moved"]),
        page(production, "/old", parent="/"),
        page(production, "/cart", parent="/", links=["/faq"]),
        page(production, "/moved", parent="/"),
        page(production, "/faq", parent="/cart"),
    ]
    # A preview deploy of the same site: compared by path, not URL. The home page no longer links /old;
    # /moved redirects; /cart answers 500, so whether it still links /faq is not known.
    after = [
        page(preview, "/", links=["/cart", "/moved", "/new"]),
        page(preview, "/cart", status=500, signature="s4", parent="/"),
        page(preview, "/new", parent="/"),
        page(preview, "/moved-to", parent="/", requested="/moved"),
    ]
    assert diff(None, after) == {"first": True, "added": [], "removed": [], "changed": [], "notReached": []}
    assert diff(before, after) == {
        "first": False,
        "added": ["/moved-to", "/new"],
        "removed": ["/moved", "/old"],
        "changed": [{"path": "/cart", "what": ["status", "structure"]}],
        "notReached": ["/faq"],
    }
    # Skipped, a page is still linked: not reached. And without a whole skip list only a redirect is evidence.
    assert diff(before, after, [{"url": preview + "/old", "reason": "max_pages"}])["removed"] == ["/moved"]
    assert diff(before, after, all_listed=False)["notReached"] == ["/faq", "/old"]


def _page(path, parent=None, links=(), source="link"):
    """A page record as the crawler stores it, on http://127.0.0.1:9."""
    home = "http://127.0.0.1:9"
    return {
        "url": home + path,
        "requestedUrl": home + path,
        "path": path,
        "status": 200,
        "title": path,
        "heading": path,
        "signature": f"sig {path}",
        "links": [home + link for link in links],
        "parent": home + parent if parent else None,
        "source": source,
        "depth": 0,
        "error": None,
    }


def test_a_shallower_crawl_calls_nothing_removed_and_its_pages_say_why_each_url_was_not_visited(app):
    """Issue 28: a depth-0 crawl listed every page it did not visit as removed, and skipped URLs showed codes."""
    project_id, _token = _project(app, "http://127.0.0.1:9")
    deep = [
        _page("/", links=["/about", "/items"], source="start"),
        _page("/about", "/"),
        _page("/items", "/", links=["/items/1"]),
        _page("/items/1", "/items"),
    ]
    shallow = {
        "pages": [_page("/", links=["/about", "/items", "/private"], source="start")],
        "skipped": [
            {"url": "http://127.0.0.1:9/private", "reason": "robots"},
            {"url": "http://127.0.0.1:9/about", "reason": "depth"},
            {"url": "http://127.0.0.1:9/items", "reason": "depth"},
            {"url": "https://elsewhere.example/", "reason": "offsite"},
        ],
        "notes": [],
    }
    with app.app_context():
        project = projects.get(project_id)
        crawls.start(project, CrawlSettings(), base_url="http://127.0.0.1:9", triggered_by="USR-1")
        assert crawl_ends.finish(
            crawls.claim("node", lease_seconds=30), {"pages": deep, "skipped": [], "notes": []}
        )
        run = lifecycle.start(
            project, parse_options({"crawl": True, "maxDepth": 0}), source="user", triggered_by="USR-1"
        )
        assert crawl_ends.finish(crawls.claim("node", lease_seconds=30), shallow)
        crawl = db.session.query(Crawl).filter_by(run_id=run.id).one()
        crawl_id, run_id = crawl.public_id, run.public_id
        assert crawl.diff["removed"] == []
        assert crawl.diff["notReached"] == ["/about", "/items", "/items/1"]
    browser = _browser(app)
    page = browser.html(f"/projects/{project_id}/crawls/{crawl_id}")
    assert "0 added, 0 removed, 0 changed, 3 not reached." in page
    depth = (
        "— not visited: the crawl visits its start pages only (maxDepth 0), and this is a page they link to."
    )
    robots = "— not visited: the site&#39;s robots.txt asks crawlers not to visit it"
    for shown in (page, browser.html(f"/runs/{run_id}")):
        assert shown.count(depth) == 2 and robots in shown and "it is on another site" in shown
        assert "(depth)" not in shown and "(robots)" not in shown


def test_the_site_map_nests_pages_by_path_with_their_verdict_and_vitals_colour():
    pages = [
        {"url": "https://a.example/", "path": "/", "status": 200, "vitals": {"lcp": 1200, "cls": 0.3}},
        {"url": "https://a.example/items/1", "path": "/items/1", "status": 200, "vitals": {"lcp": 3000}},
        {
            "url": "https://a.example/items/2",
            "path": "/items/2",
            "status": 200,
            "vitals": {},
            "failedRequests": [{"url": "https://cdn.example/x.js", "status": None}],
        },  # another site's: not ours
        {"url": "https://a.example/gone", "path": "/gone", "status": 404, "vitals": None},
    ]
    tree = site_map(pages)
    assert [node["name"] for node in tree] == ["/", "gone", "items"]
    root, gone, items = tree
    assert (root["pages"][0]["verdict"], root["pages"][0]["vitals"]) == (
        "ok",
        "poor",
    )  # the worst metric: CLS
    assert (gone["pages"][0]["verdict"], gone["pages"][0]["vitals"]) == ("broken", None)
    assert [(c["path"], c["pages"][0]["vitals"], c["pages"][0]["verdict"]) for c in items["children"]] == [
        ("/items/1", "needs-improvement", "ok"),
        ("/items/2", None, "ok"),
    ]


@both_databases
def test_a_crawl_lost_twice_fails_with_its_run_and_one_queued_for_an_ended_run_is_closed(app):
    project_id, _token = _project(app, "http://127.0.0.1:9")
    with app.app_context():
        project = projects.get(project_id)
        options = parse_options({"crawl": True})
        run = lifecycle.start(project, options, source="user", triggered_by="USR-1")
        claim = crawls.claim("dead-node", lease_seconds=30)
        assert (claim.run_id, db.session.get(Run, run.id).status) == (run.id, "running")
        for expected_claims in (1, 2):
            with write():  # the process holding it died: its lease ran out
                db.session.execute(update(Crawl).values(lease_until=utcnow() - timedelta(seconds=1)))
            assert crawl_ends.recover() == [run.id]
            if expected_claims == 1:
                crawl = db.session.query(Crawl).one()
                assert (crawl.status, crawl.owner) == ("queued", None)  # queued again, once
                assert crawls.claim("dead-node-2", lease_seconds=30) is not None
        crawl, ended = db.session.query(Crawl).one(), db.session.get(Run, run.id, populate_existing=True)
        assert (crawl.status, ended.status) == ("failed", "failed")
        assert "could not finish" in ended.error
        # A crawl left queued for a run that ended some other way never runs and does not stay queued.
        second = lifecycle.start(project, parse_options({"crawl": True}), source="user", triggered_by="USR-1")
        with write():
            db.session.execute(update(Run).where(Run.id == second.id).values(status="failed"))
        crawl_ends.recover()
        assert db.session.query(Crawl).filter_by(run_id=second.id).one().status == "aborted"
        assert crawls.claim("any-node", lease_seconds=30) is None
