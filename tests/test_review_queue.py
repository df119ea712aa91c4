"""The review queue without a browser, on both databases: what a result leaves for review (baselines, heal
proposals, hints), what a worker gets back for its next job, and decisions over the API and the CLI."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from sentri import projects, testcases, users
from sentri.artifacts import ORPHAN_GRACE_SECONDS, prune
from sentri.database import write
from sentri.extensions import db
from sentri.models import TestCase, utcnow
from sentri.review import recording
from sentri.review.hints import MAX_HINT_CHARS
from sentri.review.models import Baseline, HealProposal
from sentri.stores import artifact_store
from sentri.visual import store
from tests.conftest import _make_user, both_databases
from tests.support.pages import Browser
from tests.support.runs import recorded_run

STEPS = [{"goto": "/"}, {"click": {"role": "button", "name": "Go"}}, {"expect_screenshot": "home"}]
SHA = {name: name * 64 for name in "abcdef"}


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def shot(sha, status, **extra):
    return {"step": 3, "name": "home", "viewport": "1280x720", "sha256": SHA[sha], "status": status, **extra}


@pytest.fixture
def seeded(app):
    with app.app_context():
        project = projects.create("Shop", "http://127.0.0.1:9")
        test = testcases.create(project, {"name": "home", "steps": STEPS})
        testcases.review(test, "approve")
        run = recorded_run(project, [{"status": "passed", "test_id": test.id}])
        return project.public_id, test.id, run.id


def record(run_id, test_id, *, status="passed", snapshots=None, healed=None, hints=None):
    with write():
        recording.record(run_id, test_id, status, snapshots, healed, hints)


@both_databases
def test_a_screenshot_waits_once_per_key_and_a_decision_changes_what_the_next_job_compares(app, seeded):
    project_id, test_id, run_id = seeded
    client = app.test_client()
    with app.app_context():
        record(run_id, test_id, snapshots=[shot("a", "new")])
        record(run_id, test_id, snapshots=[shot("a", "new")])  # the same picture again: nothing new
        record(run_id, test_id, snapshots=[shot("b", "new")])  # a newer picture replaces the pending one
        (pending,) = db.session.query(Baseline).all()
        assert (pending.status, pending.sha256) == ("pending", SHA["b"])
        test = db.session.get(TestCase, test_id)
        assert recording.for_job(test, "chromium", "desktop", True)["baselines"] == {}
    _, headers = _make_user(app, "member@example.com", "member")
    assert (
        client.get(f"/api/v1/projects/{project_id}/review", headers=headers).get_json()["counts"]["baselines"]
        == 1
    )
    assert (
        client.post(
            f"/api/v1/projects/{project_id}/review/BSL-{pending.id}/approve", headers=headers
        ).status_code
        == 200
    )
    with app.app_context():
        test = db.session.get(TestCase, test_id)
        job = recording.for_job(test, "chromium", "desktop", True)
        assert job["baselines"] == {"home@1280x720": {"id": pending.id, "sha256": SHA["b"]}}
        assert recording.for_job(test, "firefox", "desktop", True)["baselines"] == {}  # per browser
        # A change waits with what it was compared with; rejected, the worker knows the picture.
        record(
            run_id,
            test_id,
            status="failed",
            snapshots=[shot("c", "changed", baselineId=pending.id, diffSha256=SHA["d"], ratio=0.25)],
        )
        changed = db.session.query(Baseline).filter_by(status="pending").one()
        assert (changed.compared_with_id, changed.diff_sha256, changed.diff_ratio) == (
            pending.id,
            SHA["d"],
            0.25,
        )
    body = client.get(f"/api/v1/projects/{project_id}/baselines/BSL-{changed.id}", headers=headers).get_json()
    assert (body["change"], body["expectedId"], body["diffRatio"]) == ("changed", f"BSL-{pending.id}", 0.25)
    assert body["diffUrl"].endswith(f"/visual/{SHA['d']}.png")
    assert (
        client.post(
            f"/api/v1/projects/{project_id}/review/BSL-{changed.id}/reject", headers=headers
        ).status_code
        == 200
    )
    with app.app_context():
        job = recording.for_job(db.session.get(TestCase, test_id), "chromium", "desktop", True)
        assert job["rejected_shots"] == {"home@1280x720": [SHA["c"]]}
        assert job["baselines"]["home@1280x720"]["sha256"] == SHA["b"]  # the old one stays


@both_databases
def test_heals_become_one_proposal_per_step_and_accepting_changes_the_step(app, seeded, runner):
    project_id, test_id, run_id = seeded
    new = {"testid": "go"}
    with app.app_context():
        test = db.session.get(TestCase, test_id)
        version = recording.steps_hash(test.steps)
        record(
            run_id, test_id, hints={"steps": "other", "hints": {2: {"testid": "stale"}}}
        )  # an older version
        test = db.session.get(TestCase, test_id)
        assert recording.for_job(test, "chromium", "desktop", True)["remember"] is True  # none yet
        record(run_id, test_id, hints={"steps": version, "hints": {2: {"testid": "go", "text": "Go"}}})
        job = recording.for_job(db.session.get(TestCase, test_id), "chromium", "desktop", True)
        assert job["hints"] == {2: {"testid": "go", "text": "Go"}}
        assert job["remember"] is False  # fresh: the next runs act without describing each element
        with write():  # a day later they are described again
            test.locator_hints = {**test.locator_hints, "at": "2026-01-01T00:00:00Z"}
        assert recording.for_job(test, "chromium", "desktop", True)["remember"] is True
        assert "hints" not in recording.for_job(
            db.session.get(TestCase, test_id), "chromium", "desktop", False
        )
        for _ in range(2):
            record(
                run_id, test_id, healed=[{"step": 2, "from": {"role": "button", "name": "secret"}, "to": new}]
            )
        proposal = db.session.query(HealProposal).one()
        # Counted twice, proposed once; the old target is the step as written, never what the worker sent.
        assert (proposal.seen, proposal.old_target, proposal.new_target) == (
            2,
            {"role": "button", "name": "Go"},
            new,
        )
        assert db.session.get(TestCase, test_id).heal_count == 2

    listed = runner.invoke(args=["review", "list", "--project", project_id])
    assert (
        f'HEA-{proposal.id}\theal\tTST-{test_id} step 2: role button "Go" -> testid "go" (seen 2x)'
        in listed.output
    )
    unknown = runner.invoke(
        args=["review", "approve", "--project", project_id, f"HEA-{proposal.id}", "BSL-999"]
    )
    assert unknown.exit_code != 0 and "BSL-999 not found" in unknown.output
    with app.app_context():
        assert db.session.get(HealProposal, proposal.id).status == "pending"  # all or nothing
    accepted = runner.invoke(args=["review", "approve", "--project", project_id, f"HEA-{proposal.id}"])
    assert accepted.exit_code == 0, accepted.output
    with app.app_context():
        test = db.session.get(TestCase, test_id)
        assert test.steps[1]["target"] == new and test.review_status == "approved"
        # The step changed: a proposal made for the old step no longer applies.
        record(run_id, test_id, healed=[{"step": 2, "to": {"css": "button"}}])
        with write():
            test.steps = [STEPS[0], {"action": "click", "target": {"css": "a"}}, test.steps[2]]
        later = db.session.query(HealProposal).filter_by(status="pending").one()
    stale = runner.invoke(args=["review", "approve", "--project", project_id, f"HEA-{later.id}"])
    assert stale.exit_code != 0 and "no longer applies" in stale.output


ENTRY = {"css": "#new-todo"}
SHARED = [
    {"goto": "/"},
    {"fill": ENTRY, "value": "milk"},
    {"press": ENTRY, "key": "Enter"},
    {"expect_visible": ENTRY},
    {"click": {"css": "#clear"}},
    {"expect_text": {"css": "#count"}, "text": "left"},
]


@both_databases
def test_a_broken_target_is_one_proposal_for_its_steps_withdrawn_when_the_test_then_fails(
    app, member_headers
):
    """Before, each healed step was a proposal of its own (three here), one of a failed run stayed pending,
    and a worker's count or asserted text was stored as it came."""
    with app.app_context():
        project = projects.create("Todos", "http://127.0.0.1:9")
        test = testcases.create(project, {"name": "add", "steps": SHARED})
        testcases.review(test, "approve")
        run = recorded_run(project, [{"status": "passed", "test_id": test.id}])
        test_id, project_id, new = test.id, project.public_id, {"css": "input.new-todo"}
        record(
            run.id,
            test.id,
            healed=[{"step": step, "to": new} for step in (2, 3, 4)]
            + [
                {"step": 5, "to": {"role": "button", "name": "Clear completed (1)"}},  # a count: not stored
                {"step": 6, "to": {"text": "3 items left"}},
            ],
        )  # a count and the asserted text: not stored
        (proposal,) = db.session.query(HealProposal).all()
        assert (proposal.step, proposal.old_target, proposal.seen) == (2, ENTRY, 1)
        job = recording.for_job(db.session.get(TestCase, test_id), "chromium", "desktop", True)
        assert job["heal_pending"] == {2: new, 3: new, 4: new}  # tried first by the next run's three steps

        record(run.id, test_id, status="failed", healed=[{"step": 2, "to": new}])  # a later run fails
        assert db.session.get(HealProposal, proposal.id).status == "withdrawn"
        assert db.session.get(HealProposal, proposal.id).reviewed_by == f"RUN-{run.id}"
        assert db.session.query(HealProposal).count() == 1  # and makes none of its own
        job = recording.for_job(db.session.get(TestCase, test_id), "chromium", "desktop", True)
        assert job["heal_pending"] == {}

        record(run.id, test_id, healed=[{"step": 2, "to": new}, {"step": 4, "to": new, "reused": True}])
        again = db.session.query(HealProposal).filter_by(status="pending").one()
    client = app.test_client()
    listed = client.get(f"/api/v1/projects/{project_id}/review", headers=member_headers).get_json()["heals"]
    assert [(h["id"], h["step"], h["steps"]) for h in listed] == [(f"HEA-{again.id}", 2, [2, 3, 4])]
    accepted = client.post(
        f"/api/v1/projects/{project_id}/review/HEA-{again.id}/accept", headers=member_headers
    )
    assert accepted.status_code == 200, accepted.get_json()
    with app.app_context():
        steps = db.session.get(TestCase, test_id).steps
    assert [step.get("target") for step in steps[1:4]] == [new] * 3


