"""Visual snapshots and healing locators on real runs: real Chromium against a fixture site whose pages
change between runs, the review queue's decisions over the API, and the pull-request comment.
(SQLite here; what the database does with them is tested on both databases in test_review_queue.py.)"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from sentri import projects, testcases, tokens
from sentri.extensions import db
from sentri.models import TestCase
from sentri.review.hints import MAX_HINT_CHARS
from sentri.review.models import HealProposal
from tests import test_github
from tests.conftest import _make_user
from tests.support.pages import Browser
from tests.support.sites import StaticSite
from tests.test_github import _github_body, _run, _sentri_comments

BOX = (
    "<!doctype html><html><head><title>Shop</title><style>body{{margin:0;font:16px sans-serif}}"
    "#box{{position:absolute;left:{x}px;top:40px;width:120px;height:80px;background:{colour}}}"
    "#clock{{position:absolute;left:400px;top:40px;width:200px;height:30px}}</style></head>"
    "<body><h1 style='margin:0;padding:8px'>Shop</h1><div id=box></div><div id=clock>{clock}</div></body></html>"
)


def shop(colour="#1e6bd6", x=40, clock="10:00:00"):
    return BOX.format(colour=colour, x=x, clock=clock)


BUTTONS = """<!doctype html><html><head><title>Sign in</title></head><body>
<h1>{heading}</h1>
<button class="primary" data-testid="sign-in" onclick="document.getElementById('out').textContent='in'">{sign}</button>
<button data-testid="subscribe" onclick="document.getElementById('out').textContent='sub'">{sub}</button>
<button data-testid="help" onclick="document.getElementById('out').textContent='help'">{help}</button>
<p id="out"></p></body></html>"""


def buttons(sign="Sign in", sub="Subscribe", help_="Help", heading="Welcome"):
    return BUTTONS.format(sign=sign, sub=sub, help=help_, heading=heading)


fake, gh_app = test_github.fake, test_github.gh_app  # a fake GitHub, and an app that posts to it


def _project(app, base_url, tests: dict[str, list]) -> tuple[str, str, dict[str, str]]:
    with app.app_context():
        project = projects.create("Shop", base_url)
        ids = {}
        for name, steps in tests.items():
            test = testcases.create(project, {"name": name, "steps": steps})
            testcases.review(test, "approve")
            ids[name] = test.public_id
        _, token = tokens.create(project)
        return project.public_id, token, ids


def _results(client, headers, run_id):
    return {
        r["testName"]: r for r in client.get(f"/api/v1/runs/{run_id}", headers=headers).get_json()["results"]
    }


def _png(client, headers, url):
    response = client.get(url, headers=headers)
    assert response.status_code == 200 and response.mimetype == "image/png"
    return Image.open(io.BytesIO(response.data)).convert("RGB")


@pytest.mark.browser
def test_a_screenshot_is_recorded_reviewed_compared_and_its_change_reported(gh_app, fake):
    site = StaticSite({"/": shop()})
    with site:
        client = gh_app.test_client()
        steps = [{"goto": "/"}, {"expect_screenshot": "home", "mask": [{"css": "#clock"}]}]
        project_id, token, _ = _project(gh_app, site.url, {"home": steps})
        _, headers = _make_user(gh_app, "member@example.com", "member")

        # First run: nothing approved yet, so the step passes and its picture waits for review.
        first = _run(gh_app, project_id, token, {})
        assert (first["status"], first["passed"]) == ("completed", 1)
        shot = _results(client, headers, first["runId"])["home"]["snapshots"][0]
        assert (shot["status"], shot["name"], shot["viewport"]) == ("new", "home", "1280x720")
        queue = client.get(f"/api/v1/projects/{project_id}/review", headers=headers).get_json()
        assert queue["counts"] == {"tests": 0, "baselines": 1, "heals": 0, "total": 1}
        (pending,) = queue["baselines"]
        assert (pending["change"], pending["id"]) == ("new", shot["candidateId"])
        assert _png(client, headers, pending["imageUrl"]).size == (1280, 720)
        approved = client.post(
            f"/api/v1/projects/{project_id}/review/{pending['id']}/approve", headers=headers
        )
        assert approved.status_code == 200 and approved.get_json()["counts"]["total"] == 0
        again = client.post(f"/api/v1/projects/{project_id}/review/{pending['id']}/approve", headers=headers)
        assert again.status_code == 409 and "approved, not waiting" in again.get_json()["error"]

        # Unchanged, ten runs in a row: the same picture (a masked clock that ticks changes nothing).
        for second in range(10):
            site.pages["/"] = shop(clock=f"10:00:0{second}")
            status = _run(gh_app, project_id, token, {})
            assert (status["passed"], status["failed"]) == (1, 0), status
            assert _results(client, headers, status["runId"])["home"]["snapshots"][0]["status"] == "matched"

        # The box turns red: the step fails, and the diff's red pixels are where the box is.
        site.pages["/"] = shop(colour="#d61e1e")
        changed = _run(gh_app, project_id, token, {})
        assert (changed["status"], changed["failed"], changed["verdict"]) == ("completed", 1, "failed")
        result = _results(client, headers, changed["runId"])["home"]
        assert result["failingStep"] == 2 and 'screenshot "home" changed' in result["error"]
        shot = result["snapshots"][0]
        assert shot["status"] == "changed" and shot["box"] == [40, 40, 160, 120]
        diff = _png(client, headers, shot["diffUrl"])
        red = [
            (x, y)
            for x in range(0, 1280, 4)
            for y in range(0, 720, 4)
            if diff.getpixel((x, y)) == (255, 0, 0)
        ]
        assert red and all(40 <= x < 160 and 40 <= y < 120 for x, y in red)
        assert _png(client, headers, shot["expectedUrl"]).getpixel((100, 80)) == (0x1E, 0x6B, 0xD6)
        assert _png(client, headers, shot["actualUrl"]).getpixel((100, 80)) == (0xD6, 0x1E, 0x1E)
        html = Browser(gh_app.test_client(), "member@example.com").html(f"/runs/{changed['runId']}")
        assert "data-visual-slider" in html and shot["diffUrl"] in html and "step 2: changed" in html
        junit = client.get(f"/api/v1/runs/{changed['runId']}/junit.xml", headers=headers).data.decode()
        assert (
            'Visual diff "home"' in junit
            and f"[[ATTACHMENT|http://localhost/api/v1/runs/{changed['runId']}/visual/" in junit
        )

        # Rejected: the old baseline stays, and the same red picture fails as rejected, listed on the PR.
        assert (
            client.post(
                f"/api/v1/projects/{project_id}/review/{shot['candidateId']}/reject", headers=headers
            ).status_code
            == 200
        )
        rejected = _run(gh_app, project_id, token, _github_body())
        assert (rejected["failed"], rejected["verdict"]) == (1, "failed")
        assert _results(client, headers, rejected["runId"])["home"]["snapshots"][0]["status"] == "rejected"
        (comment,) = _sentri_comments(fake, project_id)
        assert "Visual diffs:" in comment["body"] and "| home | home (1280x720) |" in comment["body"]
        assert "| rejected |" in comment["body"]

        # Moved instead: a new candidate; approved (in bulk), it is the baseline the next run matches.
        site.pages["/"] = shop(x=200)
        moved = _run(gh_app, project_id, token, {})
        candidate = _results(client, headers, moved["runId"])["home"]["snapshots"][0]["candidateId"]
        bulk = client.post(
            f"/api/v1/projects/{project_id}/review", json={"approve": [candidate]}, headers=headers
        )
        assert bulk.get_json()["approved"] == [candidate]
        after = _run(gh_app, project_id, token, {})
        assert (after["passed"], after["failed"]) == (1, 0)


@pytest.mark.browser
def test_a_renamed_button_heals_through_review_and_strict_mode_and_assertions_never_heal(gh_app, fake):
    site = StaticSite({"/": buttons()})
    two = {"dialsConfig": {"parallelWorkers": 2}}  # four tests, half of them waiting out a timeout
    # Long enough for a present button to be clicked on a loaded machine (500 ms was not, in CI), short
    # enough that the runs where three steps wait it out stay quick.
    timeout = 2_000
    with site:
        client = gh_app.test_client()

        def clicking(name, out):
            return [
                {"goto": "/"},
                {"click": {"role": "button", "name": name}, "timeout": timeout},
                {"expect_text": {"css": "#out"}, "text": out},
            ]

        project_id, token, ids = _project(
            gh_app,
            site.url,
            {
                "rejected heal": clicking("Sign in", "in"),
                "accepted heal": clicking("Subscribe", "sub"),
                "strict": clicking("Help", "help"),
                "heading": [
                    {"goto": "/"},
                    {"expect_text": {"role": "heading"}, "text": "Welcome", "timeout": timeout},
                ],
            },
        )
        _, headers = _make_user(gh_app, "member@example.com", "member")
        _admin_id, admin = _make_user(gh_app, "admin@example.com", "admin")
        first = _run(gh_app, project_id, token, two)
        assert (first["passed"], first["failed"]) == (4, 0)

        # Every text changes: targets heal by the test id they recorded; the heading's text never heals.
        site.pages["/"] = buttons(sign="Log in", sub="Join", help_="Support", heading="Hello")
        healed = _run(gh_app, project_id, token, _github_body(**two))
        assert (healed["passed"], healed["failed"]) == (3, 1)
        results = _results(client, headers, healed["runId"])
        for name in ("rejected heal", "accepted heal", "strict"):
            (heal,) = results[name]["healed"]
            assert heal["step"] == 2 and heal["to"] == {"testid": heal["to"]["testid"]} and heal["proposalId"]
        assert results["heading"]["status"] == "failed" and results["heading"]["healed"] == []
        assert (
            'unexpected value "Hello"' in results["heading"]["error"]
            or "Hello" in results["heading"]["error"]
        )
        (comment,) = _sentri_comments(fake, project_id)
        assert "Healed steps" in comment["body"]
        assert '| rejected heal | 2 | `role button "Sign in"` | `testid "sign-in"` |' in comment["body"]
        with gh_app.app_context():
            assert {t.name: t.heal_count for t in db.session.query(TestCase)}["strict"] == 1

        queue = client.get(f"/api/v1/projects/{project_id}/review", headers=headers).get_json()
        proposals = {h["testId"]: h for h in queue["heals"]}
        assert proposals[ids["accepted heal"]]["from"] == {"role": "button", "name": "Subscribe"}
        assert proposals[ids["accepted heal"]]["to"] == {"testid": "subscribe"}
        decided = client.post(
            f"/api/v1/projects/{project_id}/review",
            headers=headers,
            json={
                "approve": [proposals[ids["accepted heal"]]["id"]],
                "reject": [proposals[ids["rejected heal"]]["id"]],
            },
        )
        assert decided.status_code == 200, decided.get_json()
        accepted = client.get(
            f"/api/v1/projects/{project_id}/tests/{ids['accepted heal']}", headers=headers
        ).get_json()
        assert accepted["reviewStatus"] == "approved" and accepted["steps"][1]["target"] == {
            "testid": "subscribe"
        }

        # Strict: a member may not switch it, an admin may; the third test fails instead of healing.
        assert (
            client.patch(
                f"/api/v1/projects/{project_id}", json={"healLocators": False}, headers=headers
            ).status_code
            == 403
        )
        assert (
            client.patch(
                f"/api/v1/projects/{project_id}", json={"healLocators": False}, headers=admin
            ).get_json()["healLocators"]
            is False
        )
        strict = _run(gh_app, project_id, token, two)
        results = _results(client, headers, strict["runId"])
        assert {name: r["status"] for name, r in results.items()} == {
            "rejected heal": "failed",
            "accepted heal": "passed",
            "strict": "failed",
            "heading": "failed",
        }
        assert all(not r["healed"] for r in results.values())

        # Healing on again: the rejected heal stays refused; the strict test heals again.
        client.patch(f"/api/v1/projects/{project_id}", json={"healLocators": True}, headers=admin)
        again = _run(gh_app, project_id, token, two)
        results = _results(client, headers, again["runId"])
        assert results["rejected heal"]["status"] == "failed" and results["strict"]["status"] == "passed"
        assert results["strict"]["healed"]


LONG_ID = """<!doctype html><html><head><title>Sign in</title></head><body>
<button class="primary" data-testid="{testid}" onclick="document.getElementById('out').textContent='in'">{sign}</button>
<p id="out"></p></body></html>"""


def _strings(value):
    """Every string of a JSON value, its keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.mark.browser