def test_stored_hints_and_heals_hold_no_page_text_over_the_limit_whatever_a_worker_sends(app, seeded):
    _, test_id, run_id = seeded
    over = "t" * (MAX_HINT_CHARS + 1)
    with app.app_context():
        version = recording.steps_hash(db.session.get(TestCase, test_id).steps)
        with write():  # hints stored before the limit, for a step this run does not describe again
            db.session.get(TestCase, test_id).locator_hints = {
                "steps": version,
                "at": "2026-01-01T00:00:00Z",
                "hints": {"3": {"testid": "x" * 1_000_000}},
            }
        described = {"testid": over, "css": "button.go", "text": "Go", "name": 7, "script": "y" * 1_000_000}
        record(
            run_id,
            test_id,
            hints={"steps": version, "hints": {2: described}},
            healed=[{"step": 2, "to": {"testid": over}}],
        )
        test = db.session.get(TestCase, test_id)
        assert test.locator_hints["hints"] == {"2": {"css": "button.go", "text": "Go"}}
        assert db.session.query(HealProposal).count() == 0  # a target no exact locator would find
        assert recording.for_job(test, "chromium", "desktop", True)["hints"] == {
            2: {"css": "button.go", "text": "Go"}
        }


def test_a_bulk_decision_names_every_problem_and_refuses_another_projects_items(app, seeded, member_headers):
    project_id, test_id, run_id = seeded
    client = app.test_client()
    with app.app_context():
        other = projects.create("Other", "http://127.0.0.1:9").public_id
        record(run_id, test_id, snapshots=[shot("a", "new")])
        baseline = f"BSL-{db.session.query(Baseline).one().id}"
    bad = client.post(
        f"/api/v1/projects/{project_id}/review",
        headers=member_headers,
        json={"approve": [baseline, 5], "reject": [baseline], "drop": []},
    )
    assert bad.status_code == 400
    assert (
        "approve: must be a list of ids" in bad.get_json()["error"]
        and "unknown field(s) drop" in bad.get_json()["error"]
    )
    assert (
        client.post(f"/api/v1/projects/{project_id}/review", headers=member_headers, json={}).get_json()[
            "error"
        ]
        == "name at least one id in approve or reject"
    )
    assert (
        client.post(f"/api/v1/projects/{other}/review/{baseline}/approve", headers=member_headers).status_code
        == 404
    )
    assert (
        client.post(f"/api/v1/projects/{project_id}/review/RUN-1/approve", headers=member_headers).status_code
        == 404
    )
    assert (
        client.get(f"/api/v1/projects/{other}/visual/{SHA['a']}.png", headers=member_headers).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/v1/projects/{project_id}/visual/..%2f..%2fsentri.db.png", headers=member_headers
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/projects/{project_id}/review").status_code == 401


def test_the_review_page_shows_pictures_and_steps_and_decides_ticked_items_in_bulk(app, seeded):
    project_id, test_id, run_id = seeded
    with app.app_context():
        users.create_user("member@example.com", "correct horse battery", role="member")
        record(run_id, test_id, snapshots=[shot("a", "new")])
        record(
            run_id,
            test_id,
            status="failed",
            snapshots=[shot("b", "changed", baselineId=None, diffSha256=SHA["c"], ratio=0.031)],
        )
        record(run_id, test_id, healed=[{"step": 2, "to": {"testid": "go"}}])
        baseline = db.session.query(Baseline).one()
        heal = db.session.query(HealProposal).one()
    page = Browser(app.test_client(), "member@example.com")
    html = page.html(f"/projects/{project_id}/review")
    assert 'class="tab-count"' in html and ">2</span>" in html  # one screenshot and one heal wait
    assert f"/api/v1/projects/{project_id}/visual/{SHA['b']}.png" in html and "data-visual-slider" not in html
    assert "3.10% of pixels differ" in html
    assert (
        "<del><code>role button &#34;Go&#34;</code></del>" in html
        and "<ins><code>testid &#34;go&#34;</code></ins>" in html
    )
    response = page.post(
        f"/projects/{project_id}/review",
        {"decision": "approve", "items": [f"BSL-{baseline.id}", f"HEA-{heal.id}"]},
    )
    assert response.status_code == 302
    html = page.html(f"/projects/{project_id}/review")
    assert "Nothing to review" in html and 'class="tab-count"' not in html
    with app.app_context():
        assert db.session.get(Baseline, baseline.id).status == "approved"
        assert db.session.get(TestCase, test_id).steps[1]["target"] == {"testid": "go"}


def test_the_visual_store_keeps_what_a_baseline_or_a_retained_result_shows_and_prunes_the_rest(
    app, seeded, monkeypatch
):
    project_id, test_id, _ = seeded
    root = app.instance_path
    pictures_store = artifact_store(app)
    names = ("approved", "rejected", "superseded", "shown", "expired", "orphan", "fresh")
    pngs = {
        name: _png(Image.new("L", (1, height))) for height, name in enumerate(names, start=1)
    }  # all apart
    pictures = {name: store.digest(png) for name, png in pngs.items()}
    with app.app_context():
        project = projects.get(project_id)
        with write():
            for status in ("approved", "rejected", "superseded"):
                db.session.add(
                    Baseline(
                        project_id=project.id,
                        test_id=test_id,
                        name=status,
                        browser="chromium",
                        device="desktop",
                        viewport="1280x720",
                        step=3,
                        status=status,
                        sha256=pictures[status],
                    )
                )
        recorded_run(
            project,
            [
                {
                    "status": "failed",
                    "test_id": test_id,
                    "snapshots": [
                        {
                            "name": "home",
                            "status": "changed",
                            "sha256": pictures["shown"],
                            "expectedSha256": pictures["superseded"],
                        }
                    ],
                }
            ],
        )
        expired = recorded_run(
            project,
            [
                {
                    "status": "failed",
                    "test_id": test_id,
                    "snapshots": [{"name": "home", "status": "changed", "sha256": pictures["expired"]}],
                }
            ],
        )
        with write():
            expired.finished_at = utcnow() - timedelta(days=app.config["SENTRI_ARTIFACT_RETENTION_DAYS"] + 1)
    # The pictures are written after the runs ended (whose end may prune in the background).
    old = time.time() - 2 * ORPHAN_GRACE_SECONDS
    for name in pictures:
        path = os.path.join(root, store.key_of(store.put(pictures_store, pngs[name])))
        if name != "fresh":  # a picture a worker just wrote, its result not stored yet
            os.utime(path, (old, old))
    partial = Path(root) / "visual" / "ab" / "left-by-a-crash.part"
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(b"half a png")
    os.utime(partial, (old, old))
    assert prune(app) == 3  # the expired run's picture, the orphan and the partial write
    left = {name for name, sha in pictures.items() if pictures_store.exists(store.key_of(sha))}
    assert left == {"approved", "rejected", "superseded", "shown", "fresh"} and not partial.exists()


def test_a_proposal_whose_target_the_test_format_refuses_is_not_applied(app, seeded, member_headers):
    project_id, test_id, run_id = seeded
    with app.app_context():
        record(run_id, test_id, healed=[{"step": 2, "to": {"role": "not-a-role", "name": "Go"}}])
        proposal = db.session.query(HealProposal).one()
    refused = app.test_client().post(
        f"/api/v1/projects/{project_id}/review/HEA-{proposal.id}/accept", headers=member_headers
    )
    assert refused.status_code == 409 and "is not an ARIA role" in refused.get_json()["error"]
    with app.app_context():
        assert db.session.get(TestCase, test_id).steps[1]["target"] == {"role": "button", "name": "Go"}