def test_a_megabyte_test_id_reaches_neither_the_stored_hints_nor_the_heal_proposal(gh_app, fake):
    """The page's 1 MB data-testid is left out of the hints: the button heals by its CSS path instead,
    where before the fix the hints held the test id and the proposal was a 1 MB exact test id."""
    testid = "t" * 1_000_000
    site = StaticSite({"/": LONG_ID.format(testid=testid, sign="Sign in")})
    with site:
        client = gh_app.test_client()
        steps = [
            {"goto": "/"},
            {"click": {"role": "button", "name": "Sign in"}, "timeout": 2_000},
            {"expect_text": {"css": "#out"}, "text": "in"},
        ]
        project_id, token, _ = _project(gh_app, site.url, {"sign in": steps})
        _, headers = _make_user(gh_app, "member@example.com", "member")
        assert _run(gh_app, project_id, token, {})["passed"] == 1  # describes the button

        site.pages["/"] = LONG_ID.format(testid=testid, sign="Log in")
        healed = _run(gh_app, project_id, token, {})
        assert (healed["passed"], healed["failed"]) == (1, 0)
        result = _results(client, headers, healed["runId"])["sign in"]
        queue = client.get(f"/api/v1/projects/{project_id}/review", headers=headers).get_json()
        with gh_app.app_context():
            hints = db.session.query(TestCase).one().locator_hints["hints"]
            (proposal,) = db.session.query(HealProposal).all()
            stored = [hints, proposal.new_target, proposal.old_target]
    assert proposal.new_target == {"css": "button.primary"} and result["healed"][0]["to"] == {
        "css": "button.primary"
    }
    assert hints["2"] == {"role": "button", "name": "Sign in", "text": "Sign in", "css": "button.primary"}
    assert max(map(len, _strings([stored, result["healed"], queue["heals"]]))) <= MAX_HINT_CHARS
